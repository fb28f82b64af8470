-- Read only. KEYS: the counts hash of each queue, then the entered set of each queue, in
-- the same order. Returns, per queue, {flat priority/count pairs, oldest entry ms or ''}:
-- two O(1)/O(log n) reads per queue, whatever the number of waiting calls.
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local oldest = redis.call('ZRANGE', KEYS[n + i], 0, 0, 'WITHSCORES')
  out[i] = {redis.call('HGETALL', KEYS[i]), oldest[2] or ''}
end
return out
