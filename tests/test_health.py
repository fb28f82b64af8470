"""Health, readiness, metrics and the queue commands."""

from __future__ import annotations

from queues.access import call_queues
from runtime.db import db
from tests.helpers import new_sid
from tests.ivr.test_incoming import dial, press


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_metrics_show_the_queue_gauges_and_webhook_latency(client, twilio):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'sas_queue_waiting{priority="P2",queue="arm"} 1.0' in text
    assert 'sas_queue_oldest_wait_seconds{queue="arm"}' in text
    assert 'sas_webhook_latency_seconds_count{webhook="incoming"}' in text


def test_queues_check_and_rebuild_commands(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    runner = app.test_cli_runner()
    drifted = runner.invoke(args=["queues", "check"])
    assert drifted.exit_code == 1  # never initialised by a rebuild: no generation marker
    assert "generation" in drifted.output
    rebuilt = runner.invoke(args=["queues", "rebuild"])
    assert rebuilt.exit_code == 0 and "rebuilt 1" in rebuilt.output
    clean = runner.invoke(args=["queues", "check"])
    assert (clean.exit_code, clean.output.strip()) == (0, "no drift")
    with app.app_context():
        call_queues().clear_all()
        db.session.remove()
    lost = runner.invoke(args=["queues", "check"])
    assert lost.exit_code == 1 and "missing in redis" in lost.output
