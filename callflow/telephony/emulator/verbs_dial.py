"""`<Dial>`: connecting the caller to a number, a client, the head of a queue, or a conference.

From Twilio's pages, point by point:
- Dial (https://www.twilio.com/docs/voice/twiml/dial): `timeout` (30 s of ringing), `callerId`
  (default: the caller's `From`), `action` / `method`; the action is requested when the dial
  ends, with `DialCallStatus` (`completed`, `answered` for conferences, `busy`, `no-answer`,
  `failed`, `canceled`), `DialCallSid`, `DialCallDuration` and `DialBridged`, and its TwiML
  continues the call; without `action` the call goes on with the next verb. Plain text inside
  `<Dial>` is a number.
- Number and Client (https://www.twilio.com/docs/voice/twiml/number,
  https://www.twilio.com/docs/voice/twiml/client): up to ten ring at once, the first to answer
  wins; `url` / `method` is TwiML run on the called party's end before the bridge (no
  `<Dial>` in it; if it hangs up the dial counts as `no-answer`); `statusCallback`,
  `statusCallbackEvent`, `statusCallbackMethod` for the child leg. The child leg is a call of its
  own (`direction` `outbound-dial`, `parent_call_sid` set); a REST update of its URL takes it out
  of the bridge and runs the new TwiML on it.
- Queue (https://www.twilio.com/docs/voice/twiml/queue): connects to the first caller waiting
  in the named queue, waiting up to `timeout` for one to arrive; an unknown queue ends the dial
  `failed`; `url` / `method` is TwiML (Play, Say, Pause, Redirect) run on the queued caller's end
  before the bridge, requested with `QueueSid`, `QueueTime` and `DequeingCallSid`. The action
  also gets `QueueSid`, `DequeueResult`, `DequeuedCallSid`, `DequeuedCallQueueTime`.
- Conference: see `conferencing.py`.
- `<Sip>` is not emulated (the call stops with an application error).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from . import conferencing
from .flow import (
    WHISPER,
    ApplicationError,
    CallEnded,
    Context,
    DialResult,
    HangupVerb,
    Redirected,
    Transfer,
    UnsupportedVerb,
)
from .ids import new_sid
from .models import Bridge, CallLeg, DocumentRequest, Queue, QueueMember
from .ringing import ring
from .twiml import Document, attr_int, attr_list, attr_method, text_of

if TYPE_CHECKING:
    from .engine import Executor

MAX_DIAL_TIMEOUT = 600


def dial(
    ex: Executor, element: ET.Element, document: Document, context: Context
) -> Transfer | None:
    registry, leg = ex.registry, ex.leg
    timeout = attr_int(element, "timeout", 30)
    timeout = min(timeout if timeout is not None and timeout > 0 else 30, MAX_DIAL_TIMEOUT)
    action_ref = element.get("action")
    action_url = document.resolve(action_ref) if action_ref else None
    nouns = list(element)
    if not nouns:
        number = ET.Element("Number")
        number.text = text_of(element)
        nouns = [number]
    kinds = {noun.tag for noun in nouns}
    ex.redirects_in_a_row = 0
    try:
        if "Conference" in kinds:
            noun = next(n for n in nouns if n.tag == "Conference")
            result = conferencing.dial_conference(ex, noun, document)
        elif "Queue" in kinds:
            noun = next(n for n in nouns if n.tag == "Queue")
            result = _dial_queue(ex, noun, document, timeout)
        elif kinds <= {"Number", "Client"}:
            result = _dial_devices(ex, nouns[:10], document, timeout, element.get("callerId"))
        else:
            strange = sorted(kinds - {"Number", "Client"})
            raise UnsupportedVerb("Dial/" + "/".join(strange))
    finally:
        with registry.lock:
            leg.dialing = None
            registry.touch()
    params = {"DialCallStatus": result.status, "DialBridged": "true" if result.bridged else "false"}
    if result.call_sid:
        params["DialCallSid"] = result.call_sid
    if result.duration is not None:
        params["DialCallDuration"] = str(result.duration)
    params.update(result.extra)
    registry.note(leg, "dial-result", status=result.status, call_sid=result.call_sid)
    method = attr_method(element, "method")
    if result.ended:
        if action_url:
            ex.notify(action_url, method, params, "dial-action")
        raise CallEnded(leg)
    if action_url:
        return ex.action(action_url, method, params, purpose="dial-action")
    return None


def _child_leg(
    ex: Executor, noun: ET.Element, document: Document, caller_id: str | None
) -> CallLeg:
    """A new outbound-dial leg for a `<Number>` or `<Client>` (lock held)."""
    registry, parent = ex.registry, ex.leg
    if noun.tag == "Client":
        identity = (noun.findtext("Identity") or "").strip() or text_of(noun)
        address = "client:" + identity
    else:
        address = text_of(noun)
    now = registry.now()
    child = CallLeg(
        sid=new_sid("CA"),
        account_sid=parent.account_sid,
        direction="outbound-dial",
        from_=caller_id or parent.from_,
        to=address,
        date_created=now,
        date_updated=now,
        created_offset=registry.offset(),
        parent_sid=parent.sid,
    )
    callback = noun.get("statusCallback")
    if callback:
        child.status_callback = document.resolve(callback)
        child.status_callback_method = attr_method(noun, "statusCallbackMethod")
        child.status_callback_events = attr_list(noun, "statusCallbackEvent") or frozenset(
            {"completed"}
        )
    registry.legs[child.sid] = child
    return child


def _dial_devices(
    ex: Executor,
    nouns: list[ET.Element],
    document: Document,
    timeout: float,
    caller_id: str | None,
) -> DialResult:
    registry, leg = ex.registry, ex.leg
    whispers: dict[str, DocumentRequest] = {}
    with registry.lock:
        children = []
        for noun in nouns:
            child = _child_leg(ex, noun, document, caller_id)
            children.append(child)
            if noun.get("url"):
                whispers[child.sid] = DocumentRequest(
                    document.resolve(noun.get("url") or ""),
                    attr_method(noun, "method"),
                    purpose="whisper",
                )
        leg.dialing = {"targets": [c.to for c in children], "call_sids": [c.sid for c in children]}
    registry.note(leg, "dial", targets=[c.to for c in children])
    try:
        winner = ring(ex, children, timeout)
    except CallEnded as ended:
        if ended.leg is not leg:
            raise
        return DialResult("canceled", children[0].sid, ended=True)
    if winner is None:
        statuses = {c.status for c in children}
        status = "busy" if "busy" in statuses else "no-answer"
        return DialResult(status, children[0].sid)
    try:
        request = whispers.get(winner.sid)
        if request is not None:
            outcome = _whisper(ex, winner, request)
            if outcome == "adopted":
                return DialResult("completed", winner.sid, 0)
            if outcome == "declined":
                ex.post_status(winner, "completed")
                return DialResult("no-answer", winner.sid, 0)
        return _bridge_child(ex, winner)
    except CallEnded as ended:
        if ended.leg is not leg:
            raise
        return DialResult("completed", winner.sid, 0, ended=True)


def _whisper(ex: Executor, child: CallLeg, request: DocumentRequest | None) -> str:
    """Run the `url` TwiML on the called party's end: continue, declined or adopted."""
    registry = ex.registry
    child_ex = ex.for_leg(child)
    adopted = False
    with registry.lock:
        child.has_executor = True
    try:
        with registry.watching(ex.waker, [child]):
            while request is not None:
                result = child_ex.execute(child_ex.fetch(request, fallback=False), WHISPER)
                request = result.request if result is not None else None
        return "continue"
    except HangupVerb:
        registry.end_leg(child, "completed")
        return "declined"
    except CallEnded as ended:
        if ended.leg is not child:
            registry.end_leg(child, "completed")
            ex.post_status(child, "completed")
            raise
        return "declined"
    except Redirected as redirected:
        if redirected.leg is not child:
            registry.end_leg(child, "completed")
            ex.post_status(child, "completed")
            raise
        adopted = True
        ex.adopt(child, redirected.request)
        return "adopted"
    except ApplicationError as error:
        registry.note(child, "error", detail=f"whisper failed: {error.detail}")
        registry.end_leg(child, "completed")
        return "declined"
    finally:
        if not adopted:
            with registry.lock:
                child.has_executor = False


