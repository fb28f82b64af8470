-- ARGV: 2 agent id, 3 lease expiry ms. The queues passed (ARGV[1]) are those this agent may
-- serve.
-- Returns {'held', call id, packed} when the agent already holds a call, {'empty'} when
-- nothing waits, else {'claimed', call id, packed} with the lease recorded.
local agent, expiry = ARGV[2], ARGV[3]
local held = redis.call('HGET', AGENTS, agent)
if held then
  return {'held', held, redis.call('HGET', ENTRIES, held) or ''}
end
-- A waiting member without an entry can only come from a hand edit; it is dropped so
-- that it cannot block the queue, and the next best head is taken.
for _ = 1, 100 do
  local best_queue, best_score, best_member
  for _, queue in ipairs(QUEUE_ORDER) do
    local head = redis.call('ZRANGE', queue.waiting, 0, 0, 'WITHSCORES')
    if head[1] then
      local score = tonumber(head[2])
      -- members are fixed-width digits, so comparing them as strings is comparing
      -- (entry time, call id): the order Redis itself keeps for equal scores
      if not best_member or score < best_score or (score == best_score and head[1] < best_member) then
        best_queue, best_score, best_member = queue, score, head[1]
      end
    end
  end
  if not best_member then
    return {'empty'}
  end
  local call_id = call_id_of(best_member)
  local packed = redis.call('HGET', ENTRIES, call_id)
  if packed then
    local entry = decode(packed)
    leave_queue(call_id, entry)
    entry.lease, entry.agent = expiry, agent
    packed = encode(entry)
    redis.call('HSET', ENTRIES, call_id, packed)
    redis.call('ZADD', LEASES, expiry, call_id)
    redis.call('HSET', AGENTS, agent, call_id)
    return {'claimed', call_id, packed}
  end
  redis.call('ZREM', best_queue.waiting, best_member)
end
return {'empty'}
