"""gunicorn's settings for the web service, used by `make run` and in production:

    gunicorn -c python:runtime.gunicorn_conf 'app:create_app()'

`BIND` (default `127.0.0.1:$PORT`), `WEB_WORKERS` processes of `WEB_THREADS` threads each (see
docs/deployment.md for the sizing). When `PROMETHEUS_MULTIPROC_DIR` is set, `/metrics` sums the
instruments of every worker; that directory is emptied at start and a dead worker's files are
marked so its gauges drop out. Each worker freezes the objects it holds once the app is
loaded (`post_worker_init`), so that a full garbage collection does not scan them again.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
# A webhook answers in milliseconds; 60 s only bounds a stuck request.
timeout = 60
# Idle keep-alive connections are held 75 s (gunicorn's default is 2 s): the server should not
# be the side that closes a connection its client (the load balancer, Twilio, the emulator)
# is about to reuse, which resets that request. Load balancers' idle timeouts are 60 s by
# default, so they close first. gthread keeps idle connections in its poller, not a thread.
keepalive = 75
graceful_timeout = 20


def on_starting(server: Any) -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.db"):
            stale.unlink()


def post_worker_init(worker: Any) -> None:
    # The ~130,000 objects the app's modules leave at start live as long as the worker: moved
    # out of the collector's scans, a full collection stops the worker's threads 11 ms instead
    # of 60 (`python -m bench.gc_pauses`, docs/performance.md).
    gc.freeze()


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
