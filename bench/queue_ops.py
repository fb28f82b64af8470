"""Throughput of the queue scripts against a bare PING, and memory per waiting call.

Side by side, on one server and one connection, in the same run: the floor of any script (an
EVALSHA of a script that does nothing, with claim's keys and arguments), enqueue, claim (a
regulator's, from one queue, and an ARM's, comparing the heads of two) and release through
`CallQueues` (one Lua script each; Python validation, packing and unpacking included), and
the batched path (`CallQueues.load`, the rebuild from the database: 500 entries per script).
Each loop runs in stretches of 500 operations, every stretch right after as many bare PINGs
(one round trip, the floor of any operation) and compared with them, so that a noisy
neighbour, which comes and goes within a second on a shared machine, hurts both alike. Every
round repeats them all. Each loop checks afterwards that every operation did its work (a
release of a call the agent does not hold would measure the refusal instead). The store
works under its own key prefix (`sasbench`), so running this against a live service's Redis
leaves the service's queues alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from queues.store import PRIORITIES, QUEUES, CallQueues, QueueEntry
from runtime.embedded_redis import EmbeddedRedis

PREFIX = "sasbench"
MEMORY_CALLS = 10_000
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
#: The project's default ARM targets (`domain.md`), to give the calls realistic deadlines.
TARGETS_S = {"P0": 0, "P1": 30, "P2": 60, "P3": 60, "NR": 60}
OPERATIONS = ("ping", "evalsha", "enqueue", "claim", "release", "claim_arm", "load")
#: The queues an ARM takes calls from (`regulation.roles.queues_for`): two heads compared.
ARM_QUEUES = ("arm", "callback")
#: A script that does nothing, given claim's keys and arguments: the floor of any script.
NOTHING = "return 1"
STRETCH = 500


def _places(count: int) -> list[tuple[int, str, datetime, datetime]]:
    """(call id, priority, enqueued_at, deadline) for `count` calls arriving 100 ms apart."""
    places = []
    for n in range(count):
        priority = PRIORITIES[n % len(PRIORITIES)]
        entered = T0 + timedelta(milliseconds=100 * n)
        places.append((n + 1, priority, entered, entered + timedelta(seconds=TARGETS_S[priority])))
    return places


@dataclass
class Figures:
    """One loop's results: per round, rate per second and server time per unit (µs); per
    stretch, against the PINGs just before it, the rate as a fraction of PING's and the time
    per unit beyond PING's (µs)."""

    rates: list[float] = field(default_factory=list)
    server_us: list[float] = field(default_factory=list)
    vs_ping: list[float] = field(default_factory=list)
    extra_us: list[float] = field(default_factory=list)


def _server_usec(client: redis.Redis) -> int:
    """Time Redis spent executing commands so far: top-level commands only (a script's own
    calls are inside its EVALSHA's time), INFO itself left out."""
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_ping"))


def _timed(
    client: redis.Redis, work: Callable[[int, int], None], start: int, stop: int
) -> tuple[float, int]:
    """Seconds `work(start, stop)` took, and µs Redis spent executing commands meanwhile."""
    server_before = _server_usec(client)
    started = time.perf_counter()
    work(start, stop)
    elapsed = time.perf_counter() - started
    return elapsed, _server_usec(client) - server_before


def _after_pings(
    client: redis.Redis,
    figures: dict[str, Figures],
    name: str,
    count: int,
    work: Callable[[int, int], None],
) -> None:
    """`work(start, stop)` over `count` operations, stretch by stretch, each stretch right
    after as many PINGs and compared with them."""
    ping, mine = figures["ping"], figures[name]

    def pings(start: int, stop: int) -> None:
        for _ in range(start, stop):
            client.ping()

    totals = [0.0, 0.0, 0, 0]  # PING s, work s, PING server µs, work server µs
    for start in range(0, count, STRETCH):
        stop = min(count, start + STRETCH)
        ping_s, ping_us = _timed(client, pings, start, stop)
        work_s, work_us = _timed(client, work, start, stop)
        mine.vs_ping.append(ping_s / work_s)
        mine.extra_us.append(1e6 * (work_s - ping_s) / (stop - start))
        for i, value in enumerate((ping_s, work_s, ping_us, work_us)):
            totals[i] += value
    ping.rates.append(count / totals[0])
    mine.rates.append(count / totals[1])
    ping.server_us.append(totals[2] / count)
    mine.server_us.append(totals[3] / count)


