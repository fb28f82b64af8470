"""The call engine: one executor per call leg runs its TwiML as Twilio does.

An executor owns a thread (for top-level legs), a waker and a webhook session. It requests
documents (with the parameters of Twilio's voice request, signed), runs their verbs in order
(the verbs themselves live in `verbs_media.py`, `verbs_queue.py`, `verbs_dial.py` and
`conferencing.py`), follows `Transfer`s to the next document, and when the call stops it
posts the status callbacks.

Twilio behaviours kept here, each from its documentation page:
- a document that cannot be fetched (11200, 11100, 11215) or parsed (12100, 12102) makes Twilio
  request the Fallback URL with `ErrorCode` and `ErrorUrl`; when that fails too, or there is no
  fallback, the caller hears the application-error message and the call ends
  (https://www.twilio.com/docs/usage/security/availability-reliability);
- a call whose document runs out of verbs is hung up;
- `<Reject>` as the first verb leaves an inbound call unanswered, `busy` or `no-answer`
  (https://www.twilio.com/docs/voice/twiml/reject);
- status callbacks carry `CallStatus`, `CallDuration`, `CallbackSource`, `SequenceNumber`,
  `Timestamp` (https://www.twilio.com/docs/voice/api/call-resource#statuscallback).

Twilio publishes no limit for `<Redirect>` chains in voice calls; the emulator stops a call
after `MAX_REDIRECTS_IN_A_ROW` consecutive `<Redirect>`s with nothing heard in between (the
limit Twilio documents for message reply sessions, error 14106), as an application error.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import TypeVar

from . import verbs_dial, verbs_media, verbs_queue
from .flow import (
    CALL,
    ApplicationError,
    CallEnded,
    Context,
    HangupVerb,
    Redirected,
    RejectVerb,
    Transfer,
    UnsupportedVerb,
)
from .ids import API_VERSION, rfc2822
from .models import CallLeg, DocumentRequest
from .registry import Registry
from .ringing import ring
from .twiml import EMULATED_VERBS, Document, TwimlError, document_for_answer, parse_document
from .webhooks import WebhookError, WebhookSession

log = logging.getLogger("callflow.telephony.emulator")

T = TypeVar("T")

MAX_REDIRECTS_IN_A_ROW = 50
APPLICATION_ERROR_MESSAGE = "We are sorry, an application error has occurred. Goodbye."


def leg_params(leg: CallLeg) -> dict[str, str]:
    """The parameters Twilio sends with every voice request about this leg."""
    params = {
        "AccountSid": leg.account_sid,
        "ApiVersion": API_VERSION,
        "CallSid": leg.sid,
        "CallStatus": leg.status,
        "Called": leg.to,
        "Caller": leg.from_,
        "Direction": leg.direction,
        "From": leg.from_,
        "To": leg.to,
    }
    if leg.parent_sid:
        params["ParentCallSid"] = leg.parent_sid
    return params


class Executor:
    """Runs the TwiML of one leg."""

    def __init__(
        self,
        registry: Registry,
        leg: CallLeg,
        *,
        waker: threading.Condition | None = None,
        webhooks: WebhookSession | None = None,
    ) -> None:
        self.registry = registry
        self.leg = leg
        self.waker = waker or registry.new_waker()
        self.webhooks = webhooks or WebhookSession(registry)
        self.interrupts: list[Callable[[], None]] = []
        self.redirects_in_a_row = 0

    def for_leg(self, leg: CallLeg) -> Executor:
        """An executor for another leg, run from this thread (a `<Dial>` child's whisper)."""
        child = Executor(self.registry, leg, waker=self.waker, webhooks=self.webhooks)
        child.interrupts.append(self.check_interrupts)
        return child

    # -- the thread of a top-level leg ----------------------------------------------------

    def run(self) -> None:
        leg = self.leg
        try:
            with self.webhooks, self.registry.watching(self.waker, [leg]):
                self._live()
        except Exception:
            log.exception("emulator: call %s failed inside the emulator", leg.sid)
            self.registry.note(leg, "emulator-error", detail="see the emulator's log")
            self.registry.end_leg(leg, "failed")
            with self.webhooks:
                self.post_status(leg, "completed")
        finally:
            with self.registry.lock:
                leg.has_executor = False
                leg.activity = None
                self.registry.touch()

    def _live(self) -> None:
        leg = self.leg
        if not leg.answered and leg.direction != "inbound":
            outcome = ring(self, [leg], leg.ring_timeout)
            if outcome is not leg:
                self._finish()
                return
        request = leg.initial
        try:
            while request is not None:
                try:
                    document = self.fetch(request)
                    result = self.execute(document, CALL)
                    request = result.request if result is not None else None
                except Redirected as redirect:
                    if redirect.leg is not leg:
                        raise
                    request = redirect.request
            self.registry.end_leg(leg, "completed")
        except HangupVerb:
            self.registry.note(leg, "hangup", by="twiml")
            self.registry.end_leg(leg, "completed")
        except RejectVerb as reject:
            self.registry.note(leg, "reject", reason=reject.reason)
            self.registry.end_leg(leg, "busy" if reject.reason == "busy" else "no-answer")
        except ApplicationError as error:
            self.application_error(error)
        except UnsupportedVerb as unsupported:
            self.registry.note(
                leg, "unsupported-verb", verb=unsupported.verb, detail="not emulated; call ended"
            )
            self.application_error(ApplicationError(None, None, f"<{unsupported.verb}>"))
        except CallEnded as ended:
            if ended.leg is not leg:
                raise
        self._finish()

    def application_error(self, error: ApplicationError) -> None:
        """What the caller hears when TwiML fails for good: Twilio's message, then hang-up."""
        leg = self.leg
        with self.registry.lock:
            if leg.ended:
                return
            self.registry.answer_leg(leg)
            leg.heard_application_error = True
        self.registry.note(
            leg,
            "application-error",
            error_code=error.code,
            error_url=error.url,
            detail=error.detail,
        )
        words = len(APPLICATION_ERROR_MESSAGE.split())
        detail: dict[str, object] = {
            "text": APPLICATION_ERROR_MESSAGE,
            "voice": "woman",
            "language": "en",
        }
        # The caller may hang up during the message; a REST redirect comes too late.
        with contextlib.suppress(CallEnded, Redirected):
            verbs_media.perform(self, "say", words / self.registry.words_per_second, detail)
        self.registry.end_leg(leg, "completed")

    def _finish(self) -> None:
        self.registry.end_leg(self.leg, "completed")
        self.post_status(self.leg, "completed")

    # -- waiting ---------------------------------------------------------------------------

    def check_interrupts(self) -> None:
        """Raise what happened to the call from outside (lock held)."""
        leg = self.leg
        if leg.ended:
            raise CallEnded(leg)
        if leg.pending_redirect is not None:
            request, leg.pending_redirect = leg.pending_redirect, None
            raise Redirected(leg, request)
        for check in self.interrupts:
            check()

    def wait(self, predicate: Callable[[], T | None], seconds: float | None) -> T | None:
        """Sleep until `predicate()` gives a value or `seconds` (emulated) pass."""
        clock = self.registry.clock
        deadline = None if seconds is None else clock.elapsed() + max(0.0, seconds)
        with self.registry.lock:
            while True:
                self.check_interrupts()
                value = predicate()
                if value is not None:
                    return value
                if deadline is None:
                    self.waker.wait()
                    continue
                remaining = deadline - clock.elapsed()
                if remaining <= 0:
                    return None
                self.waker.wait(clock.real_seconds(remaining))

    def sleep(self, seconds: float) -> None:
        self.wait(lambda: None, seconds)

    # -- documents --------------------------------------------------------------------------

    def params(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        with self.registry.lock:
            params = leg_params(self.leg)
        params.update(extra or {})
        return params

    def fetch(self, request: DocumentRequest, *, fallback: bool = True) -> Document:
        """The document for `request`; Twilio's fallback handling when it fails."""
        try:
            return self._fetch_once(request)
        except (WebhookError, TwimlError) as error:
            self.registry.note(
                self.leg, "error", error_code=error.code, url=request.url, detail=error.detail
            )
            leg = self.leg
            if fallback and leg.fallback_url and request.purpose != "fallback":
                rescue = DocumentRequest(
                    leg.fallback_url,
                    leg.fallback_method,
                    {"ErrorCode": str(error.code), "ErrorUrl": request.url or ""},
                    purpose="fallback",
                )
                try:
                    return self._fetch_once(rescue)
                except (WebhookError, TwimlError) as second:
                    self.registry.note(
                        leg, "error", error_code=second.code, url=rescue.url, detail=second.detail
                    )
            raise ApplicationError(error.code, request.url, error.detail) from error

    def _fetch_once(self, request: DocumentRequest) -> Document:
        if request.twiml is not None:
            return parse_document(request.twiml, request.url)
        assert request.url is not None
        with self.registry.lock:
            self.check_interrupts()
        previous = self.leg.activity
        self.registry.set_activity(self.leg, {"state": "fetching", "url": request.url})
        try:
            answer = self.webhooks.request(
                request.url,
                request.method,
                self.params(request.params),
                purpose=request.purpose,
                leg=self.leg,
            )
        finally:
            self.registry.set_activity(self.leg, previous)
        return document_for_answer(answer.content_type, answer.body, request.url)

    def notify(self, url: str, method: str, extra: dict[str, str], purpose: str) -> None:
        """A request whose answer is not used (the call has moved on or ended)."""
        with contextlib.suppress(WebhookError):  # the failure is recorded on the leg
            self.webhooks.request(url, method, self.params(extra), purpose=purpose, leg=self.leg)

    def action(
        self, url: str, method: str, extra: dict[str, str], purpose: str = "action"
    ) -> Transfer | None:
        """Request a verb's action URL: its TwiML continues the call, unless the call ended."""
        if self.leg.ended:
            self.notify(url, method, extra, purpose)
            return None
        return Transfer(DocumentRequest(url, method, extra, purpose=purpose))

    def execute(self, document: Document, context: Context) -> Transfer | None:
        """Run a document's verbs in order; the first Transfer ends it."""
        for element in list(document.root):
            verb = element.tag
            if verb not in EMULATED_VERBS:
                raise UnsupportedVerb(verb)
            if verb not in context.allowed:
                self.registry.note(
                    self.leg, "warning", detail=f"<{verb}> is not allowed here ({context.kind})"
                )
                continue
            with self.registry.lock:
                self.check_interrupts()
                if verb == "Reject":
                    if not self.leg.answered and context is CALL:
                        raise RejectVerb(element.get("reason", "rejected"))
                    raise HangupVerb()
                self.registry.answer_leg(self.leg)
            try:
                result = VERBS[verb](self, element, document, context)
            except TwimlError as error:
                raise ApplicationError(error.code, document.url, error.detail) from error
            if result is not None:
                return result
        return None

    def adopt(self, leg: CallLeg, request: DocumentRequest) -> None:
        adopt(self.registry, leg, request)

    def count_redirect(self) -> None:
        self.redirects_in_a_row += 1
        if self.redirects_in_a_row > MAX_REDIRECTS_IN_A_ROW:
            raise ApplicationError(
                None, None, f"more than {MAX_REDIRECTS_IN_A_ROW} <Redirect> in a row"
            )

    # -- status callbacks -------------------------------------------------------------------

    def post_status(self, leg: CallLeg, event: str) -> None:
        """Post a call-progress event to the leg's status callback, if it asked for it."""
        with self.registry.lock:
            if event == "completed":
                if leg.final_callback_sent:
                    return
                leg.final_callback_sent = True
            if not leg.status_callback or event not in leg.status_callback_events:
                return
            sequence = leg.callback_sequence
            leg.callback_sequence += 1
            params = leg_params(leg)
            url, method = leg.status_callback, leg.status_callback_method
            if event == "completed":
                params["CallDuration"] = str(leg.duration or 0)
        params["CallbackSource"] = "call-progress-events"
        params["SequenceNumber"] = str(sequence)
        params["Timestamp"] = rfc2822(self.registry.now()) or ""
        # Twilio does not retry a failed status callback; the failure is recorded on the leg.
        with contextlib.suppress(WebhookError):
            self.webhooks.request(url, method, params, purpose="status-callback", leg=leg)


VERBS: dict[str, Callable[[Executor, ET.Element, Document, Context], Transfer | None]] = {
    "Say": verbs_media.say,
    "Play": verbs_media.play,
    "Pause": verbs_media.pause,
    "Gather": verbs_media.gather,
    "Redirect": verbs_media.redirect,
    "Hangup": verbs_media.hangup,
    "Enqueue": verbs_queue.enqueue,
    "Leave": verbs_queue.leave,
    "Dial": verbs_dial.dial,
}


def start_executor(registry: Registry, leg: CallLeg) -> None:
    """Give a leg its own thread running its TwiML (lock not held)."""
    with registry.lock:
        leg.has_executor = True
        registry.legs[leg.sid] = leg
        registry.touch()
    registry.start_thread(Executor(registry, leg).run, name=f"call-{leg.sid}")


def adopt(registry: Registry, leg: CallLeg, request: DocumentRequest) -> None:
    """A leg without a thread of its own (a `<Dial>` child) is given new TwiML by REST:
    it leaves its bridge and runs that TwiML on a thread of its own."""
    with registry.lock:
        leg.pending_redirect = None
        leg.initial = request
        registry.end_bridge(leg)
        leg.bridge = None
    start_executor(registry, leg)
