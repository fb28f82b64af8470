-- ARGV: 2 call id, 3 agent id. Gives a held call back to its queue, in its own place.
-- Returns the packed entry (waiting form), or nil when this agent does not hold it.
local call_id, agent = ARGV[2], ARGV[3]
local packed = redis.call('HGET', ENTRIES, call_id)
if not held_by(packed, agent) then
  return false
end
local entry = decode(packed)
end_lease(call_id, entry)
packed = encode(entry)
redis.call('HSET', ENTRIES, call_id, packed)
enter_queue(call_id, entry)
return packed