def _check(done: Sequence[object], what: str) -> None:
    """Fail loudly when some operation of a loop did nothing: its rate would be a refusal's."""
    if not all(done):
        raise RuntimeError(f"{what}: {len(done) - sum(map(bool, done))} did nothing")


def _round(
    client: redis.Redis,
    store: CallQueues,
    places: list[tuple[int, str, datetime, datetime]],
    figures: dict[str, Figures],
) -> None:
    count = len(places)
    # one agent per call: an agent may hold only one call at a time
    agents = [f"a{call_id}" for call_id, *_ in places]
    entries = [
        QueueEntry(call_id=c, queue="arm", priority=p, enqueued_at=e, deadline=d)
        for c, p, e, d in places
    ]
    done: list[object] = [None] * count
    claimed: list[QueueEntry | None] = [None] * count
    store.clear_all()

    def enqueue(start: int, stop: int) -> None:
        done[start:stop] = [
            store.enqueue(
                call_id=call_id, queue="arm", priority=priority, enqueued_at=at, deadline=deadline
            )
            for call_id, priority, at, deadline in places[start:stop]
        ]

    def claim(start: int, stop: int) -> None:
        claimed[start:stop] = [
            store.claim(queues=("arm",), agent_id=agent, now=T0, lease_seconds=30)
            for agent in agents[start:stop]
        ]

    def release(start: int, stop: int) -> None:
        # each agent gives back the call it got, whichever that was
        done[start:stop] = [
            store.release(call_id=entry.call_id, agent_id=agent) if entry else None
            for agent, entry in zip(agents[start:stop], claimed[start:stop], strict=True)
        ]

    def claim_arm(start: int, stop: int) -> None:
        claimed[start:stop] = [
            store.claim(queues=ARM_QUEUES, agent_id=agent, now=T0, lease_seconds=30)
            for agent in agents[start:stop]
        ]

    nothing = client.script_load(NOTHING)
    nothing_keys = store.keys.layout(("arm",))

    def evalsha(start: int, stop: int) -> None:
        done[start:stop] = [
            client.execute_command("EVALSHA", nothing, len(nothing_keys), *nothing_keys, a, "0")
            == 1
            for a in agents[start:stop]
        ]

    def load(start: int, stop: int) -> None:
        done[start:stop] = [store.load(entries[start:stop]) == stop - start] * (stop - start)

    _after_pings(client, figures, "evalsha", count, evalsha)
    _check(done, "evalsha")
    _after_pings(client, figures, "enqueue", count, enqueue)
    _check(done, "enqueue")
    _after_pings(client, figures, "claim", count, claim)
    _check(claimed, "claim")
    _after_pings(client, figures, "release", count, release)
    _check(done, "release")
    # every call waits again in its place: an ARM's claim compares the heads of two queues
    _after_pings(client, figures, "claim_arm", count, claim_arm)
    _check(claimed, "claim by an ARM")
    store.clear_all()
    _after_pings(client, figures, "load", count, load)
    _check(done, "load")
    store.clear_all()


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def memory_per_waiting_call(store: CallQueues, client: redis.Redis, calls: int) -> float:
    """Bytes of `used_memory` per waiting call, spread over the four queues."""
    store.clear_all()
    # first use loads the scripts and creates the keys: not a per-call cost
    store.enqueue(call_id=1, queue="arm", priority="P2", enqueued_at=T0, deadline=T0)
    store.finish(call_id=1)
    before = _used_memory(client)
    for call_id, priority, entered, deadline in _places(calls):
        queue = QUEUES[call_id % len(QUEUES)]
        store.enqueue(
            call_id=call_id, queue=queue, priority=priority, enqueued_at=entered, deadline=deadline
        )
    after = _used_memory(client)
    store.clear_all()
    return (after - before) / calls


