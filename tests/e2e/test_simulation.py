"""A simulated run of a few hundred calls through the emulator and the staff API: no call
is lost, and the summary agrees with the database."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call
from runtime.db import db
from simulator.run import SimConfig, run_simulation

pytestmark = pytest.mark.slow


@pytest.fixture()
def app_config() -> dict[str, Any]:
    # The emulator runs at 20x: the default 20 s ring of an agent's softphone would be one real
    # second, which a loaded 2-core CI machine can spend before the agent's leg is fetched;
    # the service then rightly takes the call back ("did not answer") and the agent's next
    # step is refused. 100 s emulated is 5 real seconds.
    return {"AGENT_RING_TIMEOUT_S": "100"}


def test_three_hundred_calls_none_lost(live_stack, tmp_path):
    app = live_stack.app

    def create_agent(username: str, role: str, password: str) -> None:
        from regulation.auth import create_staff

        with app.app_context():
            create_staff(
                db.session(),
                app.extensions["regulation_settings"],
                username=username,
                role=role,
                password=password,
            )
            db.session.commit()
            db.session.remove()

    with app.app_context():
        engine = db.engine
    # SQLite has one writer at a time and its busy handler is not fair (a waiting writer polls
    # every 100 ms): at 8 calls/s, with the emulator at 20x and a hundred callers in the hold
    # loop, a loaded 2-core machine starved one writer past the 10 s busy timeout now and then
    # (no transaction held the lock for 2 s) and an agent got a 503. Production runs on
    # PostgreSQL (docs/deployment.md), which keeps 8 calls/s here.
    rate = 8 if engine.dialect.name == "postgresql" else 4
    config = SimConfig(
        calls=300,
        rate_per_s=rate,
        arm=10,
        amu=3,
        liberal=3,
        seed=11,
        speed=40,
        lease_seconds=30,
        drain_timeout_s=240,
        csv_path=tmp_path / "calls.csv",
    )
    result = run_simulation(
        config,
        service_url=live_stack.base_url,
        emulator_url=live_stack.emulator.base_url,
        create_agent=create_agent,
        session_factory=lambda: Session(engine),
        progress=None,
    )
    assert result.lost == [], [(r.call_sid, r.final_status, r.outcome) for r in result.lost]
    assert result.agent_errors == [], result.agent_errors[:10]
    summary = result.summary
    with Session(engine) as session:
        rows = session.execute(select(Call.call_sid, Call.status)).all()
    in_db = Counter(status for _, status in rows)
    assert summary["offered"] == 300 == len(rows)
    assert summary["final_statuses"] == dict(in_db)
    decided = sum(n for k, n in summary["outcomes"].items() if k.startswith("decision:"))
    closed = summary["outcomes"].get("closed_by_arm", 0)
    assert in_db["completed"] >= decided + closed > 0
    # A caller who gave up waiting is abandoned in the database, unless their hang-up crossed
    # an ARM's claim: a call held by an agent when Twilio reports its end is `completed`
    # (contract), so the totals bound each other.
    gave_up = [r for r in result.records if (r.outcome or "").startswith("abandoned")]
    assert {r.final_status for r in gave_up} <= {"abandoned", "completed"}
    crossed = sum(1 for r in gave_up if r.final_status == "completed")
    assert in_db["abandoned"] == len(gave_up) - crossed
    assert summary["answered_by_arm"] > 0 and any(r.regulator_answered_at for r in result.records)
    assert (tmp_path / "calls.csv").read_text().count("\n") == 301
