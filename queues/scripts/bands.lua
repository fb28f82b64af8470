-- Prepended by queues/store.py to the read-only scripts that list waiting calls by score.

-- The packed entries (from the `entries` hash) of the calls waiting in `waiting` whose scores
-- fall in the (min, max) bands ARGV[first], ARGV[first + 1], … lowest first, in service
-- order, at most `limit`. The call id is the member's fixed-width tail (an anchored match
-- costs far less than a search), and one HMGET per slice costs far less than one HGET per
-- call; slices because Lua's unpack takes a few thousand values at most.
local function in_bands(entries, waiting, first, limit)
  local found = {}
  for i = first, #ARGV, 2 do
    if #found >= limit then
      break
    end
    local ids = redis.call('ZRANGEBYSCORE', waiting, ARGV[i], ARGV[i + 1], 'LIMIT', 0, limit - #found)
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
  return found
end
