-- Mirror one call's handling row into the live sets, idempotently (the member is the call
-- id, so recording a call twice changes nothing), and trim what fell out of the day.
-- KEYS: 1 arrivals, 2 answered, 3 answered_within, 4 abandoned, 5 abandoned_within,
--       6 short_abandoned, 7 the answer-time histogram of the answer's hour.
-- ARGV: 1 call id, 2 arrival ms, 3 answer ms or '', 4 answer met '1'/'0', 5 histogram bin or
--       '', 6 abandon kind 'long'/'short'/'', 7 abandon ms or '', 8 abandon met '1'/'0',
--       9 trim horizon ms, 10 histogram ttl s, 11 a pub/sub channel to tell of the change,
--       or ''.
-- Returns 1 when something the live view shows changed.
local id = ARGV[1]
local changed = 0
local function add(key, score)
  if redis.call('ZADD', key, score, id) == 1 then changed = 1 end
end
local function drop(key)
  if redis.call('ZREM', key, id) == 1 then changed = 1 end
end

add(KEYS[1], ARGV[2])
if ARGV[3] ~= '' then
  if redis.call('ZADD', KEYS[2], 'NX', ARGV[3], id) == 1 then
    changed = 1
    -- the histogram counts each call once, with its wait at its first answer
    if ARGV[5] ~= '' then
      redis.call('HINCRBY', KEYS[7], ARGV[5], 1)
      redis.call('EXPIRE', KEYS[7], ARGV[10])
    end
  end
  if ARGV[4] == '1' then add(KEYS[3], ARGV[3]) else drop(KEYS[3]) end
else
  drop(KEYS[2])
  drop(KEYS[3])
end
if ARGV[6] == 'long' then
  add(KEYS[4], ARGV[7])
  drop(KEYS[6])
  if ARGV[8] == '1' then add(KEYS[5], ARGV[7]) else drop(KEYS[5]) end
elseif ARGV[6] == 'short' then
  add(KEYS[6], ARGV[7])
  drop(KEYS[4])
  drop(KEYS[5])
else
  drop(KEYS[4])
  drop(KEYS[5])
  drop(KEYS[6])
end
for i = 1, 6 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[9])
end
if ARGV[11] ~= '' then
  redis.call('PUBLISH', ARGV[11], 'changed')
end
return changed