def run(redis_url: str, *, calls: int = 10000, repeats: int = 5, budget_s: float = 60.0) -> str:
    """Measure and return the markdown section for `docs/benchmarks.md`.

    Stops repeating early (and says so) when another round would overrun `budget_s`, so a
    slow or busy machine still finishes in about a minute."""
    client = redis.Redis.from_url(redis_url, decode_responses=True, single_connection_client=True)
    try:
        store = CallQueues(client, prefix=PREFIX)
        places = _places(calls)
        figures = {name: Figures() for name in OPERATIONS}
        started = time.perf_counter()
        for _ in range(repeats):
            round_started = time.perf_counter()
            _round(client, store, places, figures)
            now = time.perf_counter()
            if now - started + (now - round_started) > budget_s:
                break
        memory = memory_per_waiting_call(store, client, MEMORY_CALLS)
        total_s = time.perf_counter() - started
        version = client.info("server")["redis_version"]
        parser = type(client.connection._parser).__name__ if client.connection else "?"
    finally:
        client.close()
    rounds = len(figures["enqueue"].rates)
    cut = f" (cut from {repeats} to stay within {budget_s:.0f} s)" if rounds < repeats else ""
    labels = {
        "ping": "PING (the floor: one round trip)",
        "evalsha": "EVALSHA of a script that does nothing (claim's keys and arguments)",
        "enqueue": "enqueue (`enqueue.lua`)",
        "claim": "claim by a regulator (`claim.lua`: the head of one queue, lease)",
        "release": "release (`release.lua`, back to its own place)",
        "claim_arm": "claim by an ARM (`claim.lua`: the best of two heads, ARM and callback)",
        "load": "batched: `load` (rebuild, 500 entries per script), per entry",
    }
    lines = [
        "## Queue operations in Redis",
        "",
        f"`bench/queue_ops.py`: {rounds} rounds{cut} of {calls:,} operations each, one "
        f"connection (redis-py with its `{parser}`), redis-server {version} on the same "
        f"machine, {total_s:.0f} s in all. Each round runs every loop in turn, in stretches of "
        f"{STRETCH} operations, each right after as many PINGs and compared with them (median "
        "over the stretches). "
        "Server time comes from `INFO commandstats` (time Redis spent executing the command, "
        "a script's own calls included).",
        "",
        "| operation | min /s | median /s | max /s | median vs PING | server µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in OPERATIONS:
        f = figures[name]
        low, mid, high = min(f.rates), statistics.median(f.rates), max(f.rates)
        versus = statistics.median(f.vs_ping) if f.vs_ping else 1.0
        lines.append(
            f"| {labels[name]} | {low:,.0f} | {mid:,.0f} | {high:,.0f} | {versus:.0%} | "
            f"{statistics.median(f.server_us):.1f} |"
        )
    single = ("enqueue", "claim", "release", "claim_arm")
    extra_us = {n: statistics.median(figures[n].extra_us) for n in single}
    server_extra = {
        n: statistics.median(figures[n].server_us) - statistics.median(figures["ping"].server_us)
        for n in single
    }
    lines += [
        "",
        "Each single operation is one round trip; what it costs beyond a PING "
        + ", ".join(
            f"{labels[n].split(' (')[0]} {extra_us[n]:.0f} µs (of which {server_extra[n]:.0f} µs "
            "in Redis running the script)"
            for n in single
        )
        + " is the work itself: the checks and writes of the script (4, 9, 8 and 10 commands "
        "inside Redis) and, on the client, validating, packing and unpacking the entry. For "
        "scale: all of France's SAMU-Centres 15 together receive about one call a second, and "
        "a call costs an enqueue, a claim and at most a few releases.",
        "",
        f"Memory: {memory:,.0f} bytes of `used_memory` per waiting call ({MEMORY_CALLS:,} calls "
        "enqueued over the four queues: entry hash field, service-order and entry-time sorted "
        "set members, counters).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    server = EmbeddedRedis().start()
    try:
        print(run(server.url))
    finally:
        server.stop()
