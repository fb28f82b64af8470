"""The waiting calls in Redis: enqueue, claim under a lease, heartbeat, release, transfer,
expiry, removal, the live counters and the hold loop's announcements — each change one atomic
Lua script.

Order inside a queue: a P0 (urgence vitale) always comes first; every other call is served
earliest deadline first, whatever its priority, so an old P2 overtakes a new P1 once its
deadline is earlier. Ties go by arrival (`enqueued_at`), then call id. The deadline is the
caller's (enqueue time plus the target wait of the priority, `queues.policy`).

Encoding: each queue is a sorted set whose score is the deadline in ms (plus 10^13 for every
priority but P0, so P0s form a band of their own ahead of the rest; still exact as a double)
and whose member is `<enqueued ms, 15 digits>:<call id, 19 digits>`, so equal scores sort by
arrival then id. A claimed call keeps its score and member, and so goes back to exactly its
place on release or expiry. Per-queue counts by priority and a set by time of entry are kept
by the same scripts, so a snapshot never scans a queue.

The database is the record; this is the fast index, rebuilt from it (`queues.reconcile`) when
the generation marker shows Redis came back empty. Times are ms since the epoch, UTC.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import NoScriptError

from .keys import SERVICE_PREFIX, QueueKeys

QUEUES = ("arm", "callback", "amu", "liberal")
PRIORITIES = ("P0", "P1", "P2", "P3", "NR")

#: Score offset of every priority but P0. Deadlines must stay below it (year 2286).
NON_P0_BAND = 10**13
_MAX_ENQUEUED_MS = 10**15  # 15 digits in the member
_MAX_CALL_ID = 10**19  # 19 digits in the member
_LOAD_BATCH = 500
#: Recent answer times kept per queue for the wait estimates, and for how long at most.
ANSWERS_KEPT = 20
_ANSWERS_KEPT_MS = 60 * 60 * 1000
#: How long a caller's last announcement is remembered: far longer than any gap between two.
_ANNOUNCED_KEPT_MS = 60 * 60 * 1000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

_SCRIPTS = Path(__file__).with_name("scripts")
#: Scripts that work on a call's place get `common.lua` (the key layout and helpers) first;
#: those given every queue (`QueueKeys.layout(QUEUES)`) get `QUEUE_AT` before it too.
_EVERY_QUEUE = ("remove", "move", "release", "expire", "finish", "load", "position")
_WITH_COMMON = ("enqueue", "claim", "heartbeat", "transfer", "announce", *_EVERY_QUEUE)
_STANDALONE = ("ordered", "snapshot", "generation")
#: The read-only scripts that list waiting calls by score get `bands.lua` first.
_IN_BANDS = ("ordered", "snapshot")
#: Where each queue's keys start in `QueueKeys.layout(QUEUES)`: after entries, leases and
#: agents, three keys per queue (1-based, as Lua counts).
_QUEUE_AT = (
    "local QUEUE_AT = {" + ", ".join(f"{q} = {4 + 3 * n}" for n, q in enumerate(QUEUES)) + "}\n"
)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A call's place: waiting in `queue`, or held by `agent_id` until `lease_expires_at`."""

    call_id: int
    queue: str
    priority: str
    enqueued_at: datetime
    deadline: datetime
    agent_id: str | None = None
    lease_expires_at: datetime | None = None

    @property
    def held(self) -> bool:
        return self.agent_id is not None


@dataclass(frozen=True, slots=True)
class OverdueCall:
    """A waiting call past its deadline, as the live snapshot lists it. Its times stay whole
    ms since the epoch: a snapshot reads up to hundreds of these per request, and two
    datetimes for each of them were most of its cost."""

    call_id: int
    priority: str
    enqueued_ms: int
    deadline_ms: int


@dataclass(frozen=True, slots=True)
class Announcement:
    """A waiting caller's turn to hear their place: the 1-based `position` in their queue,
    and the queue's recent answer times (ms since the epoch, newest first) for the estimate."""

    position: int
    answers_ms: tuple[int, ...]


