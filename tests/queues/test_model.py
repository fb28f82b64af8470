"""`queues.store` against a plain-Python reference model, driven by Hypothesis: random
enqueues, removes, moves, claims across queue subsets, heartbeats, releases, transfers,
lease expiries, finishes and rebuilds. After every step the served order, every count, the
oldest entry of each queue, every lease and every position equal the model's."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import redis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from queues.store import PRIORITIES, QUEUES, CallQueues, ClaimRefused, QueueEntry

T0_MS = 1_740_816_000_000  # 2025-03-01 08:00 UTC
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CALL_IDS = st.integers(min_value=1, max_value=12)
AGENTS = st.sampled_from(["a1", "a2", "a3", "10", "9"])
QUEUE_NAMES = st.sampled_from(QUEUES)
PRIORITY_NAMES = st.sampled_from(PRIORITIES)
# Few distinct values, so that equal deadlines and equal arrivals happen often.
ENTRY_BACK_MS = st.sampled_from([0, 1000, 2000])
TARGET_MS = st.sampled_from([0, 1000, 2000, 60_000])
LEASE_S = st.sampled_from([1, 2, 5])


def dt(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


@dataclass(frozen=True)
class Place:
    queue: str
    priority: str
    enqueued_ms: int
    deadline_ms: int
    agent: str | None = None
    lease_ms: int | None = None

    def as_entry(self, call_id: int) -> QueueEntry:
        return QueueEntry(
            call_id=call_id,
            queue=self.queue,
            priority=self.priority,
            enqueued_at=dt(self.enqueued_ms),
            deadline=dt(self.deadline_ms),
            agent_id=self.agent,
            lease_expires_at=dt(self.lease_ms) if self.lease_ms is not None else None,
        )


def service_key(call_id: int, place: Place) -> tuple[int, int, int, int]:
    """The specification of the order: P0 first, then earliest deadline, arrival, id."""
    return (0 if place.priority == "P0" else 1, place.deadline_ms, place.enqueued_ms, call_id)


class QueueModel(RuleBasedStateMachine):
    redis_url = ""

    def __init__(self) -> None:
        super().__init__()
        self.client = redis.Redis.from_url(self.redis_url, decode_responses=True)
        self.client.flushdb()
        self.store = CallQueues(self.client)
        self.now_ms = T0_MS
        self.places: dict[int, Place] = {}

    def teardown(self) -> None:
        self.client.flushdb()
        self.client.close()

    # -- the model ----------------------------------------------------------------------------

    def waiting(self, queue: str) -> list[int]:
        found = [(c, p) for c, p in self.places.items() if p.agent is None and p.queue == queue]
        return [c for c, p in sorted(found, key=lambda item: service_key(*item))]

    def holding(self, agent: str) -> int | None:
        return next((c for c, p in self.places.items() if p.agent == agent), None)

    def call_and_agent(self, data: st.DataObject) -> tuple[int, str]:
        """Half the time a call and its true holder, so that heartbeats, releases and
        transfers succeed often enough; else any pair, mostly refused."""
        held = sorted((c, p.agent) for c, p in self.places.items() if p.agent is not None)
        if held and data.draw(st.booleans()):
            return data.draw(st.sampled_from(held))
        return data.draw(CALL_IDS), data.draw(AGENTS)

    def new_place(self, queue: str, priority: str, back_ms: int, target_ms: int) -> Place:
        enqueued = self.now_ms - back_ms
        return Place(queue, priority, enqueued, enqueued + target_ms)

    # -- rules --------------------------------------------------------------------------------

    @rule(
        call_id=CALL_IDS,
        queue=QUEUE_NAMES,
        priority=PRIORITY_NAMES,
        back=ENTRY_BACK_MS,
        wait=TARGET_MS,
    )
    def enqueue(self, call_id, queue, priority, back, wait):
        place = self.new_place(queue, priority, back, wait)
        expected = call_id not in self.places
        got = self.store.enqueue(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=dt(place.enqueued_ms),
            deadline=dt(place.deadline_ms),
        )
        assert got == expected
        if expected:
            self.places[call_id] = place

    @rule(call_id=CALL_IDS)
    def remove(self, call_id):
        place = self.places.get(call_id)
        got = self.store.remove(call_id=call_id)
        if place is None or place.agent is not None:
            assert got is None
        else:
            assert got == place.as_entry(call_id)
            del self.places[call_id]

    @rule(
        call_id=CALL_IDS,
        queue=QUEUE_NAMES,
        priority=PRIORITY_NAMES,
        back=ENTRY_BACK_MS,
        wait=TARGET_MS,
    )
    def move(self, call_id, queue, priority, back, wait):
        place = self.new_place(queue, priority, back, wait)
        current = self.places.get(call_id)
        expected = current is not None and current.agent is None
        got = self.store.move(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=dt(place.enqueued_ms),
            deadline=dt(place.deadline_ms),
        )
        assert got == expected
        if expected:
            self.places[call_id] = place

    @rule(
        agent=AGENTS,
        queues=st.lists(QUEUE_NAMES, min_size=1, max_size=4, unique=True),
        lease=LEASE_S,
    )
    def claim(self, agent, queues, lease):
        held = self.holding(agent)
        if held is not None:
            try:
                self.store.claim(
                    queues=queues, agent_id=agent, now=dt(self.now_ms), lease_seconds=lease
                )
            except ClaimRefused as refused:
                assert refused.call_id == held
            else:
                raise AssertionError("an agent holding a call claimed another")
            return
        heads = [c for q in queues for c in self.waiting(q)[:1]]
        best = min(heads, key=lambda c: service_key(c, self.places[c]), default=None)
        got = self.store.claim(
            queues=queues, agent_id=agent, now=dt(self.now_ms), lease_seconds=lease
        )
        if best is None:
            assert got is None
            return
        self.places[best] = replace(
            self.places[best], agent=agent, lease_ms=self.now_ms + lease * 1000
        )
        assert got == self.places[best].as_entry(best)

    @rule(data=st.data(), lease=LEASE_S)
    def heartbeat(self, data, lease):
        call_id, agent = self.call_and_agent(data)
        place = self.places.get(call_id)
        expected = (
            place is not None
            and place.agent == agent
            and place.lease_ms is not None
            and place.lease_ms > self.now_ms
        )
        got = self.store.heartbeat(
            call_id=call_id, agent_id=agent, now=dt(self.now_ms), lease_seconds=lease
        )
        assert got == expected
        if place is not None and expected:
            self.places[call_id] = replace(place, lease_ms=self.now_ms + lease * 1000)

    @rule(data=st.data())
    def release(self, data):
        call_id, agent = self.call_and_agent(data)
        place = self.places.get(call_id)
        got = self.store.release(call_id=call_id, agent_id=agent)
        if place is None or place.agent != agent:
            assert got is None
            return
        self.places[call_id] = replace(place, agent=None, lease_ms=None)
        assert got == self.places[call_id].as_entry(call_id)

    @rule(data=st.data(), queue=QUEUE_NAMES, priority=PRIORITY_NAMES, wait=TARGET_MS)
    def transfer(self, data, queue, priority, wait):
        call_id, agent = self.call_and_agent(data)
        place = self.new_place(queue, priority, 0, wait)
        current = self.places.get(call_id)
        expected = current is not None and current.agent == agent
        got = self.store.transfer(
            call_id=call_id,
            agent_id=agent,
            queue=queue,
            priority=priority,
            enqueued_at=dt(place.enqueued_ms),
            deadline=dt(place.deadline_ms),
        )
        assert got == expected
        if expected:
            self.places[call_id] = place

    @rule(ms=st.sampled_from([1, 1000, 2000, 6000]))
    def time_passes(self, ms):
        self.now_ms += ms

    @rule(limit=st.integers(min_value=1, max_value=4))
    def expire_leases(self, limit):
        held = [(c, p) for c, p in self.places.items() if p.lease_ms is not None]
        due = [(c, p) for c, p in held if p.lease_ms is not None and p.lease_ms <= self.now_ms]
        # equal expiries come out as Redis orders equal scores: by member, as text
        due.sort(key=lambda item: (item[1].lease_ms, str(item[0])))
        expected = [p.as_entry(c) for c, p in due[:limit]]
        assert self.store.expire_leases(now=dt(self.now_ms), limit=limit) == expected
        for entry in expected:
            self.places[entry.call_id] = replace(
                self.places[entry.call_id], agent=None, lease_ms=None
            )

    @rule(call_id=CALL_IDS)
    def finish(self, call_id):
        place = self.places.pop(call_id, None)
        got = self.store.finish(call_id=call_id)
        assert got == (place.as_entry(call_id) if place else None)

    @rule()
    def rebuild(self):
        entries = self.store.dump()
        self.store.clear_all()
        assert self.store.generation() is None
        assert self.store.load(reversed(entries)) == len(entries)
        self.store.ensure_generation()

    # -- what must always hold ----------------------------------------------------------------

    @invariant()
    def same_order_counts_and_oldest(self):
        snapshot = self.store.snapshot()
        for queue in QUEUES:
            expected = self.waiting(queue)
            assert [e.call_id for e in self.store.ordered(queue)] == expected
            waiting = dict.fromkeys(PRIORITIES, 0)
            for call_id in expected:
                waiting[self.places[call_id].priority] += 1
            assert snapshot[queue].waiting == waiting
            oldest = min((self.places[c].enqueued_ms for c in expected), default=None)
            assert snapshot[queue].oldest_enqueued_at == (dt(oldest) if oldest else None)
            overdue = [c for c in expected if self.places[c].deadline_ms <= self.now_ms]
            assert [e.call_id for e in self.store.overdue(queue, now=dt(self.now_ms))] == overdue
            for rank, call_id in enumerate(expected, start=1):
                assert self.store.position(call_id) == rank

    @invariant()
    def same_entries_and_leases(self):
        assert self.store.dump() == [self.places[c].as_entry(c) for c in sorted(self.places)]
        for agent in ("a1", "a2", "a3", "10", "9"):
            assert self.store.held_by(agent) == self.holding(agent)
        for call_id, place in self.places.items():
            if place.agent is not None:
                assert self.store.position(call_id) is None


def test_store_behaves_as_the_reference_model(redis_url):
    QueueModel.redis_url = redis_url
    run_state_machine_as_test(
        QueueModel,
        settings=settings(
            max_examples=50,
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
