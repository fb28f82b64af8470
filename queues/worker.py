"""The jobs' worker: `python -m queues.worker [QUEUE …]` (default: `sas`).

RQ's own worker (a `SimpleWorker`, with RQ's scheduler for jobs due later) quits when Redis
goes away in the middle of finishing a job: "found an unhandled exception, quitting". This
runner waits for Redis to answer again and starts a fresh worker, so the periodic jobs (and
with them the rebuild of an emptied Redis) go on by themselves after a Redis restart or
failover. SIGTERM or SIGINT stop it as they stop RQ's worker: the job under way is finished
first. Redis is found as the web service finds it (`REDIS_URL`, or `REDIS_SENTINELS`).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from types import FrameType

import redis
from rq import SimpleWorker

from runtime.redis_conn import RedisTarget
from runtime.settings import Settings

log = logging.getLogger("queues.worker")
#: Pause between two attempts to reach Redis again.
RETRY_S = 1.0


class _Worker(SimpleWorker):
    """RQ's worker, telling a requested stop from a crash."""

    stopping = False

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True
        super().request_stop(signum, frame)


def run(target: RedisTarget, queues: list[str]) -> None:
    connection = target.client(decode=False)
    while True:
        try:
            connection.ping()
        except redis.RedisError as exc:
            log.warning("Redis unreachable (%s): the worker waits for it", exc)
            time.sleep(RETRY_S)
            continue
        worker = _Worker(queues, connection=connection)
        try:
            worker.work(with_scheduler=True, logging_level="WARNING")
        except redis.RedisError as exc:  # its goodbye, with Redis gone
            log.warning("worker %s stopped without Redis (%s)", worker.name, exc)
        if worker.stopping:
            return
        log.warning("worker %s quit; a new one starts once Redis answers", worker.name)
        time.sleep(RETRY_S)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.load()
    target = RedisTarget.of(settings)
    if target is None:
        print("the worker needs REDIS_URL or REDIS_SENTINELS", file=sys.stderr)
        return 2
    if not settings.public_base_url:
        # The jobs give Twilio URLs to fetch (a caller back on hold after a lease, a
        # callback): with no request to take the host from, they point at this host.
        log.warning(
            "PUBLIC_BASE_URL is not set: the URLs given to Twilio point at "
            "http://127.0.0.1:%d, which only a web node on this host answers",
            settings.port,
        )
    with contextlib.suppress(KeyboardInterrupt):
        run(target, argv or ["sas"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
