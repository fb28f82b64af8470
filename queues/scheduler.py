"""The periodic jobs' runner: `python -m queues.scheduler`.

It runs RQ's own cron scheduler with the jobs of `queues/cron.py` (sweep and rebuild,
lease expiry, due callbacks, handling-time repair). `rq cron` stops at the first Redis error:
its loop does not catch one, so a Redis restart or failover would leave leases unexpired and
an emptied Redis unrebuilt until someone restarted it. This runner waits for Redis to answer
again and starts a fresh scheduler, so the service recovers by itself. Redis is found as the
web service finds it (`REDIS_URL`, or `REDIS_SENTINELS` and `REDIS_SENTINEL_MASTER`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from types import FrameType
from typing import Any

import redis
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound

from runtime.redis_conn import RedisTarget
from runtime.settings import Settings

log = logging.getLogger("queues.scheduler")
JOBS = "queues.cron"
#: Pause between two attempts to reach Redis again.
RETRY_S = 1.0


class Stop(Exception):
    pass


class _Scheduler(CronScheduler):
    """RQ's scheduler, whose goodbye may not fail: when Redis is gone, or came back empty and
    forgot it, there is nothing to unregister."""

    def register_death(self, pipeline: Any = None) -> None:
        try:
            super().register_death(pipeline)
        except (redis.RedisError, SchedulerNotFound) as exc:
            log.info("scheduler %s not unregistered (%s)", self.name, type(exc).__name__)


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise Stop()


def run(target: RedisTarget, *, logging_level: str = "WARNING") -> None:
    """Run the cron scheduler until SIGTERM or SIGINT, starting it again after Redis errors."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    connection = target.client(decode=False)
    while True:
        try:
            connection.ping()
            scheduler = _Scheduler(connection=connection, logging_level=logging_level)
            scheduler.load_config_from_file(JOBS)
            scheduler.start()  # returns only when stopped by a signal (it installs its own)
            return
        except Stop:
            return
        except redis.RedisError as exc:
            log.warning("Redis unreachable (%s): the periodic jobs wait for it", exc)
            # the scheduler had put its own handlers in place: ours stop the wait
            signal.signal(signal.SIGTERM, _stop)
            signal.signal(signal.SIGINT, _stop)
            time.sleep(RETRY_S)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    target = RedisTarget.of(Settings.load())
    if target is None:
        print("the periodic jobs need REDIS_URL or REDIS_SENTINELS", file=sys.stderr)
        return 2
    with contextlib.suppress(Stop, KeyboardInterrupt):
        run(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
