-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 call id, 2 agent id.
-- Gives a held call back to its queue, in its own place. Returns the packed entry (waiting
-- form), or nil when this agent does not hold it.
local call_id, agent = ARGV[1], ARGV[2]
local packed = redis.call('HGET', KEYS[1], call_id)
if not packed then
  return false
end
local queue, priority, score, member, _, holder = decode(packed)
if holder ~= agent then
  return false
end
local at = queue_at(queue)
end_lease(call_id, agent)
packed = encode(queue, priority, score, member)
redis.call('HSET', KEYS[1], call_id, packed)
enter_queue(at, call_id, priority, score, member)
return packed
