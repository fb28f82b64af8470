"""Hundreds of concurrent calls: all served, and waiting costs no CPU."""

from __future__ import annotations

import time

from twilio.rest import Client

from callflow.telephony.emulator import RunningEmulator

from .helpers import Customer

CALLS = 200


def test_hundreds_of_waiting_callers_do_not_spin(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    customer.twiml("/voice", '<Enqueue waitUrl="/wait">arm</Enqueue>')
    customer.twiml("/wait", '<Pause length="6000"/>')
    sids = [emulator.state.place_call(f"+336{index:08d}", number) for index in range(CALLS)]
    customer.wait_for("/wait", CALLS, timeout=30)
    queue = client.queues.list()[0]
    assert queue.current_size == CALLS

    started_cpu, started = time.process_time(), time.monotonic()
    time.sleep(1.0)
    cpu = time.process_time() - started_cpu
    elapsed = time.monotonic() - started
    assert cpu < 0.25 * elapsed, f"{CALLS} waiting calls used {cpu:.2f}s of CPU in {elapsed:.2f}s"

    members = client.queues(queue.sid).members.list(page_size=1000)
    assert sorted(m.call_sid for m in members) == sorted(sids)
    assert [m.position for m in members] == list(range(1, CALLS + 1))
    for sid in sids:
        emulator.state.hang_up(sid)
    customer.wait_for("/status", CALLS, timeout=30)
    assert client.queues(queue.sid).fetch().current_size == 0
