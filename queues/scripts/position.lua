-- ARGV: 2 call id. Read only: the 0-based rank of a waiting call in its queue, or nil.
local packed = redis.call('HGET', ENTRIES, ARGV[2])
if not packed then
  return false
end
local entry = decode(packed)
if entry.agent then
  return false
end
return redis.call('ZRANK', QUEUES[entry.queue].waiting, entry.member)
