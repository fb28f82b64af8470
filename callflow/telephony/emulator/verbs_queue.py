"""`<Enqueue>` and `<Leave>`: a caller waiting in a named queue.

From Twilio's Enqueue page (https://www.twilio.com/docs/voice/twiml/enqueue) and Leave page
(https://www.twilio.com/docs/voice/twiml/leave), point by point:
- the queue is created on demand by name (64 characters at most), `MaxSize` 1000 by default;
  a full queue refuses the caller with `QueueResult=queue-full`;
- while waiting, the caller runs the `waitUrl` document (`waitUrlMethod`, POST), requested with
  `QueueSid`, `QueuePosition`, `QueueTime`, `AvgQueueTime`, `CurrentQueueSize` and
  `MaxQueueSize`, and requested again each time it finishes; with no `waitUrl` the caller hears
  Twilio's default hold music (not downloaded: one `play_seconds` long track, looped). The
  waitUrl TwiML may use Play, Say, Pause, Gather, Redirect, Leave and Hangup. A Gather's
  action answer runs in the same wait context; a `<Redirect>` takes the caller out of the queue
  and the call continues at its URL;
- the `action` URL (`method`, POST) is requested when the caller leaves the queue, with
  `QueueResult`, `QueueSid` and `QueueTime`: right away for `<Leave>` and REST dequeues, after
  the bridged parties disconnect when a `<Dial><Queue>` took the caller. Its answer continues
  the call for `leave`, `bridged` (when the other side hung up), `queue-full` and `error`; for
  `hangup`, `redirected` and `redirected-from-waiting-url` the call has already ended or moved
  on, and the answer is not used. Without `action` the call falls through to the verb after
  `<Enqueue>`;
- `QueueResult` values used: `bridged`, `queue-full`, `redirected` (REST: Calls update or Queue
  Member dequeue), `redirected-from-waiting-url`, `leave`, `hangup` (the caller hung up, or the
  waitUrl TwiML said `<Hangup/>`), `error` (the waitUrl document could not be fetched or run).

Twilio does not say how fast an empty waitUrl document is requested again; the emulator waits
at least `MIN_WAIT_LOOP_SECONDS` between two requests so an empty document cannot flood the
application.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .flow import (
    ANNOUNCE,
    QUEUE_WAIT,
    ApplicationError,
    CallEnded,
    Context,
    Dequeued,
    HangupVerb,
    LeaveQueue,
    Redirected,
    Transfer,
)
from .ids import new_sid
from .models import (
    DEFAULT_QUEUE_MAX_SIZE,
    Bridge,
    CallLeg,
    DocumentRequest,
    Queue,
    QueueMember,
)
from .registry import Registry
from .twiml import Document, attr_method, text_of
from .verbs_media import perform

if TYPE_CHECKING:
    from .engine import Executor

MIN_WAIT_LOOP_SECONDS = 1.0
DEFAULT_HOLD_MUSIC = "twilio:default-hold-music"


def create_queue(registry: Registry, name: str, max_size: int = DEFAULT_QUEUE_MAX_SIZE) -> Queue:
    """A new named queue (lock held)."""
    now = registry.now()
    queue = Queue(new_sid("QU"), name, max_size, now, now)
    registry.queues[queue.sid] = queue
    return queue


def queue_params(ex: Executor, queue: Queue, member: QueueMember) -> dict[str, str]:
    """What the waitUrl request says about the caller's place (lock held)."""
    now = ex.registry.offset()
    waits = [now - m.enqueued_offset for m in queue.members]
    position = queue.members.index(member) + 1 if member in queue.members else 0
    return {
        "QueueSid": queue.sid,
        "QueuePosition": str(position),
        "QueueTime": str(int(now - member.enqueued_offset)),
        "AvgQueueTime": str(int(sum(waits) / len(waits)) if waits else 0),
        "CurrentQueueSize": str(len(queue.members)),
        "MaxQueueSize": str(queue.max_size),
    }


