"""The Queue and Queue Member resources
(https://www.twilio.com/docs/voice/api/queue-resource,
https://www.twilio.com/docs/voice/api/member-resource).

- Queues: create (`FriendlyName`, unique in the account, at most 64 characters; `MaxSize`,
  1000 by default, at most 5000), list, fetch. `<Enqueue>` creates queues on demand too.
- Members: list (in queue order, `position` from 1), fetch by CallSid or `Front`, and update
  (`Url` required, `Method` POST by default): the member leaves the queue at once, its
  `<Enqueue action>` is requested with `QueueResult=redirected` (answer unused) and the call
  continues with the TwiML at `Url`. The answer is the member as it was when dequeued.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..models import DocumentRequest, Queue, QueueMember
from ..state import CallStateError, EmulatorState
from ..verbs_queue import create_queue
from . import forms
from .errors import ApiError, missing_parameter, not_found
from .representations import member_json, page, queue_json


def register(blueprint: Blueprint, state: EmulatorState) -> None:
    def find_queue(sid: str) -> Queue:
        queue = state.queues.get(sid)
        if queue is None:
            raise not_found(request.path)
        return queue

    def find_member(queue: Queue, call_sid: str) -> QueueMember:
        if call_sid == "Front":
            if not queue.members:
                raise not_found(request.path)
            return queue.members[0]
        for member in queue.members:
            if member.call_sid == call_sid:
                return member
        raise not_found(request.path)

    @blueprint.get("/Queues.json")
    def list_queues(account_sid: str) -> dict[str, Any]:
        with state.lock:
            items = [
                queue_json(state, q)
                for q in sorted(state.queues.values(), key=lambda q: q.date_created)
            ]
        return page(items, key="queues", path=request.path, args=request.args, filters={})

    @blueprint.post("/Queues.json")
    def create_queue_resource(account_sid: str) -> tuple[dict[str, Any], int]:
        name = forms.value("FriendlyName")
        if name is None:
            raise missing_parameter("FriendlyName")
        if len(name) > 64:
            raise ApiError(400, 20001, "FriendlyName must be at most 64 characters")
        max_size = forms.integer("MaxSize", 1000, 1, 5000)
        with state.lock:
            if state.queue_by_name(name) is not None:
                raise ApiError(400, 20001, f"A queue named {name!r} already exists")
            queue = create_queue(state, name, max_size)
            return queue_json(state, queue), 201

    @blueprint.get("/Queues/<sid>.json")
    def fetch_queue(account_sid: str, sid: str) -> dict[str, Any]:
        with state.lock:
            return queue_json(state, find_queue(sid))

    @blueprint.get("/Queues/<queue_sid>/Members.json")
    def list_members(account_sid: str, queue_sid: str) -> dict[str, Any]:
        with state.lock:
            queue = find_queue(queue_sid)
            items = [member_json(state, queue, m) for m in queue.members]
        return page(items, key="queue_members", path=request.path, args=request.args, filters={})

    @blueprint.get("/Queues/<queue_sid>/Members/<call_sid>.json")
    def fetch_member(account_sid: str, queue_sid: str, call_sid: str) -> dict[str, Any]:
        with state.lock:
            queue = find_queue(queue_sid)
            return member_json(state, queue, find_member(queue, call_sid))

    @blueprint.post("/Queues/<queue_sid>/Members/<call_sid>.json")
    def dequeue_member(account_sid: str, queue_sid: str, call_sid: str) -> dict[str, Any]:
        url = forms.url("Url")
        if url is None:
            raise missing_parameter("Url")
        method = forms.method("Method")
        with state.lock:
            queue = find_queue(queue_sid)
            member = find_member(queue, call_sid)
            body = member_json(state, queue, member)
            leg = state.legs[member.call_sid]
            try:
                state.redirect_call(leg, DocumentRequest(url, method, purpose="redirect"))
            except CallStateError as error:
                raise ApiError(400, 21220, str(error)) from error
        return body
