-- KEYS: 1 entries, 2 leases, 3 agents, 4-6 the queue named in the new entry (store.py
-- builds both from one value). ARGV: 1 call id, 2 agent id, 3 new packed entry (waiting
-- form). Ends this agent's lease and queues the call at its new place in one step
-- (escalation). Returns 1, or 0 when this agent does not hold the call (then nothing
-- changes).
local call_id, agent, packed = ARGV[1], ARGV[2], ARGV[3]
local _, priority, score, member = decode(packed)
local current = redis.call('HGET', KEYS[1], call_id)
if not current then
  return 0
end
local _, _, _, _, _, holder = decode(current)
if holder ~= agent then
  return 0
end
end_lease(call_id, agent)
redis.call('HSET', KEYS[1], call_id, packed)
enter_queue(4, call_id, priority, score, member)
return 1
