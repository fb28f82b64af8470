-- KEYS: 1 generation marker. ARGV: 1 a fresh random token. Returns {token, 1} when the
-- marker was set just now, {token, 0} when it already existed.
local token = redis.call('GET', KEYS[1])
if token then
  return {token, 0}
end
redis.call('SET', KEYS[1], ARGV[1])
return {ARGV[1], 1}
