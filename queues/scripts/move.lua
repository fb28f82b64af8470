-- ARGV: 2 call id, 3 new packed entry (waiting form). Moves a waiting call to a new place
-- (another queue, priority or deadline) in one step. Returns 1, or 0 when it is not waiting.
local call_id, packed = ARGV[2], ARGV[3]
local target = placed(packed)
local current = redis.call('HGET', ENTRIES, call_id)
if not current then
  return 0
end
local entry = decode(current)
if entry.agent then
  return 0
end
leave_queue(call_id, entry)
redis.call('HSET', ENTRIES, call_id, packed)
enter_queue(call_id, target)
return 1
