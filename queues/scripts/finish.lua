-- ARGV: 2 call id. The call leaves the system: its queue entry or lease and all its data
-- go. Returns the packed entry it had, or nil when it had none.
local call_id = ARGV[2]
local packed = redis.call('HGET', ENTRIES, call_id)
if not packed then
  return false
end
local entry = decode(packed)
if entry.agent then
  end_lease(call_id, entry)
else
  leave_queue(call_id, entry)
end
redis.call('HDEL', ENTRIES, call_id)
return packed
