-- Read only. KEYS: the counts hash of each of the ARGV[1] queues, then the entered set of
-- each, in the same order; then the entries hash and the waiting set of each queue whose
-- overdue calls are asked for (none: no more keys). ARGV: 1 number of queues, 2 limit, then
-- (min, max) score bands, lowest first (the passed deadlines: P0, then the others).
-- Returns, per queue, {flat priority/count pairs, oldest entry ms or ''}, then, per queue
-- asked for, the packed entries of its waiting calls in those bands, in service order, at
-- most `limit` (as ordered.lua reads them): two O(1)/O(log n) reads per queue and bounded
-- ranges, whatever the number of waiting calls.
local n = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
for i = 1, n do
  local oldest = redis.call('ZRANGE', KEYS[n + i], 0, 0, 'WITHSCORES')
  out[i] = {redis.call('HGETALL', KEYS[i]), oldest[2] or ''}
end
local entries = KEYS[2 * n + 1]
for k = 2 * n + 2, #KEYS do
  out[#out + 1] = in_bands(entries, KEYS[k], 3, limit)
end
return out