def _bridge_child(ex: Executor, child: CallLeg) -> DialResult:
    """Talk with the answering child leg until one side leaves."""
    registry, leg = ex.registry, ex.leg
    with registry.lock:
        if child.ended:
            return DialResult("completed", child.sid, 0)
        bridge = Bridge(leg, child, registry.offset())
        leg.bridge = child.bridge = bridge
        if leg.dialing is not None:
            leg.dialing["bridged_with"] = child.sid
        registry.signal(leg, child)
    registry.note(leg, "bridged", with_call_sid=child.sid, party=child.to)
    registry.note(child, "bridged", with_call_sid=leg.sid, party=leg.remote_party)
    ended = False
    try:
        with registry.watching(ex.waker, [child]):
            ex.wait(lambda: True if bridge.ended is not None else None, None)
    except CallEnded as stop:
        if stop.leg is not leg:
            raise
        ended = True
    finally:
        with registry.lock:
            registry.end_bridge(leg)
            leg.bridge = None
            if not child.has_executor:
                registry.end_leg(child, "completed")
                child.bridge = None
        if not child.has_executor:
            ex.post_status(child, "completed")
        registry.note(leg, "unbridged", with_call_sid=child.sid)
    duration = int((bridge.ended or registry.offset()) - bridge.started)
    return DialResult("completed", child.sid, duration, bridged=True, ended=ended)


