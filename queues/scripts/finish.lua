-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 call id. The call leaves
-- the system: its queue entry or lease and all its data go. Returns the packed entry it
-- had, or nil when it had none.
local call_id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], call_id)
if not packed then
  return false
end
local queue, priority, _, member, _, holder = decode(packed)
if holder then
  end_lease(call_id, holder)
else
  leave_queue(queue_at(queue), call_id, priority, member)
end
redis.call('HDEL', KEYS[1], call_id)
return packed
