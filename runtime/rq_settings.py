"""RQ's settings module: `rq worker -c runtime.rq_settings` (and `rq info -c …`) reaches
the same Redis as the web service, from the same variables (`REDIS_URL`, or
`REDIS_SENTINELS` with `REDIS_SENTINEL_MASTER`), so a worker follows a Sentinel failover too.
RQ reads the upper-case names of this module."""

from __future__ import annotations

import os
from typing import Any

from runtime.settings import Settings

_settings = Settings.load()

REDIS_URL: str | None = None if _settings.redis_sentinels else _settings.redis_url
SENTINEL: dict[str, Any] | None = (
    {
        "INSTANCES": list(_settings.redis_sentinels),
        "MASTER_NAME": _settings.redis_sentinel_master,
        "SOCKET_TIMEOUT": 2.0,
        "SENTINEL_KWARGS": {"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
    }
    if _settings.redis_sentinels
    else None
)

if REDIS_URL is None and SENTINEL is None:
    raise RuntimeError(f"RQ needs REDIS_URL or REDIS_SENTINELS (pid {os.getpid()}: neither is set)")
