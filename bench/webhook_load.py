"""Webhook latency under load: the service under gunicorn against a bare Flask endpoint.

The service runs as in production (`gunicorn -c python:runtime.gunicorn_conf`, its default
workers and threads, PostgreSQL, Redis); a separate process (`bench.load_client`) sends
signed Twilio webhooks at a fixed rate, open loop, over keep-alive connections on 127.0.0.1.

1. `/twilio/voice/incoming` (a new call each time: its record, first event, handling-times
   row) and the hold loop (`/twilio/voice/hold` for callers waiting in the ARM queue: position,
   announcement every 45 s) at RATE per second each, for SECONDS.
2. The highest rate held by the service, by the bare endpoint (`bench/bare_app.py`) and by
   the floor (`bench/floor_app.py`: the signature check and the one round trip to PostgreSQL
   or Redis that any correct webhook needs, nothing else), each served the same way, on the
   same mix (incoming and hold alternating): rates are stepped up for STEP_S seconds each
   until one is not held. Held = no error, p99 under 25 ms and the rate kept up.

    python -m bench.webhook_load [rate=200] [seconds=60] [step_s=20] [steps=1]

`steps=0` measures part 1 only (about 3 minutes): the run to repeat when comparing two
versions of the code side by side.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from bench import floor_app
from bench.run import libpq_url
from queues.store import _pack as pack_entry
from runtime.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN = "bench-load-token"
ACCOUNT = "AC" + "3" * 32
P99_LIMIT_MS = 25.0
SERVICE_STEPS = (50, 100, 150, 200, 300, 400, 600, 800)
BARE_STEPS = (200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000)
FLOOR_STEPS = (200, 400, 600, 800, 1000, 1200, 1500, 2000, 2500)


class Server:
    """gunicorn serving `app_spec` with the project's settings module."""

    def __init__(self, app_spec: str, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "python:runtime.gunicorn_conf", app_spec],
            cwd=ROOT,
            env=dict(env, PORT=str(self.port)),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # it answers (404 or 405 for the bare app)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start: see {log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class Caller:
    """Signed webhook bodies for calls of one run (unique CallSids)."""

    def __init__(self, port: int, run: str) -> None:
        self.validator = RequestValidator(TOKEN)
        self.base = f"http://127.0.0.1:{port}"
        self.run = run

    def sid(self, n: int) -> str:
        return f"CA{self.run}{n:026x}"

    def request(self, path: str, n: int, **extra: str) -> dict[str, Any]:
        body = {
            "CallSid": self.sid(n),
            "AccountSid": ACCOUNT,
            "From": f"+336{n % 100_000_000:08d}",
            "To": "+33199000015",
            "CallStatus": "in-progress",
            **extra,
        }
        signature = self.validator.compute_signature(self.base + path, body)
        return {"path": path, "body": urlencode(body), "headers": {"X-Twilio-Signature": signature}}

    def post(self, path: str, n: int, **extra: str) -> int:
        prepared = self.request(path, n, **extra)
        answer = urllib.request.urlopen(
            urllib.request.Request(
                self.base + path,
                data=prepared["body"].encode(),
                headers=prepared["headers"],
                method="POST",
            ),
            timeout=10,
        )
        return int(answer.status)


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time these processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU time per request of the gunicorn workers and of the database backends serving
    them: unlike latency, it does not change with what else the machine is doing."""

    def __init__(self, server: Server, database_url: str) -> None:
        self.server = server
        self.database_url = database_url

    def pids(self) -> tuple[list[int], list[int]]:
        import psycopg

        found = subprocess.run(
            ["pgrep", "-P", str(self.server.process.pid)], capture_output=True, text=True
        )
        workers = [int(p) for p in found.stdout.split()]
        name = self.database_url.rsplit("/", 1)[1]
        dsn = libpq_url(self.database_url)
        with psycopg.connect(dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return workers, [int(r[0]) for r in rows]

    def measure(self, run: Any) -> dict[str, Any]:
        workers, backends = self.pids()
        web, database = _cpu_seconds(workers), _cpu_seconds(backends)
        result: dict[str, Any] = run()
        _, backends_after = self.pids()  # backends opened during the run count from zero
        new = [b for b in backends_after if b not in backends]
        answered = max(result["answered"], 1)
        result["web_cpu_ms"] = (_cpu_seconds(workers) - web) * 1000 / answered
        result["db_cpu_ms"] = (
            (_cpu_seconds(backends) - database + _cpu_seconds(new)) * 1000 / answered
        )
        return result


def _load(port: int, requests: list[dict[str, Any]], rate: float, seconds: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(requests, handle)
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.load_client",
                handle.name,
                str(port),
                str(rate),
                str(seconds),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["rate"] = rate
    result["held"] = (
        result["errors"] == 0
        and result["p99_ms"] is not None
        and result["p99_ms"] < P99_LIMIT_MS
        and result["achieved_rate"] >= 0.97 * rate
    )
    return result


def _waiting_callers(caller: Caller, count: int) -> list[int]:
    """`count` calls answered by the IVR and waiting in the ARM queue (menu key 2)."""
    for n in range(count):
        caller.post("/twilio/voice/incoming", n)
        caller.post("/twilio/voice/menu", n, Digits="2")
    return list(range(count))


def _highest(meter: CpuMeter, make: Any, steps: tuple[int, ...], step_s: float) -> list[dict]:
    port = meter.server.port
    results = []
    for rate in steps:
        requests = make(int(rate * step_s))
        result = meter.measure(functools.partial(_load, port, requests, rate, step_s))
        results.append(result)
        if not result["held"]:
            break
    return results


def measure(
    database_url: str,
    redis_url: str,
    *,
    rate: float,
    seconds: float,
    step_s: float,
    steps: bool = True,
) -> dict[str, Any]:
    from flask_migrate import upgrade

    from app import create_app

    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT,
        TWILIO_AUTH_TOKEN=TOKEN,
        SECRET_KEY="bench-load",
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    from tests.conftest import _drop_everything

    _drop_everything(database_url)
    app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url})
    app.extensions["redis"].flushdb()
    with app.app_context():
        upgrade()
    workers, threads = env.get("WEB_WORKERS", "2"), env.get("WEB_THREADS", "8")
    figures: dict[str, Any] = {
        "workers": workers,
        "threads": threads,
        "service_steps": [],
        "bare_steps": [],
        "floor_steps": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = Server("app:create_app()", env, Path(tmp) / "service.log")
        try:
            caller = Caller(server.port, "a")
            waiting = _waiting_callers(caller, 1000)
            holds = [
                caller.request("/twilio/voice/hold", n, QueueSid="QU" + "4" * 32) for n in waiting
            ]
            incoming = Caller(server.port, "b")
            total = int(rate * seconds)
            cpu = CpuMeter(server, database_url)
            new_calls = [incoming.request("/twilio/voice/incoming", n) for n in range(total)]
            figures["incoming"] = cpu.measure(lambda: _load(server.port, new_calls, rate, seconds))
            figures["hold"] = cpu.measure(lambda: _load(server.port, holds, rate, seconds))
            if not steps:
                return figures
            figures["service_steps"] = _highest(
                cpu, _mix(Caller(server.port, "c"), holds), SERVICE_STEPS, step_s
            )
        finally:
            server.stop()
        floor = Server("bench.floor_app:create_app()", env, Path(tmp) / "floor.log")
        try:
            placed = Caller(floor.port, "e")
            floor_holds = [placed.request("/twilio/voice/hold", n) for n in range(1000)]
            # each waiting caller has a place to read: an entry as the service packs it
            entered = datetime.now(UTC)
            app.extensions["redis"].hset(
                floor_app.PLACES,
                mapping={
                    placed.sid(n): pack_entry(n, "arm", "P2", entered, entered) for n in range(1000)
                },
            )
            figures["floor_steps"] = _highest(
                CpuMeter(floor, database_url),
                _mix(Caller(floor.port, "f"), floor_holds),
                FLOOR_STEPS,
                step_s,
            )
        finally:
            floor.stop()
        bare = Server("bench.bare_app:create_app()", env, Path(tmp) / "bare.log")
        try:
            plain = Caller(bare.port, "d")
            figures["bare_steps"] = _highest(
                CpuMeter(bare, database_url),
                lambda count: [plain.request("/twilio/voice/hold", n % 1000) for n in range(count)],
                BARE_STEPS,
                step_s,
            )
        finally:
            bare.stop()
    return figures


def _mix(caller: Caller, holds: list[dict[str, Any]]) -> Any:
    """The stepped load: new calls (a fresh CallSid each) and hold requests alternating."""
    counter = iter(range(10**9))

    def make(count: int) -> list[dict[str, Any]]:
        return [
            caller.request("/twilio/voice/incoming", next(counter))
            if i % 2 == 0
            else holds[i % len(holds)]
            for i in range(count)
        ]

    return make


def _best(steps: list[dict]) -> float | None:
    held = [s["rate"] for s in steps if s["held"]]
    return max(held) if held else None


#: The step every server climbs, and holds: where their CPU per request is compared.
COMMON_STEP = 200


def _cpu_at(steps: list[dict], rate: float) -> float | None:
    """Web and database CPU ms per request at the step of `rate`, when it was held."""
    found = [s for s in steps if s["rate"] == rate and s["held"]]
    return found[0]["web_cpu_ms"] + found[0]["db_cpu_ms"] if found else None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def run(
    redis_url: str,
    database_url: str,
    *,
    rate: float = 200,
    seconds: float = 60,
    step_s: float = 20,
    steps: float = 1,
) -> str:
    f = measure(
        database_url, redis_url, rate=rate, seconds=seconds, step_s=step_s, steps=bool(steps)
    )
    service, bare = _best(f["service_steps"]), _best(f["bare_steps"])
    lines = [
        "## Webhook latency under load",
        "",
        f"`bench/webhook_load.py`: the service under gunicorn (`runtime/gunicorn_conf.py`: "
        f"{f['workers']} workers × {f['threads']} threads, one worker per core so that the GIL "
        "never makes two requests wait for each other's CPU, threads to overlap the waits on "
        "PostgreSQL and Redis), PostgreSQL and Redis on this machine; signed webhooks from a "
        "separate open-loop process (`bench/load_client.py`) over keep-alive connections; "
        "latency counted from each request's due time. Held: no error, p99 under "
        f"{P99_LIMIT_MS:.0f} ms, rate kept up.",
        "",
        f"At {rate:g} requests/s for {seconds:g} s:",
        "",
        "| webhook | requests | errors | p50 ms | p90 ms | p99 ms | max ms | held "
        "| CPU ms per request: web, database |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, label in (
        ("incoming", "`/twilio/voice/incoming` (a new call each time)"),
        ("hold", "`/twilio/voice/hold` (1,000 callers waiting, cycled)"),
    ):
        r = f[name]
        lines.append(
            f"| {label} | {r['sent']:,} | {r['errors']} | {_ms(r['p50_ms'])} | "
            f"{_ms(r['p90_ms'])} | {_ms(r['p99_ms'])} | {_ms(r['max_ms'])} | "
            f"{'yes' if r['held'] else 'no'} | {r['web_cpu_ms']:.2f}, {r['db_cpu_ms']:.2f} |"
        )
    lines += [
        "",
        "CPU per request is what the gunicorn workers and the PostgreSQL backends serving "
        "them used, divided by the answers: at 2 cores, the web side alone cannot hold more "
        "than about 2,000 / (web CPU ms) requests per second, less what the database, Redis "
        "and the load process take.",
        "",
    ]
    if not steps:
        return "\n".join(lines)
    lines += [
        f"Highest rate held, {step_s:g} s per step (service and floor: incoming and hold "
        "alternating; bare: a Flask view returning a fixed TwiML document; floor: "
        "`bench/floor_app.py`, the signature check and one round trip, an `INSERT` committed "
        "in PostgreSQL for a new call, an `HGET` in Redis for a hold, nothing else):",
        "",
        "| server | rate/s | errors | p50 ms | p99 ms | held | CPU ms per request: web, database |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    floor = _best(f["floor_steps"])
    for label, results in (
        ("service", f["service_steps"]),
        ("floor", f["floor_steps"]),
        ("bare Flask", f["bare_steps"]),
    ):
        for s in results:
            lines.append(
                f"| {label} | {s['rate']:g} | {s['errors']} | {_ms(s['p50_ms'])} | "
                f"{_ms(s['p99_ms'])} | {'yes' if s['held'] else 'no'} | "
                f"{s['web_cpu_ms']:.2f}, {s['db_cpu_ms']:.2f} |"
            )

    def ratio(over: float | None, under: float | None) -> str:
        return f"{over / under:.2f}" if over and under else "not measured (a rate not held)"

    lines += [
        "",
        f"Highest rate held: service {service or 'none'}/s, floor {floor or 'none'}/s, bare "
        f"Flask {bare or 'none'}/s. Service to bare Flask: {ratio(service, bare)}; service to "
        f"floor: {ratio(service, floor)}; floor to bare Flask: {ratio(floor, bare)}. The last "
        "step of each list is the first one not held (or the top of the list).",
        "",
    ]
    cost_service, cost_floor, cost_bare = (
        _cpu_at(f[f"{k}_steps"], COMMON_STEP) for k in ("service", "floor", "bare")
    )
    if cost_service and cost_floor and cost_bare:
        lines += [
            f"The steadier figure: CPU per request (web and database) at {COMMON_STEP}/s, the "
            f"step all three held: service {cost_service:.2f} ms, floor {cost_floor:.2f} ms, "
            f"bare Flask {cost_bare:.2f} ms. As ratios of requests per CPU second: service to "
            f"bare Flask {cost_bare / cost_service:.2f}; service to floor "
            f"{cost_floor / cost_service:.2f}; floor to bare Flask {cost_bare / cost_floor:.2f}. "
            "Rates are held or missed by whole steps, and a step is missed by one burst of the "
            "machine's other work; the CPU a request costs moves with the machine's speed, and "
            "the three together, so that these ratios hardly move from run to run.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    from bench.run import postgres_url
    from runtime.embedded_redis import EmbeddedRedis

    url = postgres_url()
    if url is None:
        raise SystemExit("bench.webhook_load needs PostgreSQL")
    redis_server = EmbeddedRedis().start()
    try:
        print(
            run(
                redis_server.url,
                url,
                **{k: float(v) for k, v in (a.split("=") for a in sys.argv[1:])},
            )
        )
    finally:
        redis_server.stop()
