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
  local found = {}
  for i = 3, #ARGV, 2 do
    if #found >= limit then
      break
    end
    local ids = redis.call('ZRANGEBYSCORE', KEYS[k], ARGV[i], ARGV[i + 1], 'LIMIT', 0, limit - #found)
    -- the call id is the member's fixed-width tail (an anchored match costs far less than a
    -- search), and one HMGET per slice costs far less than one HGET per call; slices
    -- because Lua's unpack takes a few thousand values at most
    for j, member in ipairs(ids) do
      ids[j] = string.match(member, '^0*(%d+)', 17)
    end
    for from = 1, #ids, 1000 do
      for _, packed in ipairs(redis.call('HMGET', entries, unpack(ids, from, math.min(from + 999, #ids)))) do
        if packed then
          found[#found + 1] = packed
        end
      end
    end
  end
  out[#out + 1] = found
end
return out
