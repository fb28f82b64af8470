"""The service's Redis connection: `REDIS_URL`, or an embedded server of its own."""

from __future__ import annotations

import logging

import redis
from flask import Flask, current_app

from .embedded_redis import EmbeddedRedis

log = logging.getLogger(__name__)


def connect(url: str) -> redis.Redis:
    """A client with short timeouts: a Redis outage must not hang a caller's webhook."""
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=2.0,
        socket_connect_timeout=1.0,
        retry_on_timeout=False,
        health_check_interval=30,
    )


def init_redis(app: Flask, url: str | None) -> redis.Redis:
    if url is None:
        server = EmbeddedRedis().start()
        app.extensions["embedded_redis"] = server
        url = server.url
        log.warning("no REDIS_URL: started an embedded redis-server at %s", url)
    client = connect(url)
    app.extensions["redis"] = client
    app.extensions["redis_url"] = url
    return client


def current_redis() -> redis.Redis:
    client: redis.Redis = current_app.extensions["redis"]
    return client
