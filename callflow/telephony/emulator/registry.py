"""The emulator's shared state and its one lock.

Every record of `models.py` lives here and changes only under `lock`. A leg's executor
thread sleeps on a condition (a *waker*) registered on the legs and queues it watches;
`signal` wakes exactly those, so hundreds of waiting calls cost no CPU. `changed` is a
separate condition for observers (tests, the control API's waits) and is notified on every
change.

`end_leg` is the single place where a leg stops: it fixes its final status and duration
at once (so a REST fetch right after a hang-up already reads `completed`), takes it out of
its queue and its device, and wakes whoever was talking to it. The leg's executor then
finishes the TwiML consequences (action requests, status callbacks) on its own thread.
"""

from __future__ import annotations

import queue as queue_module
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .clock import EmulatorClock
from .ids import new_sid
from .models import (
    CallLeg,
    Conference,
    Device,
    Message,
    NumberConfig,
    Queue,
    TranscriptEntry,
    WebhookRecord,
)

T = TypeVar("T")

#: A leg keeps at most this many transcript entries and webhook records (oldest dropped).
HISTORY_LIMIT = 5000
#: What Twilio itself would count against the service: a webhook answered in 1 s or more.
SLOW_WEBHOOK_S = 1.0
#: How many of the slowest webhooks the tally names.
SLOWEST_KEPT = 10


class WebhookTally:
    """Every webhook the emulator sent, as the service's far end saw it: answered (2xx),
    refused (any other HTTP status, 5xx counted apart), unanswered (connection error or
    timeout), and how long each took on the wire, queueing in the web server included."""

    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0
        self.http_errors = 0
        self.server_errors = 0
        self.unanswered = 0
        self.slow = 0
        self.max_seconds = 0.0
        #: The slowest webhooks, slowest first: (seconds, path, status, when).
        self.slowest: list[tuple[float, str, int | None, str]] = []

    def count(self, *, status: int | None, seconds: float, path: str = "", when: str = "") -> None:
        if len(self.slowest) < SLOWEST_KEPT or seconds > self.slowest[-1][0]:
            self.slowest.append((seconds, path, status, when))
            self.slowest.sort(key=lambda item: -item[0])
            del self.slowest[SLOWEST_KEPT:]
        self.sent += 1
        if status is None:
            self.unanswered += 1
        elif 200 <= status < 300:
            self.answered += 1
        else:
            self.http_errors += 1
            self.server_errors += status >= 500
        self.slow += seconds >= SLOW_WEBHOOK_S
        self.max_seconds = max(self.max_seconds, seconds)

    def view(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "http_errors": self.http_errors,
            "server_errors": self.server_errors,
            "unanswered": self.unanswered,
            "slow": self.slow,
            "slow_threshold_s": SLOW_WEBHOOK_S,
            "max_seconds": round(self.max_seconds, 4),
            "slowest": [
                {"seconds": round(seconds, 4), "path": path, "status": status, "at": when}
                for seconds, path, status, when in self.slowest
            ],
        }


