-- ARGV: 2 call id, 3 packed entry (waiting form). Returns 1 if queued, 0 if the call is
-- already waiting or held somewhere (then nothing changes).
local call_id, packed = ARGV[2], ARGV[3]
local entry = placed(packed)
if redis.call('HEXISTS', ENTRIES, call_id) == 1 then
  return 0
end
redis.call('HSET', ENTRIES, call_id, packed)
enter_queue(call_id, entry)
return 1
