-- ARGV: 2 call id. Takes a waiting call out of its queue; returns its packed entry, or
-- nil when it is not waiting (unknown, already removed, or held: finish() ends those).
local call_id = ARGV[2]
local packed = redis.call('HGET', ENTRIES, call_id)
if not packed then
  return false
end
local entry = decode(packed)
if entry.agent then
  return false
end
leave_queue(call_id, entry)
redis.call('HDEL', ENTRIES, call_id)
return packed
