"""`EmulatorState`: one emulated Twilio account, with the Python methods that drive it.

The REST API (`rest/`), the control API (`control.py`) and in-process users (tests, the
traffic simulator) all go through these methods. Time runs at `time_scale` real seconds per
emulated second (`clock.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from . import phones
from .engine import adopt, start_executor
from .models import CallLeg, DocumentRequest
from .notifier import Notifier
from .registry import Registry, WebhookTally
from .views import call_view, device_view

T = TypeVar("T")


class CallStateError(Exception):
    """A REST request that the call's state forbids (Twilio error 21220)."""


class EmulatorState(Registry):
    """An emulated Twilio account: numbers, phones, calls, queues, conferences, messages."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        time_scale: float = 1.0,
        webhook_timeout: float = 15.0,
        play_seconds: float = 10.0,
        words_per_second: float = 2.5,
    ) -> None:
        super().__init__(
            account_sid=account_sid,
            auth_token=auth_token,
            time_scale=time_scale,
            webhook_timeout=webhook_timeout,
            play_seconds=play_seconds,
            words_per_second=words_per_second,
        )
        self.notifier = Notifier(self)
        self.notifier.start()

    # -- the console -------------------------------------------------------------------------

    def configure_number(self, number: str, voice_url: str | None, **settings: str) -> None:
        """Set an incoming number's Voice URL, status callback and fallback, as in the console.

        `settings`: voice_method, status_callback, status_callback_method, fallback_url,
        fallback_method.
        """
        phones.configure_number(self, number, voice_url=voice_url, **settings)

    # -- simulated phones and clients --------------------------------------------------------

    def place_call(self, from_: str, to: str) -> str:
        """A simulated phone `from_` dials `to` (a configured number); the new CallSid."""
        leg = phones.incoming_leg(self, from_, to)
        start_executor(self, leg)
        return leg.sid

    def send_input(
        self,
        call_sid: str,
        *,
        digits: str | None = None,
        speech: str | None = None,
        confidence: float = 0.9,
        wait: float = 5.0,
    ) -> bool:
        return phones.send_input(
            self, call_sid, digits=digits, speech=speech, confidence=confidence, wait=wait
        )

    def hang_up(self, call_sid: str) -> None:
        phones.hang_up(self, call_sid)

    def register_device(
        self, address: str, *, mode: str = "auto", answer_delay: float = 0.0
    ) -> None:
        """Register a softphone (`client:<identity>`) or claim a number with a simulated phone."""
        phones.register_device(self, address, mode=mode, answer_delay=answer_delay)

    def register_client(
        self, identity: str, *, mode: str = "auto", answer_delay: float = 0.0
    ) -> None:
        self.register_device("client:" + identity, mode=mode, answer_delay=answer_delay)

    def answer(self, address: str, call_sid: str | None = None) -> str:
        return phones.answer(self, address, call_sid).sid

    def reject(self, address: str, call_sid: str | None = None) -> str:
        return phones.reject(self, address, call_sid).sid

    def device_hang_up(self, address: str, call_sid: str | None = None) -> str:
        return phones.device_hang_up(self, address, call_sid).sid

    # -- REST call control -------------------------------------------------------------------

    def launch(self, leg: CallLeg) -> None:
        """Start a leg created through the REST API (it rings, then runs its TwiML)."""
        start_executor(self, leg)

    def redirect_call(self, leg: CallLeg, request: DocumentRequest) -> None:
        """Calls update with `Url` or `Twiml`: the call continues with that TwiML."""
        with self.lock:
            if leg.ended:
                raise CallStateError("Call is not in-progress. Cannot redirect.")
            if not leg.answered:
                leg.initial = request
                self.touch()
                return
            if leg.has_executor:
                leg.pending_redirect = request
                self._take_out_of_queue(leg)
                self.signal(leg)
                return
        adopt(self, leg, request)

    def _take_out_of_queue(self, leg: CallLeg) -> None:
        member, queue = leg.queue_member, leg.queue
        if member is not None and queue is not None and member in queue.members:
            member.dequeued_offset = self.offset()
            queue.members.remove(member)
            self.signal_queue(queue)

    def end_call(self, leg: CallLeg, status: str) -> None:
        """Calls update with `Status=completed|canceled`."""
        with self.lock:
            if leg.ended:
                raise CallStateError("Call is not in-progress. Cannot update its status.")
            if not leg.answered and leg.direction != "inbound":
                self.note(leg, "canceled", by="api")
                self.end_leg(leg, "canceled")
                return
            if status == "completed":
                self.note(leg, "hangup", by="api")
                self.end_leg(leg, "completed")

    # -- observing ---------------------------------------------------------------------------

    def call(self, call_sid: str) -> dict[str, Any]:
        """The control API's view of a call (KeyError when unknown)."""
        leg = self.legs[call_sid]
        return call_view(self, leg)

    def device(self, address: str) -> dict[str, Any]:
        return device_view(self, self.devices[address])

    def wait_for_call(
        self, call_sid: str, check: Callable[[dict[str, Any]], bool], timeout: float = 5.0
    ) -> dict[str, Any]:
        """Wait (real seconds) until `check(view of the call)` holds; the view."""
        return self.wait_for(
            lambda: (lambda view: view if check(view) else None)(self.call(call_sid)), timeout
        )

    # -- life --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Hang up every call and forget everything but the credentials."""
        with self.lock:
            for leg in list(self.legs.values()):
                self.end_leg(leg, "completed" if leg.answered else "canceled")
        self._join_threads(5.0)
        with self.lock:
            self.numbers.clear()
            self.devices.clear()
            self.legs.clear()
            self.queues.clear()
            self.conferences.clear()
            self.messages.clear()
            self.async_webhooks.clear()
            self.webhook_tally = WebhookTally()
            self.touch()

    def shutdown(self, timeout: float = 5.0) -> None:
        """End every call without further webhooks, and stop the threads (idempotent)."""
        with self.lock:
            if self.closing:
                return
            self.closing = True
            for leg in list(self.legs.values()):
                self.end_leg(leg, "completed" if leg.answered else "canceled")
        self._join_threads(timeout)
        self.notifier.stop(timeout)

    def _join_threads(self, timeout: float) -> None:
        with self.lock:
            threads = list(self.threads)
        for thread in threads:
            thread.join(timeout)
