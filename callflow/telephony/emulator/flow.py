"""How control moves through TwiML: the outcomes of verbs and the contexts they run in.

A verb either falls through to the next one (returns None), hands the call to another
document (`Transfer`), or stops the document by raising one of the exceptions below.
`CallEnded` and `Redirected` come from outside the TwiML (the far end hung up, a REST
request redirected the call) and can surface in the middle of any wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .models import CallLeg, DocumentRequest
from .twiml import EMULATED_VERBS


@dataclass
class Transfer:
    """Continue with the TwiML returned for this request."""

    request: DocumentRequest


@dataclass
class DialResult:
    """How a `<Dial>` ended: the parameters of its action request.

    `ended` says the dialling leg itself hung up during the dial.
    """

    status: str
    call_sid: str | None = None
    duration: int | None = None
    bridged: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    ended: bool = False


@dataclass(frozen=True)
class Context:
    """Where a document runs, and which verbs it may use there."""

    kind: str
    allowed: frozenset[str]


CALL = Context("call", EMULATED_VERBS)
#: Enqueue page: the waitUrl TwiML may use Play, Say, Pause, Hangup, Redirect, Leave, Gather.
QUEUE_WAIT = Context(
    "queue-wait", frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Leave", "Hangup"})
)
#: Conference page: waitUrl (and a participant's holdUrl) may use Play, Say, Pause, Redirect.
HOLD = Context("hold", frozenset({"Say", "Play", "Pause", "Redirect"}))
#: Number / Client pages: the `url` TwiML runs on the called party's end; no `<Dial>`.
WHISPER = Context("whisper", frozenset({"Say", "Play", "Pause", "Gather", "Redirect", "Hangup"}))
#: Queue page: the `url` TwiML runs on the queued caller's end: Play, Say, Pause, Redirect.
ANNOUNCE = Context("announce", frozenset({"Say", "Play", "Pause", "Redirect"}))


class CallEnded(Exception):
    """The leg stopped: its far end hung up, a REST request ended it, or it was kicked."""

    def __init__(self, leg: CallLeg) -> None:
        super().__init__(leg.sid)
        self.leg = leg


class Redirected(Exception):
    """A REST request (Calls update, Queue Member dequeue) gave the leg new TwiML."""

    def __init__(self, leg: CallLeg, request: DocumentRequest) -> None:
        super().__init__(leg.sid)
        self.leg = leg
        self.request = request


class HangupVerb(Exception):
    """`<Hangup/>` (or `<Reject/>` once the call is answered)."""


class RejectVerb(Exception):
    """`<Reject/>` before the call was answered: it ends busy or no-answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LeaveQueue(Exception):
    """The waitUrl TwiML takes the caller out of the queue (`<Leave>` or `<Redirect>`)."""

    def __init__(self, result: str, then: DocumentRequest | None = None) -> None:
        super().__init__(result)
        self.result = result
        self.then = then


class Dequeued(Exception):
    """A `<Dial><Queue>` picked this caller out of the queue."""

    def __init__(self, dialer: CallLeg) -> None:
        super().__init__(dialer.sid)
        self.dialer = dialer


class UnsupportedVerb(Exception):
    """TwiML this emulator does not execute (`<Record>`, `<Connect>`, `<Dial><Sip>`…)."""

    def __init__(self, verb: str) -> None:
        super().__init__(verb)
        self.verb = verb


class ApplicationError(Exception):
    """TwiML could not be fetched or run and no fallback saved the call."""

    def __init__(self, code: int | None, url: str | None, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.url = url
        self.detail = detail
