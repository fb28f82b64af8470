"""Fixtures for the Twilio emulator's tests: a running emulator on a free port (its clock
sped up a hundredfold), the official `twilio` client pointed at it, and a small Flask app of
our own on another free port standing for the customer's webhook server.

The customer app checks `X-Twilio-Signature` on every request it receives with the
official `RequestValidator`; a test fails at teardown if any signature was wrong.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from twilio.rest import Client

from callflow.telephony.emulator import BackgroundServer, RunningEmulator, start_emulator
from callflow.telephony.emulator.client import twilio_client_for

from .helpers import PUBLIC_NUMBER, TIME_SCALE, Customer


@pytest.fixture()
def emulator() -> Iterator[RunningEmulator]:
    running = start_emulator(time_scale=TIME_SCALE)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture()
def customer(emulator: RunningEmulator) -> Iterator[Customer]:
    app = Customer(emulator.auth_token)
    server = BackgroundServer(app.app).start()
    app.base_url = server.base_url
    try:
        yield app
    finally:
        emulator.state.shutdown()
        server.stop()
    bad = [r.path for r in app.requests if not r.signature_valid]
    assert not bad, f"requests with a bad X-Twilio-Signature: {bad}"


@pytest.fixture()
def client(emulator: RunningEmulator) -> Iterator[Client]:
    twilio = twilio_client_for(emulator.base_url, emulator.account_sid, emulator.auth_token)
    try:
        yield twilio
    finally:
        session = getattr(twilio.http_client, "session", None)
        if session is not None:
            session.close()


@pytest.fixture()
def number(emulator: RunningEmulator, customer: Customer) -> str:
    """The public number, its Voice URL `/voice`, status callback `/status`."""
    emulator.state.configure_number(
        PUBLIC_NUMBER,
        customer.url("/voice"),
        status_callback=customer.url("/status"),
    )
    return PUBLIC_NUMBER
