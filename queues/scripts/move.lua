-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 call id, 2 new packed
-- entry (waiting form). Moves a waiting call to a new place (another queue, priority or
-- deadline) in one step. Returns 1, or 0 when it is not waiting.
local call_id, packed = ARGV[1], ARGV[2]
local target_queue, target_priority, target_score, target_member = decode(packed)
local target = queue_at(target_queue)
local current = redis.call('HGET', KEYS[1], call_id)
if not current then
  return 0
end
local queue, priority, _, member, _, holder = decode(current)
if holder then
  return 0
end
leave_queue(queue_at(queue), call_id, priority, member)
redis.call('HSET', KEYS[1], call_id, packed)
enter_queue(target, call_id, target_priority, target_score, target_member)
return 1