def leave(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    if context is QUEUE_WAIT:
        raise LeaveQueue("leave")
    ex.registry.note(ex.leg, "warning", detail="<Leave> outside a queue does nothing")
    return None


def enqueue(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    registry, leg = ex.registry, ex.leg
    name = text_of(element)[:64]
    action_ref = element.get("action")
    action_url = document.resolve(action_ref) if action_ref else None
    action_method = attr_method(element, "method")
    wait_ref = element.get("waitUrl")
    wait_request = (
        DocumentRequest(
            document.resolve(wait_ref), attr_method(element, "waitUrlMethod"), purpose="wait"
        )
        if wait_ref
        else None
    )
    with registry.lock:
        queue = registry.queue_by_name(name) or create_queue(registry, name)
        if len(queue.members) >= queue.max_size:
            member = None
        else:
            now = registry.now()
            member = QueueMember(leg.sid, now, registry.offset())
            queue.members.append(member)
            queue.date_updated = now
            leg.queue, leg.queue_member = queue, member
            registry.signal_queue(queue)
    if member is None:
        registry.note(leg, "enqueue", queue=name, result="queue-full")
        return _after(ex, action_url, action_method, {"QueueResult": "queue-full"}, None)
    registry.note(leg, "enqueue", queue=name, queue_sid=queue.sid)
    result, then = _stay(ex, queue, member, wait_request)
    with registry.lock:
        if member in queue.members:
            queue.members.remove(member)
            registry.signal_queue(queue)
        leg.queue, leg.queue_member = None, None
        left_at = member.dequeued_offset or registry.offset()
        params = {
            "QueueResult": result,
            "QueueSid": queue.sid,
            "QueueTime": str(int(left_at - member.enqueued_offset)),
        }
    registry.note(leg, "dequeue", queue=name, result=result)
    return _after(ex, action_url, action_method, params, then)


def _after(
    ex: Executor,
    action_url: str | None,
    method: str,
    params: dict[str, str],
    then: DocumentRequest | BaseException | None,
) -> Transfer | None:
    """Request the action (when there is one) and carry on as the QueueResult says."""
    if isinstance(then, BaseException):
        if action_url:
            ex.notify(action_url, method, params, "enqueue-action")
        raise then
    if then is not None:
        if action_url:
            ex.notify(action_url, method, params, "enqueue-action")
        return Transfer(then)
    if action_url:
        return ex.action(action_url, method, params, purpose="enqueue-action")
    return None


def _stay(
    ex: Executor, queue: Queue, member: QueueMember, wait_request: DocumentRequest | None
) -> tuple[str, DocumentRequest | BaseException | None]:
    """Wait until something takes the caller out; the QueueResult and what comes next."""
    registry, leg = ex.registry, ex.leg
    bridged = False
    try:
        while True:
            dialer = _wait_loop(ex, queue, member, wait_request)
            if _connect(ex, dialer, queue, member):
                bridged = True
                _talk(ex)
                return "bridged", None
    except LeaveQueue as leaving:
        return leaving.result, leaving.then
    except HangupVerb:
        registry.note(leg, "hangup", by="twiml")
        registry.end_leg(leg, "completed")
        return "hangup", CallEnded(leg)
    except CallEnded as ended:
        if ended.leg is not leg:
            raise
        return ("bridged" if bridged else "hangup"), ended
    except Redirected as redirected:
        if redirected.leg is not leg:
            raise
        return "redirected", redirected
    except ApplicationError as error:
        registry.note(leg, "error", detail=f"waitUrl failed: {error.detail}")
        return "error", None


def _wait_loop(
    ex: Executor, queue: Queue, member: QueueMember, wait_request: DocumentRequest | None
) -> CallLeg:
    """Run the wait documents until a `<Dial><Queue>` picks this caller; return the dialer."""
    registry = ex.registry

    def picked() -> None:
        if member.dequeued_by is not None:
            raise Dequeued(member.dequeued_by)

    ex.interrupts.append(picked)
    try:
        request = wait_request
        while True:
            started = registry.offset()
            if request is None:
                perform(ex, "play", registry.play_seconds, {"url": DEFAULT_HOLD_MUSIC})
            else:
                with registry.lock:
                    params = {**request.params, **queue_params(ex, queue, member)}
                document = ex.fetch(
                    DocumentRequest(request.url, request.method, params, request.purpose),
                    fallback=False,
                )
                result = ex.execute(document, QUEUE_WAIT)
                request = result.request if result is not None else wait_request
            spent = registry.offset() - started
            if spent < MIN_WAIT_LOOP_SECONDS:
                ex.sleep(MIN_WAIT_LOOP_SECONDS - spent)
    except Dequeued as dequeued:
        return dequeued.dialer
    finally:
        ex.interrupts.remove(picked)


def _connect(ex: Executor, dialer: CallLeg, queue: Queue, member: QueueMember) -> bool:
    """Run the `<Queue url>` document, then bridge with the dialer if it still waits.

    When the dialer gave up meanwhile, the caller goes back to the head of the queue.
    """
    registry, leg = ex.registry, ex.leg
    if member.announce is not None:
        with registry.lock:
            params = {
                **member.announce.params,
                "QueueSid": queue.sid,
                "QueueTime": str(int(registry.offset() - member.enqueued_offset)),
                "DequeingCallSid": dialer.sid,
            }
        request: DocumentRequest | None = DocumentRequest(
            member.announce.url, member.announce.method, params, purpose="queue-announce"
        )
        try:
            while request is not None:
                result = ex.execute(ex.fetch(request, fallback=False), ANNOUNCE)
                request = result.request if result is not None else None
        except ApplicationError as error:
            registry.note(leg, "error", detail=f"<Queue url> failed: {error.detail}")
    with registry.lock:
        waiting = dialer.dialing is not None and dialer.dialing.get("claimed") == leg.sid
        if waiting and not dialer.ended:
            bridge = Bridge(dialer, leg, registry.offset())
            dialer.bridge = leg.bridge = bridge
            registry.signal(dialer, leg)
            return True
        member.dequeued_by = None
        member.dequeued_offset = None
        member.announce = None
        queue.members.insert(0, member)
        registry.signal_queue(queue)
        return False


def _talk(ex: Executor) -> None:
    """Stay bridged until either side leaves."""
    registry, leg = ex.registry, ex.leg
    bridge = leg.bridge
    assert bridge is not None
    other = bridge.other(leg)
    registry.note(leg, "bridged", with_call_sid=other.sid, party=other.remote_party)
    try:
        with registry.watching(ex.waker, [other]):
            ex.wait(lambda: True if bridge.ended is not None else None, None)
    finally:
        with registry.lock:
            registry.end_bridge(leg)
            leg.bridge = None
        registry.note(leg, "unbridged", with_call_sid=other.sid)
