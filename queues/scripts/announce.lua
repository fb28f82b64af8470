-- KEYS: 1 entries, 2 waiting (of the queue the call's record names), 3 announced (this
-- call), 4 answers (of that queue). ARGV: 1 call id, 2 queue, 3 now ms, 4 least ms between
-- two announcements, 5 ms the announcement mark is kept.
-- The hold loop's one round trip: when the call waits in that queue and was last told its
-- place at least ARGV[4] ms ago (or never), marks it told at ARGV[3] and returns its 0-based
-- rank followed by the queue's recent answer times; otherwise false, and nothing changes.
-- Check and mark in one step: two hold requests of one call never both announce.
local packed = redis.call('HGET', KEYS[1], ARGV[1])
if not packed then
  return false
end
local queue, _, _, member, _, holder = decode(packed)
if holder or queue ~= ARGV[2] then
  return false
end
local rank = redis.call('ZRANK', KEYS[2], member)
if not rank then
  return false
end
local last = redis.call('GET', KEYS[3])
if last and tonumber(ARGV[3]) - tonumber(last) < tonumber(ARGV[4]) then
  return false
end
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[5])
local reply = redis.call('LRANGE', KEYS[4], 0, -1)
table.insert(reply, 1, rank)
return reply
