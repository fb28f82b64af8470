"""`make run`: the whole service on one machine, with nothing to set up.

Starts, as child processes: an embedded Redis when `REDIS_URL` is not set; the built-in
Twilio emulator when `TWILIO_ACCOUNT_SID` is not set (its credentials go to
`instance/emulator.json`, and the SAS numbers are pointed at this service); then migrates
the database and starts the web server (gunicorn), the RQ worker with its scheduler, and the
RQ cron that runs the periodic sweeps. Ctrl-C stops them all.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .embedded_redis import EmbeddedRedis, free_port

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in {timeout:.0f} s") from None
            time.sleep(0.2)


def _start_emulator(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    emulator_port = free_port()
    instance = ROOT / "instance"
    instance.mkdir(exist_ok=True)
    config_path = instance / "emulator.json"
    config_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callflow.telephony.emulator",
            "--port",
            str(emulator_port),
            "--write",
            str(config_path),
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while not config_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the Twilio emulator did not start")
        time.sleep(0.1)
    config = json.loads(config_path.read_text())
    base = f"http://127.0.0.1:{port}/twilio/voice"
    numbers = env.get("SAS_PUBLIC_NUMBERS", "+33199000015").split(",") + env.get(
        "SAS_PRO_NUMBERS", "+33199000016"
    ).split(",")
    for number in filter(None, (n.strip() for n in numbers)):
        body = json.dumps(
            {
                "voice_url": f"{base}/incoming",
                "status_callback": f"{base}/status",
                "fallback_url": f"{base}/fallback",
                "method": "POST",
            }
        ).encode()
        request = urllib.request.Request(
            f"{config['api_base_url']}/emulator/numbers/{number}",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request, timeout=5).close()
    print(f"Twilio emulator on {config['api_base_url']} (no TWILIO_ACCOUNT_SID given)", flush=True)
    return process


def main() -> int:
    # `kill` (SIGTERM) stops everything as Ctrl-C does: the `finally` below runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    env = dict(os.environ)
    port = int(env.get("PORT", "5000"))
    children: list[subprocess.Popen[bytes]] = []
    redis_server: EmbeddedRedis | None = None
    metrics_dir: str | None = None
    try:
        env.setdefault("PORT", str(port))
        # One set of instruments per node, summed over gunicorn's workers (dashboards/health).
        if not env.get("PROMETHEUS_MULTIPROC_DIR"):
            metrics_dir = tempfile.mkdtemp(prefix="sas-metrics-")
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        if not env.get("REDIS_URL") and not env.get("REDIS_SENTINELS"):
            redis_server = EmbeddedRedis().start()
            env["REDIS_URL"] = redis_server.url
            print(f"embedded Redis on {redis_server.url}", flush=True)
        if not env.get("TWILIO_ACCOUNT_SID"):
            children.append(_start_emulator(env, port))
        env.setdefault("FLASK_APP", "app")
        subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=ROOT, env=env, check=True)
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "queues.worker", "sas"],
                cwd=ROOT,
                env=env,
            )
        )
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "queues.scheduler"],
                cwd=ROOT,
                env=env,
            )
        )
        children.append(
            subprocess.Popen(
                [
                    str(BIN / "gunicorn"),
                    "--config",
                    "python:runtime.gunicorn_conf",
                    "app:create_app()",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        _wait_http(f"http://127.0.0.1:{port}/healthz")
        print(f"SAS service on http://127.0.0.1:{port}  (Ctrl-C stops everything)", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        failed = [c.args for c in children if c.poll() is not None]
        print(f"a process stopped: {failed}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis_server is not None:
            redis_server.stop()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
