"""The things a telephone network holds: numbers, devices, call legs, queues, conferences,
bridges and text messages.

Plain records; every change to them happens under the registry's lock (`registry.py`).
A *call leg* is one Twilio call resource (`CA…`): an inbound call from a simulated phone, a
call created through the REST API, or a child leg created by `<Dial>`. Its *remote party*
is the simulated phone or client at the far end: the caller for inbound legs, the callee
for outbound ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
NOT_ANSWERED_STATUSES = frozenset({"queued", "initiated", "ringing"})

#: Twilio's default `MaxSize` for a queue (Queue resource: "The default is 1000").
DEFAULT_QUEUE_MAX_SIZE = 1000
#: Twilio's `maxParticipants` default for `<Conference>`.
DEFAULT_MAX_PARTICIPANTS = 250


@dataclass
class NumberConfig:
    """An incoming phone number as the Twilio console configures it."""

    number: str
    sid: str
    voice_url: str | None
    voice_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    fallback_url: str | None = None
    fallback_method: str = "POST"


@dataclass
class Device:
    """A simulated phone (an E.164 number) or softphone client (`client:<identity>`).

    `mode`: `auto` answers by itself after `answer_delay` emulated seconds when it is not
    already on a call; `manual` rings until answered or rejected through the control API;
    `busy` answers every call with a busy signal; `no-answer` rings until the caller gives up.
    """

    address: str
    mode: str = "auto"
    answer_delay: float = 0.0
    ringing: list[str] = field(default_factory=list)
    connected: list[str] = field(default_factory=list)


@dataclass
class TranscriptEntry:
    """One thing that happened on a leg: said, played, heard, pressed, joined…"""

    at: datetime
    offset: float
    kind: str
    detail: dict[str, Any]


@dataclass
class WebhookRecord:
    """One request the emulator made on behalf of a leg, and how it went."""

    at: datetime
    purpose: str
    method: str
    url: str
    params: dict[str, str]
    status: int | None
    error_code: int | None


@dataclass
class DocumentRequest:
    """Where the next TwiML comes from: a URL to request, or inline TwiML (REST `Twiml`)."""

    url: str | None
    method: str = "POST"
    params: dict[str, str] = field(default_factory=dict)
    purpose: str = "voice"
    twiml: str | None = None


@dataclass
class GatherState:
    """A `<Gather>` collecting input on a leg; fed by the remote party through `feed`."""

    inputs: frozenset[str]
    num_digits: int | None
    finish_on_key: str
    digits: str = ""
    speech: str | None = None
    confidence: float | None = None
    finished_on_key: str | None = None
    complete: bool = False
    last_input_offset: float | None = None

    def feed_digits(self, keys: str, offset: float) -> bool:
        """Take keypresses; True when at least one was taken."""
        if "dtmf" not in self.inputs or self.complete:
            return False
        taken = False
        for key in keys:
            if self.complete:
                break
            if key not in "0123456789*#":
                continue
            taken = True
            if self.finish_on_key and key == self.finish_on_key:
                # The finish key ends a gather only after at least one digit (Gather page).
                if self.digits:
                    self.finished_on_key = key
                    self.complete = True
                continue
            self.digits += key
            if self.num_digits is not None and len(self.digits) >= self.num_digits:
                self.complete = True
        if taken:
            self.last_input_offset = offset
        return taken

    def feed_speech(self, text: str, confidence: float, offset: float) -> bool:
        if "speech" not in self.inputs or self.complete or not text.strip():
            return False
        self.speech = text.strip()
        self.confidence = confidence
        self.complete = True
        self.last_input_offset = offset
        return True

    def has_input(self) -> bool:
        return bool(self.digits) or self.speech is not None


@dataclass
class Bridge:
    """Two legs talking to each other (after `<Dial>` connects them)."""

    a: CallLeg
    b: CallLeg
    started: float
    ended: float | None = None

    def other(self, leg: CallLeg) -> CallLeg:
        return self.b if leg is self.a else self.a


@dataclass
class QueueMember:
    call_sid: str
    date_enqueued: datetime
    enqueued_offset: float
    #: Set when a `<Dial><Queue>` picks the member: the dequeuing leg, when, and the
    #: `<Queue url>` document to run on the member's end before the bridge.
    dequeued_by: CallLeg | None = None
    dequeued_offset: float | None = None
    announce: DocumentRequest | None = None


@dataclass
class Queue:
    sid: str
    friendly_name: str
    max_size: int
    date_created: datetime
    date_updated: datetime
    members: list[QueueMember] = field(default_factory=list)
    #: Executors waiting for a member to arrive (waker -> how many registrations).
    watchers: dict[threading.Condition, int] = field(default_factory=dict)


@dataclass
class Participant:
    call_sid: str
    conference_sid: str
    label: str | None
    date_created: datetime
    date_updated: datetime
    muted: bool = False
    hold: bool = False
    hold_url: str | None = None
    hold_method: str = "GET"
    start_conference_on_enter: bool = True
    end_conference_on_exit: bool = False
    status: str = "queued"
    #: Set when the participant is taken out (kicked, or the conference ended).
    removed: bool = False
    kicked: bool = False
    #: Whether the participant's leg is joined (counts as present in the conference).
    present: bool = False


@dataclass
class Conference:
    sid: str
    friendly_name: str
    date_created: datetime
    date_updated: datetime
    status: str = "init"
    reason_conference_ended: str | None = None
    call_sid_ending_conference: str | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    max_participants: int = DEFAULT_MAX_PARTICIPANTS
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset()
    callback_sequence: int = 0


@dataclass
class Message:
    sid: str
    to: str
    from_: str | None
    messaging_service_sid: str | None
    body: str
    num_segments: int
    status: str
    date_created: datetime
    date_updated: datetime
    date_sent: datetime | None
    status_callback: str | None = None
    media_urls: list[str] = field(default_factory=list)


@dataclass
class CallLeg:
    """One call resource and what it is doing now."""

    sid: str
    account_sid: str
    direction: str
    from_: str
    to: str
    date_created: datetime
    date_updated: datetime
    created_offset: float
    parent_sid: str | None = None
    phone_number_sid: str | None = None
    status: str = "queued"
    start_time: datetime | None = None
    start_offset: float | None = None
    end_time: datetime | None = None
    duration: int | None = None
    # Where its TwiML comes from and where it reports.
    initial: DocumentRequest | None = None
    fallback_url: str | None = None
    fallback_method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    status_callback_events: frozenset[str] = frozenset({"completed"})
    callback_sequence: int = 0
    final_callback_sent: bool = False
    ring_timeout: float = 60.0
    # What happens to it now.
    pending_redirect: DocumentRequest | None = None
    ring_outcome: str | None = None
    gathering: GatherState | None = None
    activity: dict[str, Any] | None = None
    dialing: dict[str, Any] | None = None
    queue_member: QueueMember | None = None
    queue: Queue | None = None
    bridge: Bridge | None = None
    participant: Participant | None = None
    has_executor: bool = False
    heard_application_error: bool = False
    #: The simulated device that is this leg's remote party, when one is registered.
    device: str | None = None
    transcript: list[TranscriptEntry] = field(default_factory=list)
    webhooks: list[WebhookRecord] = field(default_factory=list)
    #: Executors to wake when this leg changes (waker -> how many registrations).
    wakers: dict[threading.Condition, int] = field(default_factory=dict)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def answered(self) -> bool:
        return self.start_time is not None

    @property
    def remote_party(self) -> str:
        """The simulated phone or client at the far end of this leg."""
        return self.from_ if self.direction == "inbound" else self.to
