-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: pairs of (call id, packed
-- entry, waiting or held). Puts entries back in bulk (rebuild from the database). A call
-- already indexed, or held by an agent who already holds another call, is skipped.
-- Returns {loaded, skipped}.
local loaded, skipped = 0, 0
for i = 1, #ARGV, 2 do
  local call_id, packed = ARGV[i], ARGV[i + 1]
  local queue, priority, score, member, lease, agent = decode(packed)
  local at = queue_at(queue)
  if redis.call('HEXISTS', KEYS[1], call_id) == 1
    or (agent and redis.call('HEXISTS', KEYS[3], agent) == 1) then
    skipped = skipped + 1
  else
    redis.call('HSET', KEYS[1], call_id, packed)
    if agent then
      redis.call('ZADD', KEYS[2], lease, call_id)
      redis.call('HSET', KEYS[3], agent, call_id)
    else
      enter_queue(at, call_id, priority, score, member)
    end
    loaded = loaded + 1
  end
end
return {loaded, skipped}
