-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 call id. Takes a waiting
-- call out of its queue; returns its packed entry, or nil when it is not waiting (unknown,
-- already removed, or held: finish() ends those).
local call_id = ARGV[1]
local packed = redis.call('HGET', KEYS[1], call_id)
if not packed then
  return false
end
local queue, priority, _, member, _, holder = decode(packed)
if holder then
  return false
end
leave_queue(queue_at(queue), call_id, priority, member)
redis.call('HDEL', KEYS[1], call_id)
return packed
