"""`GET /api/dashboard/stream`: the live snapshot as Server-Sent Events.

On connect the client gets `event: snapshot` with the current snapshot (a reconnect with
`Last-Event-ID` is no different: there is no backlog to replay). Then the stream listens on
the Redis pub/sub channel the after-commit hook publishes to (`dashboards.refresh`) and checks
the snapshot once a second: an event is sent when it changed, never more than one a second.
A `:` comment line goes out every `HEARTBEAT_S` seconds, whatever else is sent, so proxies
keep the connection. Snapshots are built at most once a second per process and shared by
every stream of that process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Flask
from sqlalchemy.orm import Session

from queues.access import call_queues
from runtime.clock import now
from runtime.db import db
from runtime.fast_json import dumps_bytes

from .refresh import live_stats
from .snapshot import build_snapshot

log = logging.getLogger(__name__)

HEARTBEAT_S = 10.0
MIN_INTERVAL_S = 1.0
RETRY_MS = 2000
SETTLE_S = 0.15


def current_snapshot(app: Flask) -> dict[str, Any]:
    """A fresh snapshot, in its own short transaction (never holding a lock while idle)."""
    with app.app_context(), Session(db.engine) as session:
        try:
            return build_snapshot(
                session=session, store=call_queues(), stats=live_stats(app), moment=now()
            )
        finally:
            session.rollback()


class SharedSnapshot:
    """One snapshot for every stream of the process, rebuilt when older than `max_age_s` or
    than the change a stream was told about."""

    def __init__(self, build: Callable[[], dict[str, Any]], max_age_s: float = 1.0) -> None:
        self._build = build
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._built_at = float("-inf")
        self._value: dict[str, Any] | None = None

    def get(self, *, newer_than: float | None = None) -> dict[str, Any]:
        with self._lock:
            stale = time.monotonic() - self._built_at >= self._max_age_s
            if self._value is None or stale or (newer_than or 0) > self._built_at:
                self._built_at = time.monotonic()
                self._value = self._build()
            return self._value


def shared_snapshot(app: Flask) -> SharedSnapshot:
    shared = app.extensions.get("dashboards_shared_snapshot")
    if shared is None:
        shared = SharedSnapshot(lambda: current_snapshot(app))
        app.extensions["dashboards_shared_snapshot"] = shared
    return shared


def _event(snapshot: dict[str, Any], sequence: int) -> str:
    body = dumps_bytes(snapshot).decode()
    return f"id: {sequence}\nevent: snapshot\ndata: {body}\n\n"


def _content(snapshot: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snapshot.items() if k != "at"}


def snapshot_events(
    app: Flask, *, heartbeat_s: float = HEARTBEAT_S, max_seconds: float | None = None
) -> Iterator[str]:
    """The event stream; ends when the client goes (the server stops iterating) or after
    `max_seconds` (the browser then reconnects by itself)."""
    client: redis.Redis = app.extensions["redis"]
    shared = shared_snapshot(app)
    channel = live_stats(app).keys.channel
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    started = time.monotonic()
    try:
        snapshot = shared.get(newer_than=time.monotonic())
        sequence = 1
        yield f"retry: {RETRY_MS}\n" + _event(snapshot, sequence)
        last_content = _content(snapshot)
        last_sent = last_beat = time.monotonic()
        next_check = last_sent + MIN_INTERVAL_S
        changed_at: float | None = None
        while max_seconds is None or time.monotonic() - started < max_seconds:
            until = min(next_check, last_beat + heartbeat_s)
            message = pubsub.get_message(timeout=max(0.0, until - time.monotonic()))
            if message is not None:
                # Let the producer finish its Redis step (it publishes right after its
                # commit, before indexing the call), then look at once if the rate allows.
                changed_at = time.monotonic() + SETTLE_S
                next_check = max(min(next_check, changed_at), last_sent + MIN_INTERVAL_S)
            if time.monotonic() >= next_check:
                snapshot = shared.get(newer_than=changed_at)
                changed_at = None
                content = _content(snapshot)
                if content != last_content:
                    sequence += 1
                    yield _event(snapshot, sequence)
                    last_content = content
                    last_sent = time.monotonic()
                next_check = time.monotonic() + MIN_INTERVAL_S
            if time.monotonic() - last_beat >= heartbeat_s:
                yield ": heartbeat\n\n"
                last_beat = time.monotonic()
    except redis.RedisError as exc:
        # The browser reconnects by itself; the reconnect answers 503 until Redis is back.
        log.warning("dashboard stream ends (Redis: %s)", exc)
    finally:
        try:
            pubsub.close()
        except redis.RedisError:
            log.warning("dashboard stream: pub/sub not closed cleanly")
