-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 now ms, 2 batch size.
-- Every lease run out by now (at most one batch, earliest first) goes back to its queue in
-- its own place. Returns {call id, packed entry as it was held, ...} so the caller knows
-- which agent lost which call.
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', '0', ARGV[2])
local expired = {}
for _, call_id in ipairs(due) do
  local packed = redis.call('HGET', KEYS[1], call_id)
  local queue, priority, score, member, lease, holder
  if packed then
    queue, priority, score, member, lease, holder = decode(packed)
  end
  if holder then
    local at = queue_at(queue)
    end_lease(call_id, holder)
    redis.call('HSET', KEYS[1], call_id, encode(queue, priority, score, member))
    enter_queue(at, call_id, priority, score, member)
    expired[#expired + 1] = call_id
    expired[#expired + 1] = packed
  else
    redis.call('ZREM', KEYS[2], call_id)
  end
end
return expired
