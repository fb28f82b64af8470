"""The hold loop's announcements in Redis (`CallQueues.announcement`, `record_answer`) and
the wait estimate made from them (`queues.estimates`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis

from queues.estimates import estimated_wait_seconds
from queues.store import ANSWERS_KEPT, CallQueues
from runtime.clock import to_ms

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def put(store: CallQueues, call_id: int, *, queue: str = "arm", entered: float = 0) -> None:
    assert store.enqueue(
        call_id=call_id,
        queue=queue,
        priority="P2",
        enqueued_at=at(entered),
        deadline=at(entered + 60),
    )


def announce(store: CallQueues, call_id: int, *, now: float, queue: str = "arm"):
    return store.announcement(call_id=call_id, queue=queue, now=at(now), every_s=45)


def test_a_caller_hears_their_place_at_most_every_45_seconds(store):
    put(store, 1, entered=0)
    put(store, 2, entered=1)
    first = announce(store, 2, now=2)
    assert first is not None and first.position == 2 and first.answers_ms == ()
    assert announce(store, 2, now=46.999) is None  # 44.999 s later: not yet
    again = announce(store, 2, now=47)
    assert again is not None and again.position == 2
    assert announce(store, 1, now=47) is not None  # each caller has their own rhythm


def test_the_queues_recent_answers_come_with_the_announcement_newest_first(store):
    put(store, 1, entered=0)
    for seconds in (10, 20, 30):
        store.record_answer(queue="arm", at=at(seconds))
    store.record_answer(queue="amu", at=at(35))  # another queue's answers are not these
    told = announce(store, 1, now=40)
    assert told is not None
    assert told.answers_ms == (to_ms(at(30)), to_ms(at(20)), to_ms(at(10)))


def test_only_the_last_answers_are_kept_and_only_for_an_hour(store, redis_client):
    for n in range(ANSWERS_KEPT + 5):
        store.record_answer(queue="arm", at=at(n))
    key = store.keys.answers("arm")
    assert redis_client.llen(key) == ANSWERS_KEPT
    assert int(redis_client.lindex(key, 0)) == to_ms(at(ANSWERS_KEPT + 4))
    assert 3_590_000 < redis_client.pttl(key) <= 3_600_000


def test_no_announcement_unless_the_call_waits_in_that_queue_and_none_is_marked(store):
    assert announce(store, 7, now=0) is None  # not in Redis at all
    put(store, 1, entered=0)
    assert announce(store, 1, now=1, queue="amu") is None  # the record names another queue
    assert store.claim(queues=["arm"], agent_id="a", now=at(2), lease_seconds=30) is not None
    assert announce(store, 1, now=3) is None  # an agent holds it
    assert store.release(call_id=1, agent_id="a") is not None
    told = announce(store, 1, now=4)  # back in its place: nothing was marked meanwhile
    assert told is not None and told.position == 1


def test_two_hold_requests_at_once_announce_once(redis_url):
    clients = [redis.Redis.from_url(redis_url) for _ in range(16)]
    try:
        CallQueues(clients[0]).enqueue(
            call_id=1, queue="arm", priority="P2", enqueued_at=at(0), deadline=at(60)
        )
        stores = [CallQueues(client) for client in clients]
        start = threading.Barrier(len(stores))
        told: list[bool] = []

        def hold(store: CallQueues) -> None:
            start.wait()
            told.append(announce(store, 1, now=5) is not None)

        threads = [threading.Thread(target=hold, args=(store,)) for store in stores]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(told) == [False] * (len(stores) - 1) + [True]
    finally:
        clients[0].flushdb()
        for client in clients:
            client.close()


def test_an_announcement_survives_redis_forgetting_its_scripts(store, redis_client):
    put(store, 1)
    redis_client.script_flush()
    assert announce(store, 1, now=1) is not None


def test_bad_input_is_refused_before_redis_is_asked(store):
    with pytest.raises(ValueError, match="unknown queue"):
        store.announcement(call_id=1, queue="nope", now=at(0), every_s=45)
    with pytest.raises(ValueError, match="every_s"):
        store.announcement(call_id=1, queue="arm", now=at(0), every_s=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.announcement(call_id=1, queue="arm", now=datetime(2025, 3, 1), every_s=45)
    with pytest.raises(ValueError, match="unknown queue"):
        store.record_answer(queue="nope", at=at(0))


def test_the_estimate_is_the_position_times_the_mean_interval_of_recent_answers():
    now = at(3600)
    recent = [to_ms(now) - 60_000 * n for n in (1, 2, 3)]  # one answer a minute
    assert estimated_wait_seconds(position=3, answers_ms=recent, now=now) == 180
    stale = [to_ms(now) - 16 * 60_000, to_ms(now) - 17 * 60_000]
    assert estimated_wait_seconds(position=3, answers_ms=stale + recent[:1], now=now) is None
    burst = [to_ms(now) - 10, to_ms(now) - 20]  # faster than a second: counted as a second
    assert estimated_wait_seconds(position=4, answers_ms=burst, now=now) == 4
    assert estimated_wait_seconds(position=1, answers_ms=[], now=now) is None