@dataclass(frozen=True)
class QueueSnapshot:
    """One queue at a glance: waiting calls by priority (every priority present), the entry
    time of the caller who has waited longest in it, and, when asked for, its waiting calls
    past their deadline in service order (bounded)."""

    waiting: dict[str, int]
    oldest_enqueued_at: datetime | None
    overdue: list[OverdueCall] = field(default_factory=list)


class ClaimRefused(Exception):
    """The agent already holds a call (an agent holds at most one): the API answers 409."""

    def __init__(self, agent_id: str, entry: QueueEntry | None) -> None:
        super().__init__(f"agent {agent_id} already holds a call")
        self.agent_id = agent_id
        self.entry = entry

    @property
    def call_id(self) -> int | None:
        return self.entry.call_id if self.entry else None


@cache
def _script_source(name: str) -> str:
    body = (_SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")
    if name in _WITH_COMMON:
        body = (_SCRIPTS / "common.lua").read_text(encoding="utf-8") + "\n" + body
    if name in _EVERY_QUEUE:
        body = _QUEUE_AT + body
    if name in _IN_BANDS:
        body = (_SCRIPTS / "bands.lua").read_text(encoding="utf-8") + "\n" + body
    return body


def _text(value: Any) -> str:
    """Replies come as bytes or str, whether or not the client decodes responses."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _ms(moment: datetime, what: str) -> int:
    # Integer arithmetic, not `timestamp() * 1000`: the float product can land just under a
    # whole millisecond and truncate to the one before, moving a call out of its place.
    if moment.utcoffset() is None:  # naive: no tzinfo, or one that gives no offset
        raise ValueError(f"{what} must be timezone-aware")
    return (moment - _EPOCH) // _MS


def _datetime(ms: int) -> datetime:
    # `runtime.clock.from_ms` goes through a float too; this stays exact for every score.
    return _EPOCH + ms * _MS


def _check_queue(queue: str) -> str:
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    return queue


def _check_call_id(call_id: int) -> str:
    if isinstance(call_id, bool) or not isinstance(call_id, int):
        raise ValueError(f"call id must be an int, not {call_id!r}")
    if not 0 <= call_id < _MAX_CALL_ID:
        raise ValueError(f"call id out of range: {call_id}")
    return str(call_id)


def _check_agent(agent_id: str) -> str:
    if not isinstance(agent_id, str) or not agent_id:
        raise ValueError(f"agent id must be a non-empty str, not {agent_id!r}")
    return agent_id


def _lease_ms(lease_seconds: float) -> int:
    if not lease_seconds > 0:
        raise ValueError(f"lease_seconds must be positive, not {lease_seconds!r}")
    return max(1, round(lease_seconds * 1000))


def _pack(
    call_id: int, queue: str, priority: str, enqueued_at: datetime, deadline: datetime
) -> str:
    """The waiting form of an entry, validated (see `common.lua` for the format)."""
    _check_call_id(call_id)
    _check_queue(queue)
    if priority not in PRIORITIES:
        raise ValueError(f"unknown priority {priority!r}")
    enqueued_ms = _ms(enqueued_at, "enqueued_at")
    deadline_ms = _ms(deadline, "deadline")
    if not 0 <= enqueued_ms < _MAX_ENQUEUED_MS:
        raise ValueError(f"enqueued_at out of range: {enqueued_at}")
    if not 0 <= deadline_ms < NON_P0_BAND:
        raise ValueError(f"deadline out of range: {deadline}")
    score = deadline_ms if priority == "P0" else NON_P0_BAND + deadline_ms
    return f"{queue}|{priority}|{score}|{enqueued_ms:015d}:{call_id:019d}"


def _unpack(packed: Any) -> QueueEntry:
    queue, priority, score, member, *held = _text(packed).split("|", 5)
    deadline_ms = int(score) - (0 if priority == "P0" else NON_P0_BAND)
    # positional, in field order: keywords would cost an eighth more (0.4 µs), at every claim
    # and release
    return QueueEntry(
        int(member[16:]),
        queue,
        priority,
        _datetime(int(member[:15])),
        _datetime(deadline_ms),
        held[1] if held else None,
        _datetime(int(held[0])) if held else None,
    )


# A packed entry never changes while its call waits in that place, and a snapshot reads the
# same few hundred overdue ones again at every request: each is parsed once.
@lru_cache(maxsize=2048)
def _overdue(packed: str | bytes) -> OverdueCall:
    _queue, priority, score, member = _text(packed).split("|", 4)[:4]
    return OverdueCall(
        call_id=int(member[16:]),
        priority=priority,
        enqueued_ms=int(member[:15]),
        deadline_ms=int(score) - (0 if priority == "P0" else NON_P0_BAND),
    )


class CallQueues:
    """The four queues of the service (`arm`, `callback`, `amu`, `liberal`) in one Redis.

    Safe to share between threads (redis-py pools its connections). Constructing it does no
    I/O. Every method may raise `redis.RedisError`; none retries on its own.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = SERVICE_PREFIX) -> None:
        self._client = client
        self.keys = QueueKeys(prefix)
        self._scripts = {
            name: client.register_script(_script_source(name))
            for name in (*_WITH_COMMON, *_STANDALONE)
        }
        # The KEYS of each script, built once: a script gets only the keys it may touch
        # (each key costs packing on the client and a Lua string in Redis, at every call),
        # and every queue only when the call's queue is not known beforehand.
        keys = self.keys
        self._every_queue_keys = keys.layout(QUEUES)
        self._enqueue_keys = {q: [keys.entries, *keys.queue(q)] for q in QUEUES}
        self._transfer_keys = {q: keys.layout((q,)) for q in QUEUES}
        self._heartbeat_keys = [keys.entries, keys.leases]
        self._claim_layouts: dict[tuple[str, ...], list[str]] = {}

    def _run(self, name: str, keys: list[str], *args: str | int) -> Any:
        """One EVALSHA, straight through `execute_command`: redis-py's `Script` and `evalsha`
        wrappers around it cost about 4 µs of client time per call, a tenth of a round trip.
        The script is loaded again when Redis lost it (restart, failover, SCRIPT FLUSH)."""
        script = self._scripts[name]
        try:
            return self._client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            self._client.script_load(script.script)
            return self._client.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)

    def _claim_keys(self, queues: Sequence[str]) -> list[str]:
        """The KEYS of `claim.lua` for an agent's queues, validated and built at first use."""
        given = tuple(queues)
        keys = self._claim_layouts.get(given)
        if keys is None:
            allowed = list(dict.fromkeys(_check_queue(q) for q in given))
            if not allowed:
                raise ValueError("claim needs at least one queue")
            keys = self.keys.layout(allowed)
            # without repeats there are only 64 orders of at most four queues: bounded
            if len(allowed) == len(given):
                self._claim_layouts[given] = keys
        return keys

    # -- waiting ---------------------------------------------------------------------------

    def enqueue(
        self, *, call_id: int, queue: str, priority: str, enqueued_at: datetime, deadline: datetime
    ) -> bool:
        """Put a call in `queue`; False (and nothing changes) when it is already waiting or
        held anywhere: a call is in at most one place."""
        packed = _pack(call_id, queue, priority, enqueued_at, deadline)
        # `_pack` checked `queue`: the keys passed are those of the entry's own queue
        return bool(self._run("enqueue", self._enqueue_keys[queue], str(call_id), packed))

    def remove(self, *, call_id: int) -> QueueEntry | None:
        """Take a waiting call out of its queue (the caller hung up); returns the entry it had,
        or None when it was not waiting (a held call is left to `finish` or `release`)."""
        packed = self._run("remove", self._every_queue_keys, _check_call_id(call_id))
        return _unpack(packed) if packed else None

    def move(
        self, *, call_id: int, queue: str, priority: str, enqueued_at: datetime, deadline: datetime
    ) -> bool:
        """Give a waiting call a new place (another queue, priority or deadline) in one step,
        e.g. an ARM caller who accepts a callback. False when it is not waiting."""
        packed = _pack(call_id, queue, priority, enqueued_at, deadline)
        return bool(self._run("move", self._every_queue_keys, str(call_id), packed))

    # -- leases ----------------------------------------------------------------------------

    def claim(
        self, *, queues: Sequence[str], agent_id: str, now: datetime, lease_seconds: float
    ) -> QueueEntry | None:
        """Take the best waiting call across `queues` for `agent_id`, under a lease until
        now + lease_seconds. None when nothing waits there.

        Raises `ClaimRefused` when the agent already holds a call (even one whose lease has
        run out but which `expire_leases` has not yet returned).
        """
        _check_agent(agent_id)
        keys = self._claim_keys(queues)
        expiry = _ms(now, "now") + _lease_ms(lease_seconds)
        # the reply's type says the outcome: the claimed entry, nothing, or a list holding
        # the entry of the call the agent already holds
        reply = self._run("claim", keys, agent_id, expiry)
        if isinstance(reply, list):
            raise ClaimRefused(agent_id, _unpack(reply[0]) if reply[0] else None)
        return _unpack(reply) if reply is not None else None

    def heartbeat(
        self, *, call_id: int, agent_id: str, now: datetime, lease_seconds: float
    ) -> bool:
        """Extend the lease to now + lease_seconds if `agent_id` holds the call and the lease
        has not run out (a lease is alive while now < expiry)."""
        now_ms = _ms(now, "now")
        expiry = now_ms + _lease_ms(lease_seconds)
        return bool(
            self._run(
                "heartbeat",
                self._heartbeat_keys,
                _check_call_id(call_id),
                _check_agent(agent_id),
                now_ms,
                expiry,
            )
        )

    def release(self, *, call_id: int, agent_id: str) -> QueueEntry | None:
        """Give a held call back to its queue, in its own place, if `agent_id` holds it.
        Returns the entry as it now waits, or None (and nothing changes)."""
        packed = self._run(
            "release", self._every_queue_keys, _check_call_id(call_id), _check_agent(agent_id)
        )
        return _unpack(packed) if packed else None

    def transfer(
        self,
        *,
        call_id: int,
        agent_id: str,
        queue: str,
        priority: str,
        enqueued_at: datetime,
        deadline: datetime,
    ) -> bool:
        """End `agent_id`'s lease on the call and queue it at a new place, in one step
        (escalation to a regulator). False when the agent does not hold it."""
        packed = _pack(call_id, queue, priority, enqueued_at, deadline)
        # `_pack` checked `queue`: the keys passed are those of the entry's own queue
        return bool(
            self._run(
                "transfer", self._transfer_keys[queue], str(call_id), _check_agent(agent_id), packed
            )
        )

    def expire_leases(self, *, now: datetime, limit: int = 100) -> list[QueueEntry]:
        """Return every lease run out by `now` (expiry <= now; at most `limit`, earliest
        first) to its own place. Returns those calls as they were held, `agent_id` and
        `lease_expires_at` naming the lease that ran out; call again while it returns `limit`."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        reply = self._run("expire", self._every_queue_keys, _ms(now, "now"), limit)
        return [_unpack(reply[i + 1]) for i in range(0, len(reply), 2)]

    def finish(self, *, call_id: int) -> QueueEntry | None:
        """The call leaves the system (done, abandoned, failed): its queue entry or lease and
        all its data go. Returns what it had, or None when it had nothing (idempotent)."""
        packed = self._run("finish", self._every_queue_keys, _check_call_id(call_id))
        return _unpack(packed) if packed else None

    # -- reading ---------------------------------------------------------------------------

    def entry(self, call_id: int) -> QueueEntry | None:
        """The call's place, waiting or held, or None when it has none."""
        packed = self._client.hget(self.keys.entries, _check_call_id(call_id))
        return _unpack(packed) if packed else None

    def holder(self, call_id: int) -> str | None:
        """The agent holding the call, or None."""
        found = self.entry(call_id)
        return found.agent_id if found else None

    def held_by(self, agent_id: str) -> int | None:
        """The call `agent_id` holds, or None."""
        call_id = self._client.hget(self.keys.agents, _check_agent(agent_id))
        return int(call_id) if call_id is not None else None

    def position(self, call_id: int) -> int | None:
        """1-based rank of a waiting call in its queue; None when it is not waiting."""
        rank = self._run("position", self._every_queue_keys, _check_call_id(call_id))
        return int(rank) + 1 if rank is not None else None

    def ordered(self, queue: str, limit: int = 100) -> list[QueueEntry]:
        """The first `limit` waiting calls of `queue`, in service order."""
        return self._ranges((queue,), limit, ("-inf", "+inf"))[queue]

    def overdue(self, queue: str, *, now: datetime, limit: int = 100) -> list[QueueEntry]:
        """Waiting calls of `queue` whose deadline has come (deadline <= now), in service
        order, at most `limit`: two bounded range reads, no scan."""
        return self.overdue_in((queue,), now=now, limit=limit)[queue]

    def overdue_in(
        self, queues: Sequence[str], *, now: datetime, limit: int = 100
    ) -> dict[str, list[QueueEntry]]:
        """`overdue` of several queues (at most `limit` each), in one round trip."""
        now_ms = _ms(now, "now")
        return self._ranges(
            queues, limit, ("-inf", str(now_ms)), (str(NON_P0_BAND), str(NON_P0_BAND + now_ms))
        )

    def _ranges(
        self, queues: Sequence[str], limit: int, *bands: tuple[str, str]
    ) -> dict[str, list[QueueEntry]]:
        names = list(dict.fromkeys(_check_queue(q) for q in queues))
        if limit < 1 or not names:
            return {name: [] for name in names}
        args: list[str | int] = [limit]
        for low, high in bands:
            args += [low, high]
        reply = self._scripts["ordered"](
            keys=[self.keys.entries, *(self.keys.waiting(q) for q in names)], args=args
        )
        return {
            name: [_unpack(packed) for packed in found]
            for name, found in zip(names, reply, strict=True)
        }

    def snapshot(
        self, *, overdue_in: Sequence[str] = (), now: datetime | None = None, limit: int = 100
    ) -> dict[str, QueueSnapshot]:
        """Every queue's waiting counts by priority and oldest entry time and, for the queues
        of `overdue_in`, their calls past their deadline at `now` (as `overdue`: at most
        `limit` each), in one round trip whose cost does not grow with the number of waiting
        calls."""
        late = list(dict.fromkeys(_check_queue(q) for q in overdue_in))
        keys = [self.keys.counts(q) for q in QUEUES] + [self.keys.entered(q) for q in QUEUES]
        args: list[str | int] = [len(QUEUES), limit]
        if late:
            if now is None or limit < 1:
                raise ValueError("overdue calls need `now` and a limit of at least 1")
            now_ms = _ms(now, "now")
            keys += [self.keys.entries, *(self.keys.waiting(q) for q in late)]
            args += ["-inf", now_ms, NON_P0_BAND, NON_P0_BAND + now_ms]
        reply = self._scripts["snapshot"](keys=keys, args=args)
        counted, overdue = reply[: len(QUEUES)], dict(zip(late, reply[len(QUEUES) :], strict=True))
        result = {}
        for queue, (flat, oldest) in zip(QUEUES, counted, strict=True):
            waiting = dict.fromkeys(PRIORITIES, 0)
            for i in range(0, len(flat), 2):
                waiting[_text(flat[i])] = max(0, int(flat[i + 1]))
            oldest_text = _text(oldest)
            result[queue] = QueueSnapshot(
                waiting=waiting,
                oldest_enqueued_at=_datetime(int(float(oldest_text))) if oldest_text else None,
                overdue=[_overdue(packed) for packed in overdue.get(queue, ())],
            )
        return result

    def dump(self) -> list[QueueEntry]:
        """Every waiting and held entry, by call id (for the drift check against the
        database). One HGETALL: O(n), for administration, not for the hot path."""
        everything = self._client.hgetall(self.keys.entries)
        return sorted((_unpack(v) for v in everything.values()), key=lambda e: e.call_id)

    # -- the hold loop ---------------------------------------------------------------------

    def record_answer(self, *, queue: str, at: datetime) -> None:
        """Remember that an agent answered a call of `queue` at `at` (the last
        `ANSWERS_KEPT`, for an hour), for the wait estimates of those still waiting."""
        key = self.keys.answers(_check_queue(queue))
        pipe = self._client.pipeline(transaction=True)
        pipe.lpush(key, _ms(at, "at"))
        pipe.ltrim(key, 0, ANSWERS_KEPT - 1)
        pipe.pexpire(key, _ANSWERS_KEPT_MS)
        pipe.execute()

    def announcement(
        self, *, call_id: int, queue: str, now: datetime, every_s: float
    ) -> Announcement | None:
        """The caller's place to announce, when the call waits in `queue` and was last told
        it at least `every_s` seconds before `now` (or never); the call is marked told at
        `now` in the same step, so two hold requests never both announce. None otherwise.
        One round trip."""
        if not every_s > 0:
            raise ValueError(f"every_s must be positive, not {every_s!r}")
        member = _check_call_id(call_id)
        keys = self.keys
        waiting, answers = keys.waiting(_check_queue(queue)), keys.answers(queue)
        reply = self._run(
            "announce",
            [keys.entries, waiting, keys.announced(call_id), answers],
            member,
            queue,
            _ms(now, "now"),
            round(every_s * 1000),
            _ANNOUNCED_KEPT_MS,
        )
        if not reply:
            return None
        return Announcement(int(reply[0]) + 1, tuple(int(stamp) for stamp in reply[1:]))

    # -- generation and rebuild ------------------------------------------------------------

    def generation(self) -> str | None:
        """The token set when this index was built; None means Redis lost it (restarted
        empty, or cleared) and the index must be rebuilt from the database."""
        token = self._client.get(self.keys.generation)
        return _text(token) if token is not None else None

    def ensure_generation(self) -> tuple[str, bool]:
        """Set the generation marker unless there is one: (token, created_now)."""
        token, created = self._scripts["generation"](
            keys=[self.keys.generation], args=[secrets.token_hex(16)]
        )
        return _text(token), bool(int(created))

    def clear_all(self) -> None:
        """Delete the whole index, generation marker included (one atomic DEL), leaving Redis
        as after an empty restart. Wait-estimate history (`answers`) is kept."""
        self._client.delete(*self.keys.index(QUEUES))

    def load(self, entries: Iterable[QueueEntry]) -> int:
        """Put entries back in bulk, waiting or held (rebuild from the database), in atomic
        batches. Calls already indexed are left as they are. Returns how many were loaded."""
        pairs: list[str] = []
        seen: set[int] = set()
        agents: set[str] = set()
        for item in entries:
            packed = _pack(item.call_id, item.queue, item.priority, item.enqueued_at, item.deadline)
            if item.call_id in seen:
                raise ValueError(f"call {item.call_id} given twice")
            seen.add(item.call_id)
            if (item.agent_id is None) != (item.lease_expires_at is None):
                raise ValueError(f"call {item.call_id}: agent_id and lease_expires_at go together")
            if item.agent_id is not None and item.lease_expires_at is not None:
                if _check_agent(item.agent_id) in agents:
                    raise ValueError(f"agent {item.agent_id} would hold two calls")
                agents.add(item.agent_id)
                packed += f"|{_ms(item.lease_expires_at, 'lease_expires_at')}|{item.agent_id}"
            pairs += [str(item.call_id), packed]
        loaded = 0
        step = 2 * _LOAD_BATCH
        for start in range(0, len(pairs), step):
            reply = self._run("load", self._every_queue_keys, *pairs[start : start + step])
            loaded += int(reply[0])
        return loaded
