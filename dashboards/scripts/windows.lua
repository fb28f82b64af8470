-- Read only. KEYS: the six live sets (see record.lua) then the generation key.
-- ARGV: 1 now ms, then window lengths in ms. Returns {generation or false, counts}, counts
-- holding, per window, the number of members of each set scored in (now - window, now]:
-- ZCOUNTs only, O(log n) each, whatever the number of calls waiting or done.
local now = tonumber(ARGV[1])
local counts = {}
for w = 2, #ARGV do
  local low = '(' .. tostring(now - tonumber(ARGV[w]))
  for i = 1, 6 do
    counts[#counts + 1] = redis.call('ZCOUNT', KEYS[i], low, ARGV[1])
  end
end
return {redis.call('GET', KEYS[7]), counts}
