-- KEYS: 1 entries, 2 leases. ARGV: 1 call id, 2 agent id, 3 now ms, 4 new expiry ms.
-- Extends a live lease held by this agent; returns 1, or 0 when another agent holds it,
-- nobody does, or it has already run out (a lease past its expiry belongs to
-- expire_leases, never revived).
local call_id, agent, now, expiry = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local packed = redis.call('HGET', KEYS[1], call_id)
if not packed then
  return 0
end
local queue, priority, score, member, lease, holder = decode(packed)
if holder ~= agent or tonumber(lease) <= now then
  return 0
end
packed = encode(queue, priority, score, member, expiry, agent)
redis.call('HSET', KEYS[1], call_id, packed)
redis.call('ZADD', KEYS[2], expiry, call_id)
return 1
