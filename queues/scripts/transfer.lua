-- ARGV: 2 call id, 3 agent id, 4 new packed entry (waiting form). Ends this agent's lease
-- and queues the call at its new place in one step (escalation). Returns 1, or 0 when this
-- agent does not hold the call (then nothing changes).
local call_id, agent, packed = ARGV[2], ARGV[3], ARGV[4]
local target = placed(packed)
local current = redis.call('HGET', ENTRIES, call_id)
if not held_by(current, agent) then
  return 0
end
end_lease(call_id, decode(current))
redis.call('HSET', ENTRIES, call_id, packed)
enter_queue(call_id, target)
return 1
