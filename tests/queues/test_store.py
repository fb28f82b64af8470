"""`queues.store` against a real Redis: order, idempotency, leases, counters, snapshot."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis

from queues.store import PRIORITIES, QUEUES, CallQueues, ClaimRefused, QueueEntry

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def put(
    store: CallQueues,
    call_id: int,
    *,
    queue: str = "arm",
    priority: str = "P2",
    entered: float = 0,
    target: float = 60,
) -> bool:
    return store.enqueue(
        call_id=call_id,
        queue=queue,
        priority=priority,
        enqueued_at=at(entered),
        deadline=at(entered + target),
    )


def order(store: CallQueues, queue: str = "arm") -> list[int]:
    return [e.call_id for e in store.ordered(queue)]


def claim(store: CallQueues, agent: str, *queues: str, now: float = 0) -> QueueEntry | None:
    return store.claim(queues=queues or ("arm",), agent_id=agent, now=at(now), lease_seconds=30)


# -- order ---------------------------------------------------------------------------------


def test_p0_first_then_earliest_deadline_whatever_the_priority(store):
    put(store, 1, priority="P2", entered=0, target=60)  # deadline 60
    put(store, 2, priority="P1", entered=10, target=30)  # deadline 40
    put(store, 3, priority="NR", entered=5, target=20)  # deadline 25
    put(store, 4, priority="P0", entered=50, target=0)  # deadline 50, but P0
    put(store, 5, priority="P0", entered=20, target=0)  # the earlier P0
    assert order(store) == [5, 4, 3, 2, 1]
    assert [store.position(c) for c in (5, 4, 3, 2, 1)] == [1, 2, 3, 4, 5]


def test_old_p2_overtakes_new_p1_once_its_deadline_is_earlier(store):
    put(store, 1, priority="P2", entered=0, target=60)  # deadline 60
    put(store, 2, priority="P1", entered=20, target=30)  # deadline 50: still first
    put(store, 3, priority="P1", entered=40, target=30)  # deadline 70: after the old P2
    assert order(store) == [2, 1, 3]


def test_equal_deadlines_go_by_arrival_then_call_id(store):
    put(store, 30, entered=10, target=50)
    put(store, 7, entered=0, target=60)
    put(store, 12, entered=10, target=50)
    put(store, 100, entered=10, target=50)
    assert order(store) == [7, 12, 30, 100]  # ids compare as numbers, not as text


def test_claim_takes_the_best_head_across_allowed_queues(store):
    put(store, 1, queue="arm", entered=0, target=60)
    put(store, 2, queue="callback", entered=0, target=30)
    put(store, 3, queue="amu", priority="P0", entered=0, target=0)
    assert claim(store, "arm-1", "arm", "callback").call_id == 2
    assert claim(store, "arm-2", "arm", "callback").call_id == 1
    assert claim(store, "arm-3", "arm", "callback") is None
    assert claim(store, "reg-1", "amu", "liberal").call_id == 3


def test_equal_deadlines_across_queues_go_by_arrival_then_call_id(store):
    put(store, 5, queue="arm", entered=10, target=50)
    put(store, 3, queue="callback", entered=0, target=60)  # same deadline, earlier arrival
    put(store, 9, queue="arm", entered=0, target=60)
    put(store, 8, queue="liberal", entered=0, target=60)  # same deadline and arrival as 9
    assert claim(store, "a", "arm", "callback").call_id == 3
    assert claim(store, "b", "arm", "liberal").call_id == 8
    assert claim(store, "c", "liberal", "arm").call_id == 9


def test_overdue_lists_passed_deadlines_in_service_order(store):
    put(store, 1, priority="P2", entered=0, target=60)
    put(store, 2, priority="P1", entered=0, target=30)
    put(store, 3, priority="P0", entered=45, target=0)
    put(store, 4, priority="P0", entered=90, target=0)
    put(store, 5, priority="P3", entered=0, target=100)
    assert [e.call_id for e in store.overdue("arm", now=at(60))] == [3, 2, 1]
    assert [e.call_id for e in store.overdue("arm", now=at(60), limit=2)] == [3, 2]
    assert [e.call_id for e in store.overdue("arm", now=at(29))] == []
    assert store.overdue("callback", now=at(1000)) == []


def test_overdue_in_several_queues_at_once_each_bounded(store):
    put(store, 1, queue="arm", priority="P2", entered=0, target=60)
    put(store, 2, queue="arm", priority="P0", entered=10, target=0)
    put(store, 3, queue="amu", priority="P1", entered=0, target=30)
    put(store, 4, queue="amu", priority="P1", entered=5, target=30)
    put(store, 5, queue="liberal", priority="P3", entered=0, target=600)
    found = store.overdue_in(("arm", "amu", "liberal"), now=at(60), limit=1)
    assert {q: [e.call_id for e in entries] for q, entries in found.items()} == {
        "arm": [2],
        "amu": [3],
        "liberal": [],
    }
    everything = store.overdue_in(("amu", "arm"), now=at(60))
    assert list(everything) == ["amu", "arm"]
    assert [e.call_id for e in everything["arm"]] == [2, 1]
    assert [e.call_id for e in everything["amu"]] == [3, 4]
    with pytest.raises(ValueError):
        store.overdue_in(("arm", "elsewhere"), now=at(60))


def test_ordered_limit(store):
    for call_id in range(1, 8):
        put(store, call_id, entered=call_id)
    assert order(store) == list(range(1, 8))
    assert [e.call_id for e in store.ordered("arm", limit=3)] == [1, 2, 3]


# -- idempotency and counters ----------------------------------------------------------------


def test_double_enqueue_changes_nothing_even_into_another_queue(store):
    assert put(store, 1, priority="P2", entered=0)
    assert not put(store, 1, priority="P2", entered=0)
    assert not put(store, 1, queue="amu", priority="P1", entered=99)
    assert store.entry(1) == QueueEntry(1, "arm", "P2", at(0), at(60))
    assert store.snapshot()["arm"].waiting["P2"] == 1
    assert sum(store.snapshot()["amu"].waiting.values()) == 0


def test_enqueue_of_a_held_call_changes_nothing(store):
    put(store, 1)
    claim(store, "a")
    assert not put(store, 1, queue="callback")
    assert store.holder(1) == "a"
    assert order(store, "callback") == []


def test_double_remove_returns_none_and_counts_never_go_negative(store, redis_client):
    put(store, 1, priority="P1", target=30)
    removed = store.remove(call_id=1)
    assert removed == QueueEntry(1, "arm", "P1", at(0), at(30))
    assert store.remove(call_id=1) is None
    assert store.remove(call_id=999) is None
    assert store.snapshot()["arm"].waiting == dict.fromkeys(PRIORITIES, 0)
    assert store.snapshot()["arm"].oldest_enqueued_at is None
    assert redis_client.hgetall(store.keys.counts("arm")) == {}
    assert store.entry(1) is None and store.position(1) is None


def test_remove_leaves_a_held_call_to_its_agent(store):
    put(store, 1)
    claim(store, "a")
    assert store.remove(call_id=1) is None
    assert store.holder(1) == "a"


def test_snapshot_counts_and_oldest_entry(store):
    put(store, 1, priority="P1", entered=20, target=30)  # deadline 50
    put(store, 2, priority="P1", entered=5, target=30)  # deadline 35: served first
    put(store, 3, priority="NR", entered=30)
    put(store, 4, queue="liberal", priority="P3", entered=-100, target=3600)
    assert store.snapshot()["arm"].oldest_enqueued_at == at(5)
    assert claim(store, "a").call_id == 2
    snapshot = store.snapshot()
    assert set(snapshot) == set(QUEUES)
    assert snapshot["arm"].waiting == {"P0": 0, "P1": 1, "P2": 0, "P3": 0, "NR": 1}
    assert snapshot["arm"].oldest_enqueued_at == at(20)  # the held call no longer counts
    assert snapshot["liberal"].waiting == {"P0": 0, "P1": 0, "P2": 0, "P3": 1, "NR": 0}
    assert snapshot["liberal"].oldest_enqueued_at == at(-100)
    assert snapshot["amu"] == snapshot["callback"]
    assert snapshot["amu"].oldest_enqueued_at is None


# -- leases --------------------------------------------------------------------------------


def test_claim_records_a_lease_and_keeps_the_place(store):
    put(store, 1, priority="P1", entered=3, target=30)
    entry = claim(store, "a", now=10)
    assert entry == QueueEntry(1, "arm", "P1", at(3), at(33), "a", at(40))
    assert store.entry(1) == entry
    assert store.held_by("a") == 1 and store.holder(1) == "a"
    assert store.position(1) is None
    assert store.snapshot()["arm"].waiting["P1"] == 0


def test_claim_drops_a_waiting_member_whose_entry_is_gone(store, redis_client):
    put(store, 2, entered=10)
    # a hand edit: a member at the head of the queue with no entry behind it
    redis_client.zadd(store.keys.waiting("arm"), {f"{0:015d}:{1:019d}": 0})
    assert claim(store, "a").call_id == 2
    assert redis_client.zcard(store.keys.waiting("arm")) == 0
    assert claim(store, "b") is None


def test_claim_takes_a_queue_named_twice_once(store):
    put(store, 1)
    assert claim(store, "a", "arm", "arm").call_id == 1
    assert claim(store, "b", "arm", "callback", "arm") is None


def test_agent_holding_a_call_cannot_claim_another(store):
    put(store, 1)
    put(store, 2)
    claim(store, "a")
    with pytest.raises(ClaimRefused) as refused:
        claim(store, "a", "arm", "callback")
    assert refused.value.call_id == 1 and refused.value.agent_id == "a"
    assert order(store) == [2]


@pytest.mark.parametrize("how", ["release", "expiry"])
def test_a_call_given_back_returns_to_exactly_its_place(store, how):
    for call_id, entered in ((1, 0), (2, 10), (3, 20), (4, 30)):
        put(store, call_id, entered=entered)
    held = claim(store, "a")
    assert held is not None and held.call_id == 1
    put(store, 5, entered=0, target=60)  # same deadline and arrival: after 1 by id
    put(store, 6, priority="P1", entered=40, target=60)  # deadline 100: last
    assert order(store) == [5, 2, 3, 4, 6]
    if how == "release":
        back = store.release(call_id=1, agent_id="a")
        assert back == QueueEntry(1, "arm", "P2", at(0), at(60))
    else:
        assert store.expire_leases(now=at(29)) == []
        expired = store.expire_leases(now=at(30))
        assert expired == [QueueEntry(1, "arm", "P2", at(0), at(60), "a", at(30))]
    assert order(store) == [1, 5, 2, 3, 4, 6]
    assert store.position(1) == 1
    assert store.held_by("a") is None and store.holder(1) is None
    assert store.snapshot()["arm"].oldest_enqueued_at == at(0)


def test_release_and_heartbeat_by_another_agent_are_refused(store):
    put(store, 1)
    claim(store, "a", now=0)
    assert not store.heartbeat(call_id=1, agent_id="b", now=at(10), lease_seconds=30)
    assert store.release(call_id=1, agent_id="b") is None
    assert store.holder(1) == "a"
    assert store.entry(1).lease_expires_at == at(30)


def test_heartbeat_extends_a_live_lease_only(store):
    put(store, 1)
    claim(store, "a", now=0)
    assert store.heartbeat(call_id=1, agent_id="a", now=at(20), lease_seconds=30)
    assert store.entry(1).lease_expires_at == at(50)
    assert store.expire_leases(now=at(49)) == []
    assert not store.heartbeat(call_id=1, agent_id="a", now=at(50), lease_seconds=30)
    assert [e.call_id for e in store.expire_leases(now=at(50))] == [1]
    assert not store.heartbeat(call_id=1, agent_id="a", now=at(51), lease_seconds=30)
    assert not store.heartbeat(call_id=2, agent_id="a", now=at(51), lease_seconds=30)


def test_expire_leases_works_in_bounded_batches_earliest_first(store):
    for call_id in range(1, 6):
        put(store, call_id, entered=call_id)
    for n in range(1, 6):
        claim(store, f"agent-{n}", now=n)
    first = store.expire_leases(now=at(100), limit=2)
    assert [(e.call_id, e.agent_id) for e in first] == [(1, "agent-1"), (2, "agent-2")]
    rest = store.expire_leases(now=at(100), limit=10)
    assert [e.call_id for e in rest] == [3, 4, 5]
    assert order(store) == [1, 2, 3, 4, 5]
    assert all(store.held_by(f"agent-{n}") is None for n in range(1, 6))


def test_transfer_ends_the_lease_and_queues_for_regulation(store):
    put(store, 1, priority="P2", entered=0)
    claim(store, "arm-1", now=10)
    assert not store.transfer(
        call_id=1,
        agent_id="arm-2",
        queue="amu",
        priority="P1",
        enqueued_at=at(90),
        deadline=at(210),
    )
    assert store.transfer(
        call_id=1,
        agent_id="arm-1",
        queue="amu",
        priority="P1",
        enqueued_at=at(90),
        deadline=at(210),
    )
    assert store.entry(1) == QueueEntry(1, "amu", "P1", at(90), at(210))
    assert store.held_by("arm-1") is None
    assert store.snapshot()["amu"].waiting["P1"] == 1
    assert store.snapshot()["amu"].oldest_enqueued_at == at(90)
    assert store.expire_leases(now=at(10_000)) == []
    assert not store.transfer(
        call_id=1,
        agent_id="arm-1",
        queue="liberal",
        priority="P1",
        enqueued_at=at(90),
        deadline=at(210),
    )


def test_move_changes_the_place_of_a_waiting_call_only(store):
    put(store, 1, entered=0)
    put(store, 2, entered=10)
    assert store.move(
        call_id=1, queue="callback", priority="P2", enqueued_at=at(0), deadline=at(60)
    )
    assert order(store, "arm") == [2] and order(store, "callback") == [1]
    assert store.snapshot()["arm"].oldest_enqueued_at == at(10)
    claim(store, "a", "arm")
    assert not store.move(
        call_id=2, queue="callback", priority="P2", enqueued_at=at(0), deadline=at(60)
    )
    assert not store.move(
        call_id=3, queue="callback", priority="P2", enqueued_at=at(0), deadline=at(60)
    )


def test_finish_removes_a_waiting_or_held_call_and_all_its_data(store, redis_client):
    put(store, 1)
    put(store, 2)
    claim(store, "a")
    assert store.finish(call_id=1) == QueueEntry(1, "arm", "P2", at(0), at(60), "a", at(30))
    assert store.finish(call_id=2) == QueueEntry(2, "arm", "P2", at(0), at(60))
    assert store.finish(call_id=2) is None
    assert store.held_by("a") is None
    assert claim(store, "a") is None  # the agent is free again
    assert store.dump() == []
    assert redis_client.keys("*") == []


def _claim_together(
    redis_url: str, agent: str, barrier: threading.Barrier, results: dict[str, object]
) -> None:
    client = redis.Redis.from_url(redis_url)  # a connection of its own, like another worker
    try:
        mine = CallQueues(client)
        barrier.wait()
        results[agent] = mine.claim(queues=["arm"], agent_id=agent, now=at(0), lease_seconds=30)
    finally:
        client.close()


def test_concurrent_claimers_on_a_single_call_exactly_one_wins(redis_url, store):
    for n in range(1, 31):
        put(store, n)
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}
        threads = [
            threading.Thread(
                target=_claim_together, args=(redis_url, f"{side}-{n}", barrier, results)
            )
            for side in "xy"
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [agent for agent, got in results.items() if got is not None]
        assert len(results) == 2 and len(winners) == 1
        assert store.holder(n) == winners[0]
    assert order(store) == []


# -- rebuild, generation, clients -----------------------------------------------------------


def test_dump_clear_all_and_load_give_back_the_same_index(store, redis_client):
    put(store, 1, priority="P0", entered=5, target=0)
    put(store, 2, queue="callback", priority="P3", entered=1)
    put(store, 3, entered=2)
    put(store, 4, queue="amu", priority="P1", entered=3, target=120)
    claim(store, "a|b", now=4)  # an agent id with the separator in it
    before = (store.dump(), {q: order(store, q) for q in QUEUES}, store.snapshot())
    assert before[0][0] == QueueEntry(1, "arm", "P0", at(5), at(5), "a|b", at(34))
    store.ensure_generation()
    store.clear_all()
    assert redis_client.keys("*") == [] and store.generation() is None
    assert store.load(before[0]) == 4
    assert store.load(before[0]) == 0  # already there
    after = (store.dump(), {q: order(store, q) for q in QUEUES}, store.snapshot())
    assert after == before
    assert store.held_by("a|b") == 1


def test_load_refuses_inconsistent_entries(store):
    waiting = QueueEntry(1, "arm", "P2", at(0), at(60))
    with pytest.raises(ValueError):
        store.load([waiting, waiting])
    with pytest.raises(ValueError):
        store.load([QueueEntry(1, "arm", "P2", at(0), at(60), agent_id="a")])
    with pytest.raises(ValueError):
        store.load(
            [
                QueueEntry(1, "arm", "P2", at(0), at(60), "a", at(30)),
                QueueEntry(2, "arm", "P2", at(0), at(60), "a", at(30)),
            ]
        )
    assert store.dump() == []


def test_generation_marker(store, redis_client):
    assert store.generation() is None
    token, created = store.ensure_generation()
    assert created and len(token) == 32
    assert store.ensure_generation() == (token, False)
    assert store.generation() == token
    redis_client.flushdb()  # what a restart without persistence looks like
    assert store.generation() is None
    assert store.ensure_generation()[0] != token


def test_a_client_without_decoded_responses_works_the_same(redis_url, redis_client):
    raw = redis.Redis.from_url(redis_url)
    try:
        store = CallQueues(raw)
        put(store, 1, priority="P1", target=30)
        assert store.entry(1) == QueueEntry(1, "arm", "P1", at(0), at(30))
        assert store.position(1) == 1 and order(store) == [1]
        assert claim(store, "a").agent_id == "a"
        assert store.held_by("a") == 1
        assert store.expire_leases(now=at(30))[0].agent_id == "a"
        assert store.snapshot()["arm"].waiting["P1"] == 1
        assert store.ensure_generation()[0] == store.generation()
        assert [e.call_id for e in store.dump()] == [1]
    finally:
        raw.close()


def test_a_second_prefix_never_touches_the_service_keys(redis_client):
    service, other = CallQueues(redis_client), CallQueues(redis_client, prefix="bench")
    put(service, 1)
    put(other, 1, queue="amu")
    other.clear_all()
    assert order(service) == [1] and other.dump() == []


def test_scripts_lost_by_redis_are_loaded_again(store, redis_client):
    put(store, 1)
    redis_client.script_flush()  # what a restart or a failover to a fresh server does
    assert put(store, 2, entered=1)
    redis_client.script_flush()
    assert claim(store, "a").call_id == 1
    assert order(store) == [2]


@pytest.mark.parametrize(
    "change",
    [
        {"queue": "nowhere"},
        {"priority": "P4"},
        {"call_id": -1},
        {"call_id": "12"},
        {"enqueued_at": datetime(2025, 3, 1, 8, 0)},  # naive
        {"deadline": datetime(1969, 12, 31, tzinfo=UTC)},
    ],
)
def test_bad_arguments_are_refused_before_redis(store, change):
    args = {
        "call_id": 1,
        "queue": "arm",
        "priority": "P2",
        "enqueued_at": at(0),
        "deadline": at(60),
    }
    args.update(change)
    with pytest.raises(ValueError):
        store.enqueue(**args)
    assert store.dump() == []


def test_bad_claims_are_refused(store):
    with pytest.raises(ValueError):
        store.claim(queues=[], agent_id="a", now=at(0), lease_seconds=30)
    with pytest.raises(ValueError):
        store.claim(queues=["arm", "elsewhere"], agent_id="a", now=at(0), lease_seconds=30)
    with pytest.raises(ValueError):
        store.claim(queues=["arm"], agent_id="", now=at(0), lease_seconds=30)
    with pytest.raises(ValueError):
        store.claim(queues=["arm"], agent_id="a", now=at(0), lease_seconds=0)
    with pytest.raises(ValueError):
        store.ordered("elsewhere")


def test_times_keep_their_exact_millisecond(store):
    # A moment where `timestamp() * 1000` lands just under its millisecond: a float
    # conversion would store 2170570223528 and move the call ahead of its place.
    moment = datetime(2038, 10, 13, 8, 10, 23, 529_000, tzinfo=UTC)
    store.enqueue(call_id=1, queue="arm", priority="P2", enqueued_at=moment, deadline=moment)
    assert store.entry(1) == QueueEntry(1, "arm", "P2", moment, moment)
    assert store.snapshot()["arm"].oldest_enqueued_at == moment
