-- Prepended by queues/store.py to every script that reads or changes a call's place: the
-- helpers only, defined once per call and cheap (no table, no loop), since they run at
-- every operation. Each script names its own KEYS in its header.
--
-- Keys: entries (hash: call id -> packed entry), leases (zset: call id by expiry ms), agents
-- (hash: agent id -> call id), and three keys per queue, always passed side by side:
-- waiting (zset, service order), entered (zset: call id by entry ms), counts (hash: priority
-- -> number waiting). A queue is known by `at`, the index in KEYS of its waiting key. A
-- script given every queue gets them in `queues.store.QUEUES` order after entries, leases
-- and agents, and store.py prepends QUEUE_AT (queue name -> at) to it.
-- Packed entry: "queue|priority|score|member" while waiting, with "|lease_ms|agent" appended
-- while an agent holds it. score and member are kept verbatim so that a call going back to
-- its queue lands exactly where it was; member is "<entry ms, 15 digits>:<call id, 19 digits>".
-- Every check comes before the first write: a script that stops half-way would not be
-- rolled back.

-- queue, priority, score, member, then lease and agent (nil while waiting)
local function decode(packed)
  local queue, priority, score, member, rest =
    string.match(packed, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)(.*)$')
  if rest ~= '' then
    -- the agent id comes last so that it may contain anything, '|' included
    return queue, priority, score, member, string.match(rest, '^|([^|]*)|(.*)$')
  end
  return queue, priority, score, member
end

-- the packed entry of those fields, waiting (no lease nor agent) or held
local function encode(queue, priority, score, member, lease, agent)
  local waiting = queue .. '|' .. priority .. '|' .. score .. '|' .. member
  if agent then
    return waiting .. '|' .. lease .. '|' .. agent
  end
  return waiting
end

local function call_id_of(member)
  return string.match(member, '^0*(%d+)$', 17)
end

local function enter_queue(at, call_id, priority, score, member)
  redis.call('ZADD', KEYS[at], score, member)
  redis.call('ZADD', KEYS[at + 1], string.sub(member, 1, 15), call_id)
  -- numbers given to redis.call are formatted with '%.17g' at every call; strings are not
  redis.call('HINCRBY', KEYS[at + 2], priority, '1')
end

local function leave_queue(at, call_id, priority, member)
  redis.call('ZREM', KEYS[at + 1], call_id)
  -- count down only what was really there, and drop a count at zero: never negative
  if redis.call('ZREM', KEYS[at], member) == 1 then
    if redis.call('HINCRBY', KEYS[at + 2], priority, '-1') <= 0 then
      redis.call('HDEL', KEYS[at + 2], priority)
    end
  end
end

-- Ends the lease of `agent` on the call, in a script given leases and agents as KEYS 2, 3.
local function end_lease(call_id, agent)
  redis.call('ZREM', KEYS[2], call_id)
  if redis.call('HGET', KEYS[3], agent) == call_id then
    redis.call('HDEL', KEYS[3], agent)
  end
end

-- The index of a queue's keys, in a script given every queue (those alone get QUEUE_AT);
-- called before any write, so that an unknown queue changes nothing.
local function queue_at(queue)
  local at = QUEUE_AT[queue]
  if not at then
    error('unknown queue ' .. tostring(queue))
  end
  return at
end
