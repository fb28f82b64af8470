-- KEYS: 1 entries, 2 leases, 3 agents, then the queues this agent may serve.
-- ARGV: 1 agent id, 2 lease expiry ms.
-- Returns the packed entry (held form) with the lease recorded, nil when nothing waits, or
-- {packed entry or ''} of the call the agent already holds (then nothing changes).
local agent, expiry = ARGV[1], ARGV[2]
local held = redis.call('HGET', KEYS[3], agent)
if held then
  return {redis.call('HGET', KEYS[1], held) or ''}
end
-- A waiting member without an entry can only come from a hand edit; it is dropped so
-- that it cannot block the queue, and the next best head is taken.
for _ = 1, 100 do
  -- one ZRANGE per queue: the head of each is the only candidate there
  local best, best_score, best_member
  if #KEYS == 6 then
    -- a single queue: its head is the best, and no score is needed (Redis formatting it
    -- and parsing it back costs more than the ZRANGE itself)
    best_member = redis.call('ZRANGE', KEYS[4], '0', '0')[1]
    best = best_member and 4
  else
    for at = 4, #KEYS, 3 do
      local head = redis.call('ZRANGE', KEYS[at], '0', '0', 'WITHSCORES')
      if head[1] then
        local score = tonumber(head[2])
        -- members are fixed-width digits, so comparing them as strings is comparing
        -- (entry time, call id): the order Redis itself keeps for equal scores
        if not best or score < best_score or (score == best_score and head[1] < best_member) then
          best, best_score, best_member = at, score, head[1]
        end
      end
    end
  end
  if not best then
    return false
  end
  local call_id = call_id_of(best_member)
  local packed = redis.call('HGET', KEYS[1], call_id)
  if packed then
    local queue, priority, score, member = decode(packed)
    packed = encode(queue, priority, score, member, expiry, agent)
    leave_queue(best, call_id, priority, best_member)
    redis.call('HSET', KEYS[1], call_id, packed)
    redis.call('ZADD', KEYS[2], expiry, call_id)
    redis.call('HSET', KEYS[3], agent, call_id)
    return packed
  end
  redis.call('ZREM', KEYS[best], best_member)
end
return false
