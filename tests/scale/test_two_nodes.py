"""Scaling out: two stateless web nodes and two RQ workers share one Redis and one
PostgreSQL. What one node does, the other sees; a race of agents spread over both nodes
never hands a call to two of them; a worker on either side returns an abandoned claim."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from callflow.models import Call, CallEvent
from runtime.db import db
from tests.conftest import PUBLIC_NUMBER
from tests.helpers import ON_POSTGRESQL, wait_for

from .conftest import Cluster

pytestmark = ON_POSTGRESQL


def place_calls(cluster: Cluster, count: int) -> list[str]:
    sids = [
        cluster.emulator.state.place_call(f"+336123{n:05d}", PUBLIC_NUMBER) for n in range(count)
    ]
    # Silence at the menu queues each caller for an ARM (P1), through the first node.
    wait_for(lambda: cluster.waiting(1) == count, timeout=60)
    return [str(sid) for sid in sids]


def test_a_call_claimed_on_one_node_is_seen_on_the_other(cluster: Cluster) -> None:
    place_calls(cluster, 2)
    first, second = cluster.agent("arm", 0), cluster.agent("arm", 1)
    for agent in (first, second):
        assert agent.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok

    taken = first.call("POST", "/api/agents/me/next")
    assert taken.status_code == 200, taken.text
    call_id = taken.json()["call"]["id"]
    assert cluster.waiting(1) == 1
    seen = cluster.supervisors[1].call("GET", f"/api/calls/{call_id}").json()
    assert (seen["status"], seen["agent_id"]) == ("with_arm", first.id)

    other = second.call("POST", "/api/agents/me/next")
    assert other.status_code == 200, other.text
    assert other.json()["call"]["id"] != call_id
    assert cluster.waiting(0) == 0


def test_an_abandoned_claim_is_returned_by_a_worker_and_served_by_the_other_node(
    cluster: Cluster,
) -> None:
    place_calls(cluster, 2)
    first, second = cluster.agent("arm", 0), cluster.agent("arm", 1)
    assert first.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    held = first.call("POST", "/api/agents/me/next").json()["call"]["id"]
    # No heartbeat from the first agent's node: after LEASE_SECONDS (3 s) the cron's lease
    # job, run by one of the RQ workers, puts the call back in its place, at the front.
    wait_for(lambda: cluster.waiting(1) == 2, timeout=30)
    assert second.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    again = second.call("POST", "/api/agents/me/next")
    assert again.status_code == 200, again.text
    assert again.json()["call"]["id"] == held


def test_fifty_agents_racing_over_two_nodes_never_share_a_call(cluster: Cluster) -> None:
    place_calls(cluster, 30)
    agents = [cluster.agent("arm", n % 2) for n in range(50)]
    for agent in agents:
        assert agent.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    start = threading.Barrier(len(agents))

    def claim(index: int) -> tuple[int, int | None]:
        start.wait()
        answer = agents[index].call("POST", "/api/agents/me/next")
        return answer.status_code, answer.json()["call"][
            "id"
        ] if answer.status_code == 200 else None

    with ThreadPoolExecutor(len(agents)) as pool:
        results = list(pool.map(claim, range(len(agents))))

    codes = sorted(code for code, _ in results)
    assert codes == [200] * 30 + [204] * 20, codes
    claimed = [call_id for _, call_id in results if call_id is not None]
    assert len(set(claimed)) == 30
    with cluster.app.app_context():
        per_call = db.session.execute(
            select(CallEvent.call_id, func.count())
            .where(CallEvent.type == "claimed")
            .group_by(CallEvent.call_id)
        ).all()
        assert sorted(n for _, n in per_call) == [1] * 30
        holders = db.session.scalars(select(Call.agent_id).where(Call.status == "with_arm")).all()
        assert len(set(holders)) == 30
        db.session.remove()
    assert cluster.waiting(0) == 0 and cluster.waiting(1) == 0


def _incoming_count(cluster: Cluster, node: int) -> float:
    import requests

    text = requests.get(cluster.nodes[node] + "/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith('sas_webhook_latency_seconds_count{webhook="incoming"}')
    )


def test_a_node_s_metrics_add_up_every_gunicorn_worker(cluster: Cluster) -> None:
    place_calls(cluster, 6)
    # Each node runs two gunicorn workers; whichever answers the scrape reports the node's
    # six incoming webhooks, not its own share (PROMETHEUS_MULTIPROC_DIR).
    assert [_incoming_count(cluster, 0) for _ in range(6)] == [6.0] * 6
    assert _incoming_count(cluster, 1) == 0.0
