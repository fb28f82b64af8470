-- Read only. KEYS: 1 entries, then the waiting set of each queue asked for. ARGV: 1 limit,
-- then (min, max) score bands, lowest first. Per queue, the packed entries of its waiting
-- calls in those bands, in service order, at most `limit` of them: ordered() asks for every
-- score, overdue() for the two bands of passed deadlines (P0, then the others).
local limit = tonumber(ARGV[1])
local result = {}
for k = 2, #KEYS do
  result[#result + 1] = in_bands(KEYS[1], KEYS[k], 2, limit)
end
return result
