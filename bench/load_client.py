"""An open-loop HTTP load generator, run as its own process by `bench.webhook_load`.

    python -m bench.load_client REQUESTS.json RATE SECONDS

REQUESTS.json holds prepared requests (`path`, form `body`, `headers`); they are sent in
turn, cycling, at RATE per second for SECONDS over keep-alive HTTP/1.1 connections to
127.0.0.1. Open loop: request i is due at start + i/RATE whether or not earlier ones have
answered, and its latency is counted from that due time, so a slow server cannot slow the
client down and hide its own queueing (no coordinated omission). A new connection is opened
whenever every open one is busy. Prints one JSON line: sent, answered, errors (non-2xx or
failed), latencies in ms (p50, p90, p99, max) and the rate achieved.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

#: Time allowed for every answer to come back after the last request is due.
DRAIN_S = 10.0


def _wire(host: str, request: dict[str, Any]) -> bytes:
    body = request["body"].encode()
    head = [
        f"POST {request['path']} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/x-www-form-urlencoded",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in request.get("headers", {}).items()),
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> int:
    writer.write(payload)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return status


async def run(port: int, requests: list[dict[str, Any]], rate: float, seconds: float) -> dict:
    host = f"127.0.0.1:{port}"
    payloads = [_wire(host, r) for r in requests]
    total = int(rate * seconds)
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}

    async def one(due: float, payload: bytes) -> None:
        nonlocal errors
        connection = None
        while idle and connection is None:
            connection = idle.pop()
            if connection[0].at_eof():  # the server closed it while idle (keep-alive timeout)
                connection[1].close()
                connection = None
        try:
            if connection is None:
                connection = await asyncio.open_connection("127.0.0.1", port)
            status = await _exchange(*connection, payload)
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError):
            errors += 1
            if connection is not None:
                connection[1].close()
            return
        latencies.append((time.perf_counter() - due) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if not 200 <= status < 300:
            errors += 1
        idle.append(connection)

    tasks = []
    start = time.perf_counter() + 0.2
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, payloads[i % len(payloads)])))
    sending_s = time.perf_counter() - start
    _, pending = await asyncio.wait(tasks, timeout=DRAIN_S) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    for _, writer in idle:
        writer.close()
    latencies.sort()

    def q(p: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else None

    return {
        "sent": total,
        "answered": len(latencies),
        "errors": errors + len(pending),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "p50_ms": q(0.50),
        "p90_ms": q(0.90),
        "p99_ms": q(0.99),
        "max_ms": latencies[-1] if latencies else None,
        "achieved_rate": total / sending_s if sending_s > 0 else 0.0,
    }


def main() -> None:
    requests_file, port, rate, seconds = sys.argv[1:5]
    requests = json.loads(Path(requests_file).read_text())
    result = asyncio.run(run(int(port), requests, float(rate), float(seconds)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
