-- ARGV: 2.. pairs of (call id, packed entry, waiting or held). Puts entries back in bulk
-- (rebuild from the database). A call already indexed, or held by an agent who already
-- holds another call, is skipped. Returns {loaded, skipped}.
local loaded, skipped = 0, 0
for i = 2, #ARGV, 2 do
  local call_id, packed = ARGV[i], ARGV[i + 1]
  local entry = decode(packed)
  if redis.call('HEXISTS', ENTRIES, call_id) == 1
    or (entry.agent and redis.call('HEXISTS', AGENTS, entry.agent) == 1) then
    skipped = skipped + 1
  else
    redis.call('HSET', ENTRIES, call_id, packed)
    if entry.agent then
      redis.call('ZADD', LEASES, entry.lease, call_id)
      redis.call('HSET', AGENTS, entry.agent, call_id)
    else
      enter_queue(call_id, entry)
    end
    loaded = loaded + 1
  end
end
return {loaded, skipped}
