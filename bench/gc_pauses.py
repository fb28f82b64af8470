"""How long Python's garbage collector stops a web process, with and without `gc.freeze()`.

    python -m bench.gc_pauses [calls=700] [freeze=0|1]

Runs `bench.webhook_latency`'s loop (incoming, menu, hold per call) on PostgreSQL and times
every collection by generation. A full (generation 2) collection scans every tracked object,
the app's own startup objects included, and holds the GIL meanwhile: every thread of that
worker waits. `gc.freeze()` after start moves those objects out of the collector's scans.
"""

from __future__ import annotations

import gc
import sys
import time
from collections import defaultdict
from typing import Any


def main(calls: int, freeze: bool) -> None:
    # The service's modules, imported before the freeze (the loop imports them lazily).
    import app  # noqa: F401
    from bench import webhook_latency
    from bench.run import postgres_url
    from runtime.embedded_redis import EmbeddedRedis
    from tests.conftest import _drop_everything

    url = postgres_url()
    if url is None:
        raise SystemExit("bench.gc_pauses needs PostgreSQL")
    pauses: dict[int, list[float]] = defaultdict(list)
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    server = EmbeddedRedis().start()
    try:
        _drop_everything(url)
        if freeze:
            gc.freeze()
        print(f"tracked objects {len(gc.get_objects())}, frozen {gc.get_freeze_count()}")
        gc.callbacks.append(timed)
        webhook_latency.measure(url, server.url, calls=calls)
        gc.callbacks.remove(timed)
    finally:
        server.stop()
    for generation, values in sorted(pauses.items()):
        values.sort()
        print(
            f"generation {generation}: {len(values)} collections, {sum(values):.0f} ms in all, "
            f"median {values[len(values) // 2]:.2f} ms, longest {values[-1]:.1f} ms"
        )


if __name__ == "__main__":
    options = dict(a.split("=") for a in sys.argv[1:])
    main(int(options.get("calls", 700)), options.get("freeze", "0") == "1")
