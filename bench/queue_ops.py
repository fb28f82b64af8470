"""Throughput of the queue scripts against a bare PING, and memory per waiting call.

Side by side, on one server and one connection, in the same run: a bare PING loop (one round
trip, the floor of any operation), then enqueue, claim and release through `CallQueues` (one
Lua script each; Python validation, packing and unpacking included), and the batched path
(`CallQueues.load`, the rebuild from the database: 500 entries per script). Every round
repeats them all, interleaved, so that a noisy neighbour hurts them alike. The store works
under its own key prefix (`sasbench`), so running this against a live service's Redis leaves
the service's queues alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
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
OPERATIONS = ("ping", "enqueue", "claim", "release", "load")


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
    """One loop's results over the rounds: rate per second, server time per unit (µs)."""

    rates: list[float] = field(default_factory=list)
    server_us: list[float] = field(default_factory=list)


def _server_usec(client: redis.Redis) -> int:
    """Time Redis spent executing commands so far: top-level commands only (a script's own
    calls are inside its EVALSHA's time), INFO itself left out."""
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_ping"))


def _measure(client: redis.Redis, figures: Figures, count: int, work: Callable[[], None]) -> None:
    server_before = _server_usec(client)
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    figures.rates.append(count / elapsed)
    figures.server_us.append((_server_usec(client) - server_before) / count)


def _round(
    client: redis.Redis,
    store: CallQueues,
    places: list[tuple[int, str, datetime, datetime]],
    figures: dict[str, Figures],
) -> None:
    count = len(places)
    store.clear_all()

    def pings() -> None:
        for _ in range(count):
            client.ping()

    def enqueue() -> None:
        for call_id, priority, entered, deadline in places:
            store.enqueue(
                call_id=call_id,
                queue="arm",
                priority=priority,
                enqueued_at=entered,
                deadline=deadline,
            )

    def claim() -> None:
        # one agent per call: an agent may hold only one call at a time
        for call_id, _, entered, _ in places:
            store.claim(queues=("arm",), agent_id=f"a{call_id}", now=entered, lease_seconds=30)

    def release() -> None:
        for call_id, *_ in places:
            store.release(call_id=call_id, agent_id=f"a{call_id}")

    entries = [
        QueueEntry(call_id=c, queue="arm", priority=p, enqueued_at=e, deadline=d)
        for c, p, e, d in places
    ]

    def load() -> None:
        store.load(entries)

    _measure(client, figures["ping"], count, pings)
    _measure(client, figures["enqueue"], count, enqueue)
    _measure(client, figures["claim"], count, claim)
    _measure(client, figures["release"], count, release)
    store.clear_all()
    _measure(client, figures["load"], count, load)
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


def _row(label: str, values: list[float], unit: str, digits: int = 0) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"| {label} | {low:,.{digits}f} | {mid:,.{digits}f} | {high:,.{digits}f} | {unit} |"


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
    rounds = len(figures["ping"].rates)
    cut = f" (cut from {repeats} to stay within {budget_s:.0f} s)" if rounds < repeats else ""
    ping = statistics.median(figures["ping"].rates)
    labels = {
        "ping": "PING (the floor: one round trip)",
        "enqueue": "enqueue (`enqueue.lua`)",
        "claim": "claim (`claim.lua`, best head of the agent's queues, lease)",
        "release": "release (`release.lua`, back to its own place)",
        "load": "batched: `load` (rebuild, 500 entries per script), per entry",
    }
    lines = [
        "## Queue operations in Redis",
        "",
        f"`bench/queue_ops.py`: {rounds} rounds{cut} of {calls:,} operations each, one "
        f"connection (redis-py with its `{parser}`), redis-server {version} on the same "
        f"machine, {total_s:.0f} s in all. Each round runs every loop in turn. Server time "
        "comes from `INFO commandstats` (time Redis spent executing the command, a script's "
        "own calls included).",
        "",
        "| operation | min /s | median /s | max /s | median vs PING | server µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in OPERATIONS:
        f = figures[name]
        low, mid, high = min(f.rates), statistics.median(f.rates), max(f.rates)
        lines.append(
            f"| {labels[name]} | {low:,.0f} | {mid:,.0f} | {high:,.0f} | {mid / ping:.0%} | "
            f"{statistics.median(f.server_us):.1f} |"
        )
    single = {
        n: statistics.median(figures[n].rates) / ping for n in ("enqueue", "claim", "release")
    }
    extra_us = {n: 1e6 / statistics.median(figures[n].rates) - 1e6 / ping for n in single}
    server_extra = {
        n: statistics.median(figures[n].server_us) - statistics.median(figures["ping"].server_us)
        for n in single
    }
    lines += [
        "",
        "Each single operation is one round trip; what it costs beyond a PING "
        + ", ".join(
            f"{n} {extra_us[n]:.0f} µs (of which {server_extra[n]:.0f} µs in Redis running the "
            "script)"
            for n in single
        )
        + " is the work itself: the checks and writes of the script (4 to 9 commands inside "
        "Redis) and, on the client, validating, packing and unpacking the entry. For scale: "
        "all of France's SAMU-Centres 15 together receive about one call a second, and a call "
        "costs an enqueue, a claim and at most a few releases.",
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
