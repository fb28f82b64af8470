-- Prepended by queues/store.py to every script that reads or changes a call's place.
--
-- KEYS: 1 entries (hash: call id -> packed entry), 2 leases (zset: call id by expiry ms),
--       3 agents (hash: agent id -> call id), then, for each queue named in ARGV[1]
--       (space-separated, in order): waiting (zset, service order), entered (zset: call id
--       by entry ms), counts (hash: priority -> number waiting). Only the queues a script may
--       touch are passed: all four when the call's queue is not known beforehand.
-- Packed entry: "queue|priority|score|member" while waiting, with "|lease_ms|agent" appended
-- while an agent holds it. score and member are kept verbatim so that a call going back to
-- its queue lands exactly where it was; member is "<entry ms, 15 digits>:<call id, 19 digits>".
-- Every check comes before the first write: a script that stops half-way would not be
-- rolled back.

local ENTRIES, LEASES, AGENTS = KEYS[1], KEYS[2], KEYS[3]
local QUEUES, QUEUE_ORDER = {}, {}
for name in string.gmatch(ARGV[1], '%S+') do
  local at = 4 + 3 * #QUEUE_ORDER
  QUEUES[name] = {waiting = KEYS[at], entered = KEYS[at + 1], counts = KEYS[at + 2]}
  QUEUE_ORDER[#QUEUE_ORDER + 1] = QUEUES[name]
end

local function decode(packed)
  local queue, priority, score, member, rest =
    string.match(packed, '^([^|]*)|([^|]*)|([^|]*)|([^|]*)(.*)$')
  local entry = {queue = queue, priority = priority, score = score, member = member}
  if rest ~= '' then
    -- the agent id comes last so that it may contain anything, '|' included
    entry.lease, entry.agent = string.match(rest, '^|([^|]*)|(.*)$')
  end
  return entry
end

local function encode(entry)
  local packed = entry.queue .. '|' .. entry.priority .. '|' .. entry.score .. '|' .. entry.member
  if entry.agent then
    packed = packed .. '|' .. entry.lease .. '|' .. entry.agent
  end
  return packed
end

local function call_id_of(member)
  return string.match(member, ':0*(%d+)$')
end

local function enter_queue(call_id, entry)
  local queue = QUEUES[entry.queue]
  redis.call('ZADD', queue.waiting, entry.score, entry.member)
  redis.call('ZADD', queue.entered, string.sub(entry.member, 1, 15), call_id)
  redis.call('HINCRBY', queue.counts, entry.priority, 1)
end

local function leave_queue(call_id, entry)
  local queue = QUEUES[entry.queue]
  redis.call('ZREM', queue.entered, call_id)
  -- count down only what was really there, and drop a count at zero: never negative
  if redis.call('ZREM', queue.waiting, entry.member) == 1 then
    if redis.call('HINCRBY', queue.counts, entry.priority, -1) <= 0 then
      redis.call('HDEL', queue.counts, entry.priority)
    end
  end
end

local function end_lease(call_id, entry)
  redis.call('ZREM', LEASES, call_id)
  if redis.call('HGET', AGENTS, entry.agent) == call_id then
    redis.call('HDEL', AGENTS, entry.agent)
  end
  entry.lease, entry.agent = nil, nil
end

-- The packed entry a script is about to write, decoded, once its queue's keys are known to
-- be in KEYS (checked before any write).
local function placed(packed)
  local entry = decode(packed)
  if not QUEUES[entry.queue] then
    error('the keys of queue ' .. tostring(entry.queue) .. ' were not passed')
  end
  return entry
end

local function held_by(packed, agent)
  return packed and decode(packed).agent == agent
end

