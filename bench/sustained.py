"""The largest arrival rate the whole stack holds: `python -m bench.sustained`.

For each rate: a fresh PostgreSQL database, the whole stack as `make run` starts it (web
service under gunicorn, RQ worker and cron, embedded Redis, the Twilio emulator in real time),
then `flask sim run` places calls at that rate for `--minutes`. A rate holds when the
simulator reconciles every call (none lost) and no webhook took 1 s or more (read from the
service's `sas_webhook_latency_seconds` histogram; one gunicorn worker, so one registry).
The section it writes replaces the one between the markers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from runtime.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BEGIN, END = "<!-- sustained:begin -->", "<!-- sustained:end -->"


def _fresh_database(name: str) -> str:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _slow_webhooks(metrics: str) -> tuple[int, int]:
    """(webhooks answered, webhooks that took 1 s or more) from the Prometheus text."""
    total = over = 0
    counts: dict[str, float] = {}
    within: dict[str, float] = {}
    for line in metrics.splitlines():
        found = re.match(r'sas_webhook_latency_seconds_count\{webhook="([^"]+)"\} (\S+)', line)
        if found:
            counts[found.group(1)] = float(found.group(2))
        found = re.match(
            r'sas_webhook_latency_seconds_bucket\{le="1\.0",webhook="([^"]+)"\} (\S+)', line
        )
        if found:
            within[found.group(1)] = float(found.group(2))
    for hook, count in counts.items():
        total += int(count)
        over += int(count - within.get(hook, 0))
    return total, over


def measure(rate: float, minutes: float, agents: tuple[int, int, int]) -> dict[str, Any]:
    port = free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        WEB_WORKERS="1",
        WEB_THREADS="32",
        DATABASE_URL=_fresh_database("sas_load"),
        FLASK_APP="app",
    )
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    stack = subprocess.Popen(
        [sys.executable, "-m", "runtime.launch"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        redis_url = None
        deadline = time.monotonic() + 120
        assert stack.stdout is not None
        while time.monotonic() < deadline:
            line = stack.stdout.readline()
            found = re.search(r"embedded Redis on (redis://\S+)", line)
            redis_url = found.group(1) if found else redis_url
            if "SAS service on" in line:
                break
        else:
            raise RuntimeError("the stack did not start")
        calls = int(rate * minutes * 60)
        arm, amu, liberal = agents
        sim = subprocess.run(
            [
                str(BIN / "flask"),
                "sim",
                "run",
                "--calls",
                str(calls),
                "--rate",
                f"{rate}/s",
                "--arm",
                str(arm),
                "--amu",
                str(amu),
                "--liberal",
                str(liberal),
                "--speed",
                "5",
                "--service-url",
                f"http://127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=dict(env, REDIS_URL=redis_url or ""),
            capture_output=True,
            text=True,
            timeout=minutes * 60 + 1200,
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            total, over = _slow_webhooks(answer.read().decode())
        lost = sim.returncode != 0 or "reconciliation: all" not in sim.stdout
        return {
            "rate": rate,
            "calls": calls,
            "lost": lost,
            "webhooks": total,
            "slow": over,
            "holds": not lost and over == 0,
            "summary": sim.stdout[-1500:],
        }
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="1,2,4", help="calls per second, comma-separated")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--agents", default="20,6,6", help="ARMs,AMU,libéral regulators")
    options = parser.parse_args()
    agents = tuple(int(n) for n in options.agents.split(","))
    results = []
    for rate in (float(r) for r in options.rates.split(",")):
        result = measure(rate, options.minutes, (agents[0], agents[1], agents[2]))
        print(result["summary"], file=sys.stderr)
        results.append(result)
    held = [r["rate"] for r in results if r["holds"]]
    lines = [
        BEGIN,
        "## Sustained arrival rate of the whole stack",
        "",
        f"`python -m bench.sustained --rates {options.rates} --minutes {options.minutes:g}"
        f" --agents {options.agents}`: PostgreSQL, one gunicorn worker with 32 threads, RQ"
        " worker and cron, embedded Redis, the Twilio emulator in real time, callers and"
        " agents from `flask sim run --speed 5`.",
        "",
        "| rate (calls/s) | calls | lost calls | webhooks | webhooks ≥ 1 s | holds |",
        "| ---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['rate']:g} | {r['calls']} | {'yes' if r['lost'] else 'none'} | "
            f"{r['webhooks']} | {r['slow']} | {'yes' if r['holds'] else 'no'} |"
        )
    lines += [
        "",
        f"Largest rate held: {max(held):g} calls/s." if held else "No rate held.",
        "For scale (domain.md): France's SAMU-Centres 15 receive about 1 call/s in all.",
        END,
    ]
    section = "\n".join(lines)
    out = ROOT / "docs" / "benchmarks.md"
    text = out.read_text() if out.exists() else ""
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + section + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    out.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
