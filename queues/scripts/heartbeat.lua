-- ARGV: 2 call id, 3 agent id, 4 now ms, 5 new expiry ms. Extends a live lease held by this
-- agent; returns 1, or 0 when another agent holds it, nobody does, or it has already run
-- out (a lease past its expiry belongs to expire_leases, never revived).
local call_id, agent, now, expiry = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local packed = redis.call('HGET', ENTRIES, call_id)
if not held_by(packed, agent) then
  return 0
end
local entry = decode(packed)
if tonumber(entry.lease) <= now then
  return 0
end
entry.lease = expiry
redis.call('HSET', ENTRIES, call_id, encode(entry))
redis.call('ZADD', LEASES, expiry, call_id)
return 1