def _dial_queue(ex: Executor, noun: ET.Element, document: Document, timeout: float) -> DialResult:
    registry, leg = ex.registry, ex.leg
    name = text_of(noun)
    announce = (
        DocumentRequest(
            document.resolve(noun.get("url") or ""),
            attr_method(noun, "method"),
            purpose="queue-announce",
        )
        if noun.get("url")
        else None
    )
    with registry.lock:
        queue = registry.queue_by_name(name)
    registry.note(leg, "dial", queue=name)
    if queue is None:
        return DialResult("failed", extra={"DequeueResult": "queue-not-found"})
    with registry.lock:
        leg.dialing = {"queue": name, "claimed": None}
    deadline = registry.offset() + timeout
    try:
        with registry.watching(ex.waker, queue=queue):
            while True:
                remaining = deadline - registry.offset()
                if remaining <= 0:
                    return DialResult("no-answer", extra={"QueueSid": queue.sid})
                member = ex.wait(lambda: _claim(ex, queue, announce), remaining)
                if member is None:
                    continue
                result = _bridge_member(ex, queue, member)
                if result is not None:
                    return result
    except CallEnded as ended:
        if ended.leg is not leg:
            raise
        return DialResult("canceled", ended=True, extra={"QueueSid": queue.sid})


def _claim(ex: Executor, queue: Queue, announce: DocumentRequest | None) -> QueueMember | None:
    """Take the first caller nobody else is taking (lock held)."""
    registry, leg = ex.registry, ex.leg
    for member in queue.members:
        if member.dequeued_by is None:
            member.dequeued_by = leg
            member.dequeued_offset = registry.offset()
            member.announce = announce
            queue.members.remove(member)
            if leg.dialing is not None:
                leg.dialing["claimed"] = member.call_sid
            caller = registry.legs.get(member.call_sid)
            if caller is not None:
                registry.signal(caller)
            registry.signal_queue(queue)
            return member
    return None


def _bridge_member(ex: Executor, queue: Queue, member: QueueMember) -> DialResult | None:
    """Wait for the claimed caller to join the bridge, then talk; None if it never came."""
    registry, leg = ex.registry, ex.leg
    caller = registry.legs[member.call_sid]

    def joined() -> Bridge | bool | None:
        if leg.bridge is not None and leg.bridge.ended is None:
            return leg.bridge
        if caller.ended or member.dequeued_by is not leg:
            return False
        return None

    ended = False
    with registry.watching(ex.waker, [caller]):
        try:
            found = ex.wait(joined, None)
        except CallEnded as stop:
            # The dialer hung up just as the caller joined: the bridge did happen.
            if stop.leg is not leg or leg.bridge is None:
                raise
            found, ended = leg.bridge, True
        if not isinstance(found, Bridge):
            with registry.lock:
                if leg.dialing is not None:
                    leg.dialing["claimed"] = None
            return None
        bridge = found
        registry.note(leg, "bridged", with_call_sid=caller.sid, party=caller.remote_party)
        try:
            if not ended:
                ex.wait(lambda: True if bridge.ended is not None else None, None)
        except CallEnded as stop:
            if stop.leg is not leg:
                raise
            ended = True
        finally:
            with registry.lock:
                registry.end_bridge(leg)
                leg.bridge = None
            registry.note(leg, "unbridged", with_call_sid=caller.sid)
    duration = int((bridge.ended or registry.offset()) - bridge.started)
    queue_time = int((member.dequeued_offset or bridge.started) - member.enqueued_offset)
    return DialResult(
        "completed",
        caller.sid,
        duration,
        bridged=True,
        ended=ended,
        extra={
            "QueueSid": queue.sid,
            "DequeueResult": "bridged",
            "DequeuedCallSid": caller.sid,
            "DequeuedCallQueueTime": str(queue_time),
        },
    )
