"""The app's `CallQueues`, bound to its Redis connection."""

from __future__ import annotations

from flask import current_app

from runtime.redis_conn import current_redis

from .store import CallQueues


def call_queues() -> CallQueues:
    store = current_app.extensions.get("call_queues")
    if store is None:
        store = CallQueues(current_redis())
        current_app.extensions["call_queues"] = store
    return store
