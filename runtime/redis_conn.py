"""The service's Redis connection: `REDIS_URL`, Redis behind Sentinel (`REDIS_SENTINELS`),
or an embedded server of its own.

Behind Sentinel every connection asks the sentinels for the current master, so after a
failover the web nodes, the RQ workers and the cron follow the new master by themselves.
While a failover settles, a sentinel may briefly vouch for no master at all: a connection
then asks again, three times within about 1 s, before the command fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, current_app
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel

from .embedded_redis import EmbeddedRedis
from .settings import Settings

log = logging.getLogger(__name__)

# Short timeouts: a Redis outage must not hang a caller's webhook.
_TIMEOUTS: dict[str, Any] = {
    "socket_timeout": 2.0,
    "socket_connect_timeout": 1.0,
    "retry_on_timeout": False,
    "health_check_interval": 30,
}

# Only "no master yet" is asked again: a timeout is not, so a hung Redis still fails fast.
_MASTER_RETRY = Retry(
    ExponentialBackoff(cap=0.4, base=0.1), 3, supported_errors=(MasterNotFoundError,)
)


@dataclass(frozen=True)
class RedisTarget:
    """Where Redis is: one URL, or the sentinels and the name of the master they watch."""

    url: str | None = None
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = "sas"

    @classmethod
    def of(cls, settings: Settings) -> RedisTarget | None:
        if settings.redis_sentinels:
            return cls(sentinels=settings.redis_sentinels, master=settings.redis_sentinel_master)
        if settings.redis_url:
            return cls(url=settings.redis_url)
        return None

    def client(self, *, decode: bool = True) -> redis.Redis:
        """A client; `decode=False` for RQ, which needs the raw bytes."""
        if self.sentinels:
            sentinel = Sentinel(
                list(self.sentinels),
                sentinel_kwargs={"socket_timeout": 1.0, "socket_connect_timeout": 1.0},
            )
            master: redis.Redis = sentinel.master_for(
                self.master, decode_responses=decode, retry=_MASTER_RETRY, **_TIMEOUTS
            )
            return master
        assert self.url is not None
        return redis.Redis.from_url(self.url, decode_responses=decode, **_TIMEOUTS)

    def describe(self) -> str:
        if self.sentinels:
            hosts = ",".join(f"{host}:{port}" for host, port in self.sentinels)
            return f"sentinel master {self.master!r} via {hosts}"
        return str(self.url)


def init_redis(app: Flask, settings: Settings) -> redis.Redis:
    target = RedisTarget.of(settings)
    if target is None:
        server = EmbeddedRedis().start()
        app.extensions["embedded_redis"] = server
        target = RedisTarget(url=server.url)
        log.warning("no REDIS_URL: started an embedded redis-server at %s", server.url)
    client = target.client()
    app.extensions["redis"] = client
    app.extensions["redis_target"] = target
    return client


def redis_target(app: Flask) -> RedisTarget:
    target: RedisTarget = app.extensions["redis_target"]
    return target


def current_redis() -> redis.Redis:
    client: redis.Redis = current_app.extensions["redis"]
    return client
