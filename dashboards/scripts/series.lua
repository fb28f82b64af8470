-- Read only. KEYS: 1 arrivals, 2 answered. ARGV: 1 first bin start ms, 2 bin ms, 3 bins.
-- Returns arrivals and answers per bin, interleaved: ZCOUNTs only.
local start, width, bins = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for b = 0, bins - 1 do
  local low = tostring(start + b * width)
  local high = '(' .. tostring(start + (b + 1) * width)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[1], low, high)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[2], low, high)
end
return out
