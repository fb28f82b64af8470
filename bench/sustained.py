"""The largest arrival rate the whole stack holds: `python -m bench.sustained`.

For each rate: a fresh PostgreSQL database, the whole stack as `make run` starts it (web
service under gunicorn, RQ worker and cron, embedded Redis, the Twilio emulator in real time),
then `flask sim run` places calls at that rate for `--minutes`. A rate holds when the
simulator reconciles every call (none lost), its agents met no error from the staff API, and
every webhook was answered 2xx in under 1 s as the emulator saw it on the wire (so gunicorn's
own queueing counts; `GET /emulator/webhook-stats`).
The section it writes replaces the one between its markers in docs/benchmarks.md:
`sustained` (the largest rate held, issue 3) or `surge` (a surge held for 10 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from bench.run import libpq_url
from runtime.embedded_redis import free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: The sections this command owns in docs/benchmarks.md; `make bench` keeps them as they are.
SECTIONS = ("sustained", "surge")


def kept_sections(text: str) -> str:
    """The sections of `text` (docs/benchmarks.md) this command wrote, to carry over."""
    kept = []
    for name in SECTIONS:
        begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
        if begin in text and end in text:
            kept.append(text[text.index(begin) : text.index(end) + len(end)])
    return "\n\n".join(kept)


def _fresh_database(name: str) -> str:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _stored_bytes(database_url: str) -> tuple[int, int]:
    """(calls in the database, bytes its tables take with their indexes and TOAST)."""
    plain = libpq_url(database_url)
    with psycopg.connect(plain) as conn:
        calls = conn.execute("SELECT count(*) FROM calls").fetchone()
        size = conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchone()
    return int(calls[0] if calls else 0), int(size[0] if size and size[0] else 0)


def _emulator_tally() -> dict[str, Any]:
    """What the emulator's side saw of every webhook (the service's far end, as Twilio)."""
    config = json.loads((ROOT / "instance" / "emulator.json").read_text())
    stats_url = f"{config['api_base_url']}/emulator/webhook-stats"
    with urllib.request.urlopen(stats_url, timeout=30) as answer:
        tally: dict[str, Any] = json.loads(answer.read())
    return tally


def _agent_errors(summary: str) -> int:
    found = re.search(r"agent errors \((\d+)\)", summary)
    return int(found.group(1)) if found else 0


def measure(rate: float, minutes: float, agents: tuple[int, int, int]) -> dict[str, Any]:
    port = free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        DATABASE_URL=_fresh_database("sas_load"),
        FLASK_APP="app",
    )
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "WEB_WORKERS", "WEB_THREADS"):
        env.pop(name, None)
    # The stack's output goes to a file: a pipe nobody reads fills up, and every process
    # writing a log line to it would then stop.
    log_path = ROOT / "instance" / f"load-{rate:g}.log"
    log_path.parent.mkdir(exist_ok=True)
    log_file = log_path.open("w")
    stack = subprocess.Popen(
        [sys.executable, "-m", "runtime.launch"],
        cwd=ROOT,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    try:
        redis_url = _wait_for_stack(log_path)
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
        tally = _emulator_tally()
        stored_calls, stored_bytes = _stored_bytes(env["DATABASE_URL"])
        lost = sim.returncode != 0 or "reconciliation: all" not in sim.stdout
        failed = tally["http_errors"] + tally["unanswered"]
        agent_errors = _agent_errors(sim.stdout)
        return {
            "rate": rate,
            "calls": calls,
            "lost": lost,
            "webhooks": tally["sent"],
            "failed": failed,
            "slow": tally["slow"],
            "max_s": tally["max_seconds"],
            "agent_errors": agent_errors,
            "holds": not lost and failed == 0 and tally["slow"] == 0 and agent_errors == 0,
            "summary": sim.stdout[-2500:],
            "bytes_per_call": stored_bytes / stored_calls if stored_calls else 0.0,
        }
    finally:
        stack.send_signal(signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            stack.kill()
        log_file.close()


def _wait_for_stack(log_path: Path) -> str | None:
    """The embedded Redis URL, once the stack's log says the service is up."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if "SAS service on" in text:
            found = re.search(r"embedded Redis on (redis://\S+)", text)
            return found.group(1) if found else None
        time.sleep(0.5)
    raise RuntimeError(f"the stack did not start: see {log_path}")


def _section(options: argparse.Namespace, results: list[dict[str, Any]]) -> list[str]:
    held = [r["rate"] for r in results if r["holds"]]
    lines = [
        f"<!-- {options.section}:begin -->",
        options.title,
        "",
        f"`python -m bench.sustained --rates {options.rates} --minutes {options.minutes:g}"
        f" --agents {options.agents} --section {options.section}`"
        f" ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC): PostgreSQL, gunicorn as `make run` starts"
        " it (2 workers × 8 threads), RQ worker and cron, embedded Redis, the Twilio emulator in"
        " real time, all on this 2-core machine; callers and agents from `flask sim run"
        " --speed 5` (callers' patience and agents' handling times divided by 5, so that a few"
        " dozen simulated agents keep up; an idle agent asks for the next call every second)."
        " Webhook figures are the emulator's, on the wire; rates are tried lowest first and"
        " the run stops at the first not held.",
        "",
        "| rate (calls/s) | calls | lost calls | webhooks | non-2xx or unanswered"
        " | ≥ 1 s | slowest s | staff API errors | holds | database bytes per call |",
        "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['rate']:g} | {r['calls']} | {'yes' if r['lost'] else 'none'} | "
            f"{r['webhooks']} | {r['failed']} | {r['slow']} | {r['max_s']:.3f} | "
            f"{r['agent_errors']} | {'yes' if r['holds'] else 'no'} | {r['bytes_per_call']:,.0f} |"
        )
    lines += [
        "",
        "Database bytes per call: the tables with their indexes and TOAST after the run,"
        " divided by the calls (timeline, dossier, decision, handling times, audit).",
        f"Largest rate held: {max(held):g} calls/s." if held else "No rate held.",
        "For scale (domain.md): France's SAMU-Centres 15 receive about 1 call/s in all; a large"
        " SAMU (Lyon) about 1,200 calls a day.",
        f"<!-- {options.section}:end -->",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="1,2,4", help="calls per second, comma-separated")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--agents", default="20,6,6", help="ARMs,AMU,libéral regulators")
    parser.add_argument("--section", default="sustained", choices=SECTIONS)
    options = parser.parse_args()
    options.title = {
        "sustained": "## Sustained arrival rate of the whole stack",
        "surge": "## A surge held for 10 minutes",
    }[options.section]
    agents = tuple(int(n) for n in options.agents.split(","))
    results = []
    for rate in sorted(float(r) for r in options.rates.split(",")):
        result = measure(rate, options.minutes, (agents[0], agents[1], agents[2]))
        print(result["summary"], file=sys.stderr)
        results.append(result)
        if not result["holds"]:
            break  # rates go lowest first: a higher one would not hold either
    section = "\n".join(_section(options, results))
    begin, end = f"<!-- {options.section}:begin -->", f"<!-- {options.section}:end -->"
    out = ROOT / "docs" / "benchmarks.md"
    text = out.read_text() if out.exists() else ""
    if begin in text:
        text = text[: text.index(begin)] + section + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + section + "\n"
    out.write_text(text)
    print(section)


if __name__ == "__main__":
    main()