class Registry:
    """Numbers, devices, legs, queues, conferences and messages of one emulated account."""

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
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.clock = EmulatorClock(time_scale)
        self.webhook_timeout = webhook_timeout
        self.play_seconds = play_seconds
        self.words_per_second = words_per_second
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.closing = False
        self.numbers: dict[str, NumberConfig] = {}
        self.devices: dict[str, Device] = {}
        self.legs: dict[str, CallLeg] = {}
        self.queues: dict[str, Queue] = {}
        self.conferences: dict[str, Conference] = {}
        self.messages: dict[str, Message] = {}
        self.threads: list[threading.Thread] = []
        #: Webhooks sent off the call threads (conference and message status callbacks),
        #: in order, by the notifier thread; and what became of them.
        self.outbox: queue_module.Queue[tuple[str, str, dict[str, str], str] | None] = (
            queue_module.Queue()
        )
        self.async_webhooks: list[WebhookRecord] = []
        self.webhook_tally = WebhookTally()

    # -- time -----------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def offset(self) -> float:
        return self.clock.elapsed()

    # -- waking ---------------------------------------------------------------------------

    def new_waker(self) -> threading.Condition:
        return threading.Condition(self.lock)

    def touch(self) -> None:
        """Tell observers that something changed (lock held)."""
        self.changed.notify_all()

    def signal(self, *legs: CallLeg) -> None:
        """Wake the executors watching these legs (lock held)."""
        for leg in legs:
            for waker in list(leg.wakers):
                waker.notify_all()
        self.touch()

    def signal_queue(self, queue: Queue) -> None:
        for waker in list(queue.watchers):
            waker.notify_all()
        self.touch()

    @contextmanager
    def watching(
        self, waker: threading.Condition, legs: Iterable[CallLeg] = (), queue: Queue | None = None
    ) -> Iterator[None]:
        """Register `waker` on these legs (and queue) for the duration of the block.

        Registrations nest: the same waker may watch a leg from several blocks at once.
        """
        legs = list(legs)
        boards = [leg.wakers for leg in legs] + ([queue.watchers] if queue is not None else [])
        with self.lock:
            for board in boards:
                board[waker] = board.get(waker, 0) + 1
        try:
            yield
        finally:
            with self.lock:
                for board in boards:
                    count = board.get(waker, 0) - 1
                    if count > 0:
                        board[waker] = count
                    else:
                        board.pop(waker, None)

    def wait_for(self, predicate: Callable[[], T | None], timeout: float = 5.0) -> T:
        """Block until `predicate()` (evaluated under the lock) is truthy; real seconds.

        Raises TimeoutError with nothing changed when it never becomes true.
        """
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the emulator did not reach the awaited state in time")
                self.changed.wait(remaining)

    # -- records --------------------------------------------------------------------------

    def leg(self, sid: str) -> CallLeg | None:
        return self.legs.get(sid)

    def note(self, leg: CallLeg, kind: str, **detail: Any) -> None:
        """Append to a leg's transcript (lock taken here)."""
        with self.lock:
            offset = self.offset() - leg.created_offset
            clean = {k: v for k, v in detail.items() if v is not None}
            leg.transcript.append(TranscriptEntry(self.now(), round(offset, 3), kind, clean))
            if len(leg.transcript) > HISTORY_LIMIT:
                del leg.transcript[0]
            leg.date_updated = self.now()
            self.touch()

    def tally_webhook(self, *, status: int | None, seconds: float, url: str) -> None:
        with self.lock:
            self.webhook_tally.count(
                status=status,
                seconds=seconds,
                path=urlsplit(url).path,
                when=datetime.now(UTC).isoformat(timespec="milliseconds"),
            )

    def record_webhook(self, leg: CallLeg, record: WebhookRecord) -> None:
        with self.lock:
            leg.webhooks.append(record)
            if len(leg.webhooks) > HISTORY_LIMIT:
                del leg.webhooks[0]
            self.touch()

    def post_async(self, url: str, method: str, params: dict[str, str], purpose: str) -> None:
        """Queue a webhook whose answer nobody waits for (sent in order by the notifier)."""
        self.outbox.put((url, method, params, purpose))

    def set_activity(self, leg: CallLeg, activity: dict[str, Any] | None) -> None:
        with self.lock:
            leg.activity = activity
            self.touch()

    def queue_by_name(self, name: str) -> Queue | None:
        for queue in self.queues.values():
            if queue.friendly_name == name:
                return queue
        return None

    def active_conference(self, name: str) -> Conference | None:
        for conference in self.conferences.values():
            if conference.friendly_name == name and conference.status != "completed":
                return conference
        return None

    # -- the life of a leg ----------------------------------------------------------------

    def answer_leg(self, leg: CallLeg) -> None:
        """The far end (or Twilio, for inbound calls) picked up (lock held)."""
        if leg.ended or leg.answered:
            return
        leg.status = "in-progress"
        leg.start_time = self.now()
        leg.start_offset = self.offset()
        leg.date_updated = leg.start_time
        self.signal(leg)

    def end_leg(self, leg: CallLeg, status: str = "completed") -> bool:
        """Stop a leg with its final status; False when it had already stopped."""
        with self.lock:
            if leg.ended:
                return False
            if status == "completed" and not leg.answered:
                status = "canceled" if leg.direction != "inbound" else "completed"
            leg.status = status
            leg.end_time = self.now()
            leg.date_updated = leg.end_time
            if leg.start_offset is not None:
                leg.duration = int(self.offset() - leg.start_offset)
            leg.gathering = None
            self._leave_queue(leg)
            self._leave_device(leg)
            self._drop_pending_participant(leg)
            partners: list[CallLeg] = []
            if leg.bridge is not None and leg.bridge.ended is None:
                leg.bridge.ended = self.offset()
                partners.append(leg.bridge.other(leg))
            self.signal(leg, *partners)
            return True

    def _leave_queue(self, leg: CallLeg) -> None:
        member, queue = leg.queue_member, leg.queue
        if member is not None and queue is not None and member in queue.members:
            queue.members.remove(member)
            queue.date_updated = self.now()
            self.signal_queue(queue)

    def _drop_pending_participant(self, leg: CallLeg) -> None:
        """A participant created through the REST API whose call never joined."""
        participant = leg.participant
        if participant is None or participant.present:
            return
        conference = self.conferences.get(participant.conference_sid)
        if conference is not None and conference.participants.get(leg.sid) is participant:
            del conference.participants[leg.sid]
        participant.status = "failed" if not leg.answered else "complete"
        leg.participant = None

    def _leave_device(self, leg: CallLeg) -> None:
        device = self.devices.get(leg.device or "")
        if device is None:
            return
        if leg.sid in device.ringing:
            device.ringing.remove(leg.sid)
        if leg.sid in device.connected:
            device.connected.remove(leg.sid)
            # An auto-answering device that just became free may pick up a waiting call.
            self.signal(*(self.legs[sid] for sid in device.ringing if sid in self.legs))

    def end_bridge(self, leg: CallLeg) -> None:
        """Take a leg out of its bridge, waking the other side (lock held)."""
        bridge = leg.bridge
        if bridge is None or bridge.ended is not None:
            return
        bridge.ended = self.offset()
        self.signal(bridge.a, bridge.b)

    def start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self.lock:
            self.threads = [t for t in self.threads if t.is_alive()]
            self.threads.append(thread)
        thread.start()
