-- Read only. KEYS: 1 entries, then the waiting set of each queue asked for. ARGV: 1 limit,
-- then (min, max) score bands, lowest first. Per queue, the packed entries of its waiting
-- calls in those bands, in service order, at most `limit` of them: ordered() asks for every
-- score, overdue() for the two bands of passed deadlines (P0, then the others).
local limit = tonumber(ARGV[1])
local result = {}
for k = 2, #KEYS do
  local out = {}
  for i = 2, #ARGV, 2 do
    if #out >= limit then
      break
    end
    local members = redis.call('ZRANGEBYSCORE', KEYS[k], ARGV[i], ARGV[i + 1], 'LIMIT', 0, limit - #out)
    for _, member in ipairs(members) do
      local packed = redis.call('HGET', KEYS[1], string.match(member, ':0*(%d+)$'))
      if packed then
        out[#out + 1] = packed
      end
    end
  end
  result[#result + 1] = out
end
return result
