-- KEYS: 1 entries, 2-4 the queue named in the entry (store.py builds both from one value).
-- ARGV: 1 call id, 2 packed entry (waiting form). Returns 1 if queued, 0 if the call is
-- already waiting or held somewhere (then nothing changes).
local call_id, packed = ARGV[1], ARGV[2]
local _, priority, score, member = decode(packed)
-- the check and the first write in one command: HSETNX writes only a call not yet indexed
if redis.call('HSETNX', KEYS[1], call_id, packed) == 0 then
  return 0
end
enter_queue(2, call_id, priority, score, member)
return 1
