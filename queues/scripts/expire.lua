-- ARGV: 2 now ms, 3 batch size. Every lease run out by now (at most one batch, earliest
-- first) goes back to its queue in its own place. Returns {call id, packed entry as it was
-- held, ...} so the caller knows which agent lost which call.
local due = redis.call('ZRANGEBYSCORE', LEASES, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
local expired = {}
for _, call_id in ipairs(due) do
  local packed = redis.call('HGET', ENTRIES, call_id)
  local entry = packed and decode(packed)
  if entry and entry.agent then
    end_lease(call_id, entry)
    redis.call('HSET', ENTRIES, call_id, encode(entry))
    enter_queue(call_id, entry)
    expired[#expired + 1] = call_id
    expired[#expired + 1] = packed
  else
    redis.call('ZREM', LEASES, call_id)
  end
end
return expired
