"""Fixtures of the queue store's tests."""

from __future__ import annotations

import pytest
import redis

from queues.store import CallQueues


@pytest.fixture()
def store(redis_client: redis.Redis) -> CallQueues:
    """The store on the tests' real Redis, under its default prefix."""
    return CallQueues(redis_client)
