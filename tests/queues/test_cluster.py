"""Redis Cluster compatibility: every key a script touches hashes to one slot.

Checked twice: by computing the slot of every key the store passes, and by running every
operation against a real one-node cluster, which refuses (CROSSSLOT) any command or script
whose keys span slots.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis
from redis.crc import key_slot

from queues import keys
from queues.store import QUEUES, CallQueues, QueueEntry
from runtime.embedded_redis import free_port, redis_server_binary

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def slots(names: list[str]) -> set[int]:
    return {key_slot(name.encode()) for name in names}


def test_every_key_of_the_queues_shares_one_slot(redis_client):
    store = CallQueues(redis_client)
    everything = [
        *store.keys.index(QUEUES),
        *(store.keys.answers(q) for q in QUEUES),
        store.keys.announced(123),
    ]
    assert len(slots(everything)) == 1
    assert slots(everything) == slots(CallQueues(redis_client, prefix="bench").keys.index(QUEUES))
    assert all(name.startswith("sas:{q}:") for name in everything)
    with pytest.raises(ValueError):
        keys.QueueKeys("oops{x}")


def _start_cluster_node() -> tuple[subprocess.Popen[bytes], redis.Redis, str]:
    """One cluster-mode redis-server on a free port; a port taken in between is retried."""
    for _ in range(5):
        port = free_port()
        folder = tempfile.mkdtemp(prefix="sas-cluster-")
        options = {
            "bind": "127.0.0.1",
            "port": str(port),
            "cluster-enabled": "yes",
            "cluster-config-file": f"{folder}/nodes.conf",
            "save": "",
            "appendonly": "no",
            "dir": folder,
        }
        args = [redis_server_binary()]
        for name, value in options.items():
            args += [f"--{name}", value]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        deadline = time.monotonic() + 20
        while process.poll() is None and time.monotonic() < deadline:
            try:
                client.ping()
                return process, client, folder
            except redis.ConnectionError:
                time.sleep(0.05)
        client.close()
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    raise RuntimeError("no cluster-mode redis-server would start")


@pytest.fixture(scope="module")
def cluster_client() -> Iterator[redis.Redis]:
    """A one-node Redis Cluster owning every slot, started and stopped here."""
    process, client, folder = _start_cluster_node()
    try:
        client.execute_command("CLUSTER ADDSLOTS", *range(16384))
        # a new cluster node waits a moment (about 2 s) before it declares itself ok
        deadline = time.monotonic() + 20
        while client.cluster("INFO").get("cluster_state") != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError("the one-node cluster never came up")
            time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_cluster_refuses_keys_across_slots(cluster_client):
    # the check below can fail: "a" and "b" hash to different slots
    with pytest.raises(redis.ResponseError, match="same slot"):
        cluster_client.eval("return 1", 2, "a", "b")


def test_every_operation_runs_on_a_cluster(cluster_client):
    store = CallQueues(cluster_client)
    at = [T0 + timedelta(seconds=n) for n in range(200)]
    assert store.ensure_generation()[1]
    assert store.enqueue(call_id=1, queue="arm", priority="P1", enqueued_at=at[0], deadline=at[30])
    assert store.enqueue(call_id=2, queue="amu", priority="P0", enqueued_at=at[1], deadline=at[1])
    assert store.enqueue(call_id=3, queue="arm", priority="P2", enqueued_at=at[2], deadline=at[62])
    assert store.move(
        call_id=3, queue="callback", priority="P2", enqueued_at=at[2], deadline=at[62]
    )
    assert store.position(1) == 1
    store.record_answer(queue="arm", at=at[0])
    announced = store.announcement(call_id=1, queue="arm", now=at[1], every_s=45)
    assert announced is not None and announced.position == 1
    assert [e.call_id for e in store.ordered("arm")] == [1]
    assert [e.call_id for e in store.overdue("amu", now=at[5])] == [2]
    assert store.snapshot()["callback"].waiting["P2"] == 1
    claimed = store.claim(queues=["arm", "callback"], agent_id="a", now=at[3], lease_seconds=30)
    assert claimed is not None and claimed.call_id == 1
    assert store.heartbeat(call_id=1, agent_id="a", now=at[4], lease_seconds=30)
    assert store.release(call_id=1, agent_id="a") is not None
    store.claim(queues=["arm"], agent_id="a", now=at[5], lease_seconds=1)
    assert [e.call_id for e in store.expire_leases(now=at[10])] == [1]
    store.claim(queues=["arm"], agent_id="a", now=at[11], lease_seconds=30)
    assert store.held_by("a") == 1 and store.holder(1) == "a"
    assert store.transfer(
        call_id=1,
        agent_id="a",
        queue="liberal",
        priority="P1",
        enqueued_at=at[12],
        deadline=at[132],
    )
    assert store.remove(call_id=3) is not None
    assert store.finish(call_id=2) is not None
    dumped = store.dump()
    assert dumped == [QueueEntry(1, "liberal", "P1", at[12], at[132])]
    store.clear_all()
    assert store.generation() is None
    assert store.load(dumped) == 1
    assert store.entry(1) == dumped[0]
