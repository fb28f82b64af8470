"""p50/p99 latency and CPU time of `/twilio/voice/incoming` (and the menu answer that queues
the caller, and its first hold) through the Flask test client, over N calls, on SQLite and on
PostgreSQL when given.

    python -m bench.webhook_latency [calls=1000]

prints the section `make bench` writes. The CPU time (this process's, per request) is the
figure to compare two versions of the code by: unlike a latency it hardly moves with what else
the machine is doing. PostgreSQL's own CPU is not in it (`bench.webhook_load` counts that).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

TOKEN = "bench-token"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(
    database_url: str, redis_url: str, *, calls: int
) -> tuple[dict[str, list[float]], dict[str, list[float]], dict[str, list[float]]]:
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench",
            "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
            "TWILIO_AUTH_TOKEN": TOKEN,
        }
    )
    with app.app_context():
        upgrade()
    app.extensions["redis"].flushdb()
    client = app.test_client()
    validator = RequestValidator(TOKEN)
    timings: dict[str, list[float]] = {"incoming": [], "menu": [], "hold": [], "hold again": []}
    statements: dict[str, list[float]] = {name: [] for name in timings}
    cpu: dict[str, list[float]] = {name: [] for name in timings}
    from sqlalchemy import event

    from runtime.db import db

    with app.app_context():
        engine = db.engine
    executed = [0]

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # SQLite's BEGIN IMMEDIATE is sent as a statement, PostgreSQL's BEGIN is not
        if not statement.startswith("BEGIN"):
            executed[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    for n in range(calls):
        sid = f"CA{n:032x}"
        params = {
            "CallSid": sid,
            "From": f"+336{n % 100_000_000:08d}",
            "To": "+33199000015",
            "AccountSid": "AC" + "2" * 32,
            "CallStatus": "ringing",
        }
        for name, path, extra in (
            ("incoming", "/twilio/voice/incoming", {}),
            ("menu", "/twilio/voice/menu", {"Digits": str(1 + n % 2)}),
            ("hold", "/twilio/voice/hold", {"QueueSid": "QU" + "5" * 32}),
            ("hold again", "/twilio/voice/hold", {"QueueSid": "QU" + "5" * 32}),
        ):
            body = dict(params, **extra)
            signature = validator.compute_signature("http://localhost" + path, body)
            executed[0] = 0
            started, cpu_started = time.perf_counter(), time.process_time()
            response = client.post(
                path,
                data=urlencode(body),
                content_type="application/x-www-form-urlencoded",
                headers={"X-Twilio-Signature": signature},
            )
            timings[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - cpu_started) * 1000)
            statements[name].append(executed[0])
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}")
    event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return timings, statements, cpu


def run(redis_url: str, *, calls: int = 1000, postgres_url: str | None = None) -> str:
    lines = [
        "## Webhook latency through the Flask test client",
        "",
        f"{calls} calls, each `/twilio/voice/incoming`, `/twilio/voice/menu` (which commits",
        "the call and indexes it in Redis), then two `/twilio/voice/hold`: the caller's first",
        "wait (position announced, one event written), and the next request, between two",
        "announcements (nothing said, nothing written: most hold requests); milliseconds per",
        "request, signature check included; the CPU time this process spent on each (the",
        "database server's not included); and the SQL statements each sends through the",
        "engine (not counted: BEGIN, COMMIT, and the savepoint around the handling row, which",
        "the driver's cursor sends; `tests/ivr/test_round_trips.py` counts PostgreSQL's round",
        "trips on the wire).",
        "",
        "| database | webhook | p50 ms | p99 ms | mean ms | mean CPU ms | SQL statements |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    targets = [("SQLite", None)] + ([("PostgreSQL", postgres_url)] if postgres_url else [])
    for label, url in targets:
        with tempfile.TemporaryDirectory() as tmp:
            if url is None:
                url_used = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                from tests.conftest import _drop_everything

                _drop_everything(url)
                url_used = url
            timings, statements, cpu = measure(url_used, redis_url, calls=calls)
        for name, values in timings.items():
            lines.append(
                f"| {label} | {name} | {_percentile(values, 0.5):.2f} | "
                f"{_percentile(values, 0.99):.2f} | {statistics.fmean(values):.2f} | "
                f"{statistics.fmean(cpu[name]):.2f} | {statistics.fmean(statements[name]):.1f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    from bench.run import postgres_url
    from runtime.embedded_redis import EmbeddedRedis

    options = {k: int(v) for k, v in (a.split("=") for a in sys.argv[1:])}
    redis_server = EmbeddedRedis().start()
    try:
        print(run(redis_server.url, calls=options.get("calls", 1000), postgres_url=postgres_url()))
    finally:
        redis_server.stop()
