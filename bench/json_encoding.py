"""CPU time of `GET /api/queues` at 1,000 waiting calls with Flask's own JSON encoder and
with the service's (orjson, `runtime/fast_json.py`), run in turn.

    python -m bench.json_encoding [requests=800] [rounds=3]

PostgreSQL when `bench.run.postgres_url()` finds it, else SQLite. Prints the CPU time of
this process per request for each encoder and round (the database and Redis servers' own
CPU is not in it; neither changes with the encoder).
"""

from __future__ import annotations

import random
import statistics
import sys
import time


def main(requests: int, rounds: int) -> None:
    from flask.json.provider import DefaultJSONProvider

    from bench import dashboard_ops
    from bench.run import postgres_url
    from runtime.clock import now
    from runtime.embedded_redis import EmbeddedRedis
    from runtime.fast_json import FastJSONProvider

    server = EmbeddedRedis().start()
    try:
        with dashboard_ops._service(server.url, postgres_url()) as (app, label):
            dashboard_ops._bench_keys(app)
            dashboard_ops._clear_bench_keys(app)
            try:
                headers = dashboard_ops._supervisor_headers(app)
                dashboard_ops._fill_queues(app, 1_000, now(), random.Random(5))
                standard = DefaultJSONProvider(app)
                standard.sort_keys = False  # as the service had it
                encoders = {"Flask's": standard, "orjson": FastJSONProvider(app)}
                client = app.test_client()
                figures: dict[str, list[float]] = {name: [] for name in encoders}
                for _ in range(rounds):
                    for name, provider in encoders.items():
                        app.json = provider
                        for _ in range(50):  # warm
                            client.get("/api/queues", headers=headers)
                        started = time.process_time()
                        for _ in range(requests):
                            client.get("/api/queues", headers=headers)
                        spent = (time.process_time() - started) * 1000 / requests
                        figures[name].append(spent)
            finally:
                dashboard_ops._clear_bench_keys(app)
    finally:
        server.stop()
    print(f"{label}, {requests} requests per run, CPU ms per request:")
    for name, values in figures.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name} encoder: {runs} (median {statistics.median(values):.2f})")


if __name__ == "__main__":
    options = dict(a.split("=") for a in sys.argv[1:])
    main(int(options.get("requests", 800)), int(options.get("rounds", 3)))
