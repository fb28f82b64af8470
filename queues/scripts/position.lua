-- KEYS: 1 entries, 2 leases, 3 agents, then every queue. ARGV: 1 call id. Read only: the
-- 0-based rank of a waiting call in its queue, or nil.
local packed = redis.call('HGET', KEYS[1], ARGV[1])
if not packed then
  return false
end
local queue, _, _, member, _, holder = decode(packed)
if holder then
  return false
end
return redis.call('ZRANK', KEYS[queue_at(queue)], member)
