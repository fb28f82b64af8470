"""`GET /api/dashboard/stream` over real HTTP: a snapshot on connect, a new one when a call
enters and leaves the queue (pushed through Redis pub/sub), never two within a second, a
heartbeat comment, and a reconnect that simply gets the current snapshot."""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from callflow.telephony.emulator.server import BackgroundServer
from tests.helpers import new_sid
from tests.ivr.test_incoming import dial, press
from tests.ivr.test_waiting import hang_up


class EventStream:
    """A minimal Server-Sent Events reader over http.client."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self.connection.request("GET", "/api/dashboard/stream", headers=headers)
        self.response = self.connection.getresponse()
        self.comments: list[float] = []

    def events(self, within: float) -> Iterator[tuple[float, str, dict[str, Any]]]:
        """(arrival time, event name, data) until `within` seconds have passed."""
        deadline = time.monotonic() + within
        name, data = None, []
        while time.monotonic() < deadline:
            line = self.response.fp.readline().decode().rstrip("\n")
            if line.startswith(":"):
                self.comments.append(time.monotonic())
            elif line.startswith("event:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line.split(":", 1)[1].strip())
            elif line == "" and data:
                yield time.monotonic(), name or "message", json.loads("\n".join(data))
                name, data = None, []

    def wait_for(self, predicate, within: float = 2.0) -> tuple[float, dict[str, Any]]:
        for at, name, body in self.events(within):
            if name == "snapshot" and predicate(body):
                return at, body
        raise AssertionError(f"no matching snapshot within {within} s")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture()
def server(app):
    app.config["DASHBOARD_HEARTBEAT_S"] = 1.0
    with BackgroundServer(app) as running:
        yield running


def arm_waiting(body: dict[str, Any]) -> int:
    return sum(body["queues"]["arm"]["waiting"].values())


def test_the_stream_pushes_a_call_entering_and_leaving_the_queue(server, twilio, supervisor):
    stream = EventStream(server.port, supervisor)
    try:
        assert stream.response.status == 200
        assert stream.response.getheader("Content-Type").startswith("text/event-stream")
        _, first = stream.wait_for(lambda body: True)
        assert arm_waiting(first) == 0 and set(first) >= {"queues", "agents", "breaches"}
        sid = new_sid()
        dial(twilio, sid)
        press(twilio, sid, digits="2")
        entered = time.monotonic()
        seen_at, waiting = stream.wait_for(lambda body: arm_waiting(body) == 1)
        assert seen_at - entered < 2.0
        assert waiting["queues"]["arm"]["waiting"]["P2"] == 1
        assert waiting["calls_per_hour"] == 1
        hang_up(twilio, sid)
        left = time.monotonic()
        seen_at, gone = stream.wait_for(lambda body: arm_waiting(body) == 0)
        assert seen_at - left < 2.0
        assert gone["queues"]["arm"]["oldest_wait_s"] is None
        # Snapshots keep coming (the wait grows each second), one a second at most.
        sid = new_sid()
        dial(twilio, sid)
        press(twilio, sid, digits="2")
        times = [at for at, name, _ in stream.events(3.5) if name == "snapshot"]
        assert len(times) >= 2
        assert all(b - a > 0.9 for a, b in itertools.pairwise(times))
        assert stream.comments, "no heartbeat comment"
    finally:
        stream.close()


def test_a_reconnect_with_last_event_id_gets_the_current_snapshot(server, twilio, supervisor):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="1")
    stream = EventStream(server.port, {**supervisor, "Last-Event-ID": "41"})
    try:
        _, body = stream.wait_for(lambda body: True, within=2.0)
        assert body["queues"]["arm"]["waiting"]["P0"] == 1
        assert [b["priority"] for b in body["breaches"]] == ["P0"]
    finally:
        stream.close()


def test_the_stream_needs_a_staff_member(server):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/api/dashboard/stream")
        assert connection.getresponse().status == 401
    finally:
        connection.close()
