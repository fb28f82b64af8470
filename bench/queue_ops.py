"""Throughput of the queue scripts against plain Redis commands, and memory per waiting call.

Side by side, on one server and one connection, in the same run: enqueue+claim pairs through
`CallQueues` (two Lua scripts, Python validation and packing included), plain redis-py
ZADD+ZPOPMIN pairs (the floor for two round trips that touch a sorted set), and a bare PING
loop (the floor for any round trip). Every round repeats the three, interleaved, so that a
noisy neighbour hurts them alike. The store works under its own key prefix (`sasbench`), so
running this against a live service's Redis leaves the service's queues alone.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import redis

from queues.keys import QueueKeys
from queues.store import PRIORITIES, QUEUES, CallQueues
from runtime.embedded_redis import EmbeddedRedis

PREFIX = "sasbench"
MEMORY_CALLS = 10_000
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
#: The project's default ARM targets (`domain.md`), to give the calls realistic deadlines.
TARGETS_S = {"P0": 0, "P1": 30, "P2": 60, "P3": 60, "NR": 60}


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
    """Total time Redis spent executing commands so far (INFO itself left out)."""
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k != "cmdstat_info")


def _measure(client: redis.Redis, figures: Figures, count: int, work: Callable[[], None]) -> None:
    server_before = _server_usec(client)
    started = time.perf_counter()
    work()
    elapsed = time.perf_counter() - started
    figures.rates.append(count / elapsed)
    figures.server_us.append((_server_usec(client) - server_before) / count)


def _lua_pairs(
    client: redis.Redis,
    store: CallQueues,
    places: list[tuple[int, str, datetime, datetime]],
    figures: Figures,
) -> None:
    def work() -> None:
        for call_id, priority, entered, deadline in places:
            store.enqueue(
                call_id=call_id,
                queue="arm",
                priority=priority,
                enqueued_at=entered,
                deadline=deadline,
            )
            # one agent per pair: an agent may hold only one call at a time
            store.claim(queues=("arm",), agent_id=f"a{call_id}", now=entered, lease_seconds=30)

    store.clear_all()
    _measure(client, figures, len(places), work)
    store.clear_all()


def _plain_pairs(client: redis.Redis, key: str, pairs: int, figures: Figures) -> None:
    def work() -> None:
        for n in range(pairs):
            client.zadd(key, {f"{n:015d}:{n:019d}": 10**13 + n})
            client.zpopmin(key)

    client.delete(key)
    _measure(client, figures, pairs, work)
    client.delete(key)


def _pings(client: redis.Redis, count: int, figures: Figures) -> None:
    def work() -> None:
        for _ in range(count):
            client.ping()

    _measure(client, figures, count, work)


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


def run(redis_url: str, *, pairs: int = 20000, repeats: int = 5, budget_s: float = 50.0) -> str:
    """Measure and return the markdown section for `docs/benchmarks.md`.

    Stops repeating early (and says so) when another round would overrun `budget_s`, so a
    slow or busy machine still finishes in about a minute."""
    client = redis.Redis.from_url(redis_url, decode_responses=True, single_connection_client=True)
    try:
        store = CallQueues(client, prefix=PREFIX)
        # keys come from queues.keys only; the plain sorted set borrows a name of the prefix
        plain_key = QueueKeys(PREFIX).waiting("plain-zset")
        places = _places(pairs)
        lua, plain, pings = Figures(), Figures(), Figures()
        started = time.perf_counter()
        for _ in range(repeats):
            round_started = time.perf_counter()
            _lua_pairs(client, store, places, lua)
            _plain_pairs(client, plain_key, pairs, plain)
            _pings(client, 2 * pairs, pings)
            now = time.perf_counter()
            if now - started + (now - round_started) > budget_s:
                break
        memory = memory_per_waiting_call(store, client, MEMORY_CALLS)
        total_s = time.perf_counter() - started
        version = client.info("server")["redis_version"]
    finally:
        client.close()
    rounds = len(lua.rates)
    cut = f" (cut from {repeats} to stay within {budget_s:.0f} s)" if rounds < repeats else ""
    lua_rate, plain_rate = statistics.median(lua.rates), statistics.median(plain.rates)
    ping_rate = statistics.median(pings.rates)
    extra_us = 1e6 / lua_rate - 1e6 / plain_rate
    extra_server_us = statistics.median(lua.server_us) - statistics.median(plain.server_us)
    lines = [
        "## Queue operations in Redis",
        "",
        f"`bench/queue_ops.py`: {rounds} rounds{cut} of {pairs:,} pairs, one connection, "
        f"redis-server {version} on the same machine, {total_s:.0f} s in all. Each round runs "
        "the three loops in turn; a pair is two round trips. Server time comes from "
        "`INFO commandstats` (time Redis spent executing the commands).",
        "",
        "| measure | min | median | max | unit |",
        "| --- | ---: | ---: | ---: | --- |",
        _row("enqueue + claim through `CallQueues` (two Lua scripts)", lua.rates, "pairs/s"),
        _row("ZADD + ZPOPMIN through redis-py", plain.rates, "pairs/s"),
        _row("PING", pings.rates, "round trips/s"),
        _row("server time, enqueue + claim scripts", lua.server_us, "µs/pair", 1),
        _row("server time, ZADD + ZPOPMIN", plain.server_us, "µs/pair", 1),
        "",
        f"Median against median, the script pair runs at {lua_rate / plain_rate:.0%} of the "
        f"plain pair's rate ({extra_us:.0f} µs more per pair, of which {extra_server_us:.0f} µs "
        "in Redis running the Lua, the rest on the client side: validating and packing the entry "
        "and encoding EVALSHA's keys and arguments), and the plain pair at "
        f"{plain_rate / (ping_rate / 2):.0%} of two PINGs'. For scale: all of France's "
        "SAMU-Centres 15 together receive about one call a second.",
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
