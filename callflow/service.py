"""Plain functions over the call record: open a call, move it, write its timeline.

They take the session and never commit: the caller (a flow) owns the transaction, so a
status change and its event land together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.state import InstanceState

from runtime.clock import now

from .models import Call, CallEvent, iso
from .numbers import parse_caller
from .states import CallStatus, check_move

_OPENED_BY = "callflow.opened_by"


class CallNotFound(LookupError):
    pass


#: Told, after the commit, when a call leaves its agent without the agent acting: the caller
#: hung up (`caller_hung_up`) or the agent's lease ran out (`lease_expired`).
#: `regulation` registers the follow-ups (presence, putting the caller back on hold).
AgentFreedListener = Callable[[Session, "Call", int, str], None]
_agent_freed_listeners: list[AgentFreedListener] = []


def on_agent_freed(listener: AgentFreedListener) -> None:
    if listener not in _agent_freed_listeners:
        _agent_freed_listeners.append(listener)


#: Told when events are inserted without the unit of work (a new call's first events, the
#: hold loop's announcements: `append_event`), with the call id and the event types: what a
#: flush would have shown in `session.new`.
EventsWrittenListener = Callable[[Session, int, list[str]], None]
_events_written_listeners: list[EventsWrittenListener] = []


def on_events_written(listener: EventsWrittenListener) -> None:
    if listener not in _events_written_listeners:
        _events_written_listeners.append(listener)


def agent_freed(session: Session, call: Call, *, agent_id: int | None, reason: str) -> None:
    """Tell the listeners that `agent_id` no longer holds `call` (call after committing)."""
    if agent_id is None:
        return
    for listener in list(_agent_freed_listeners):
        listener(session, call, agent_id, reason)


def get_call(session: Session, *, call_id: int, for_update: bool = False) -> Call:
    query = select(Call).where(Call.id == call_id)
    if for_update:
        query = query.with_for_update()
    call = session.scalars(query).first()
    if call is None:
        raise CallNotFound(call_id)
    return call


def find_call(session: Session, *, call_sid: str, for_update: bool = False) -> Call | None:
    query = select(Call).where(Call.call_sid == call_sid)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


class HoldState(NamedTuple):
    """What the hold loop reads of a call at each of its requests, without loading it."""

    id: int
    status: str
    queue: str | None
    priority: str
    enqueued_at: datetime | None
    caller: str | None
    callback_offered: bool
    twilio_queue_sid: str | None


_HOLD_STATE = select(*(Call.__table__.c[name] for name in HoldState._fields)).where(
    Call.__table__.c.call_sid == bindparam("call_sid")
)


def hold_state(session: Session, *, call_sid: str) -> HoldState | None:
    """The call's `HoldState`: one Core statement built once, through the session's
    connection (no ORM object, nothing for the session to track)."""
    row = session.connection().execute(_HOLD_STATE, {"call_sid": call_sid}).first()
    return None if row is None else HoldState(*row)


def record_event(
    session: Session,
    call: Call,
    *,
    type: str,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> CallEvent:
    """Append one event to the call's timeline."""
    moment = at or now()
    entry = CallEvent(call=call, type=type, at=moment, actor=actor, data=data or {})
    session.add(entry)
    call.updated_at = moment
    return entry


def move(
    session: Session,
    call: Call,
    to: CallStatus,
    *,
    event: str,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> Call:
    """Move the call to `to` (legal moves only), apply `changes`, and write the event."""
    target = check_move(call.status, to)
    moment = now()
    previous = call.status
    call.status = target.value
    for name, value in changes.items():
        if not hasattr(Call, name):
            raise AttributeError(f"Call has no field {name}")
        setattr(call, name, value)
    if (
        target
        in (CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.OVERFLOWED, CallStatus.FAILED)
        and call.ended_at is None
    ):
        call.ended_at = moment
    payload = {"from": previous, "to": target.value}
    payload.update(data or {})
    record_event(session, call, type=event, actor=actor, data=payload, at=moment)
    return call


def open_call(
    session: Session,
    *,
    call_sid: str,
    caller_raw: str | None,
    dialled: str | None,
    line: str,
    status: CallStatus = CallStatus.IVR,
    event: str = "arrived",
    data: dict[str, Any] | None = None,
    history_window: timedelta | None = None,
) -> tuple[Call, bool]:
    """The call with this CallSid, created if new. Returns (call, created).

    With `history_window`, a new call is linked to the last one from the same number within
    that window (`previous_call_id`, `repeat_caller`, a `repeat_caller` event), looked up by
    the same statement that inserts it.

    Twilio retries webhooks: a second request for the same CallSid finds the first call,
    even when both race. One statement decides: `INSERT … ON CONFLICT (call_sid) DO NOTHING
    RETURNING`, which waits for a racing insert of the same CallSid to commit; the loser then
    reads the winner's row, locked, as a retry does. On PostgreSQL the same statement writes
    the call's first event (`_with_first_event`); the call's whole timeline stays in memory.
    """
    number = parse_caller(caller_raw)
    moment = now()
    final = status in (CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.FAILED)
    values: dict[str, Any] = {
        "call_sid": call_sid,
        "line": line,
        "dialled": dialled,
        "caller": number.e164,
        "caller_flag": number.flag.value if number.flag else None,
        "caller_display": number.display,
        "caller_kind": number.kind.value if number.kind else None,
        "status": status.value,
        "priority": "NR",
        "menu_attempts": 0,
        "callback_offered": False,
        "arrived_at": moment,
        "updated_at": moment,
        "ended_at": moment if final else None,
    }
    # A NULL caller matches no earlier call: no history looked up.
    history = {
        "history_caller": number.e164 if history_window is not None else None,
        "history_since": moment - (history_window or timedelta(0)),
    }
    details: dict[str, Any] = {"line": line, "caller_flag": values["caller_flag"]}
    details.update(data or {})
    first = {"event_type": event, "event_at": moment, "event_data": details}
    dialect = session.get_bind().dialect.name
    statement = _open_statement(dialect, tuple(values))
    row = session.connection().execute(statement, values | history | first).first()
    if row is None:
        winner = find_call(session, call_sid=call_sid, for_update=True)
        if winner is None:  # pragma: no cover - the conflicting row cannot vanish
            raise LookupError(f"call {call_sid} neither inserted nor found")
        return winner, False
    opened = row._asdict()
    created = _persistent_call(session, values | opened)
    if "event_id" in opened:  # inserted with the call (PostgreSQL)
        timeline = [_loaded_event(session, created, opened["event_id"], event, details, moment)]
    else:
        timeline = [_insert_event(session, created, event, details, at=moment)]
    if created.previous_call_id is not None:
        repeat = {"previous_call_id": created.previous_call_id}
        timeline.append(_insert_event(session, created, "repeat_caller", repeat, at=moment))
    set_committed_value(created, "events", timeline)
    _tell_events_written(session, created, [entry.type for entry in timeline])
    return created, True


def append_event(
    session: Session, call: Call, *, type: str, data: dict[str, Any] | None = None
) -> CallEvent:
    """`record_event` for a hot path (the hold loop's announcements): the event is inserted
    now by a statement built once, without the unit of work, after any new object the
    session holds unflushed (the timeline keeps its order). The call's `updated_at` rides
    with its other pending changes, or is set by one built-once UPDATE when it has none. A
    timeline already in memory gets the event too."""
    if session.new:
        session.flush()
    moment = now()
    entry = _insert_event(session, call, type, data or {}, at=moment)
    if "events" in call.__dict__:
        set_committed_value(call, "events", [*call.events, entry])
    if inspect(call).modified:
        call.updated_at = moment
    else:
        session.connection().execute(_TOUCH_CALL, {"call_id": call.id, "at": moment})
        set_committed_value(call, "updated_at", moment)
    _tell_events_written(session, call, [type])
    return entry


def _insert_event(
    session: Session, call: Call, type_: str, data: dict[str, Any], *, at: datetime
) -> CallEvent:
    """One event inserted at once by a statement built once (no unit of work)."""
    values = {"call_id": call.id, "type": type_, "at": at, "data": data}
    event_id = session.connection().execute(_EVENT_INSERT, values).scalar_one()
    return _loaded_event(session, call, event_id, type_, data, at)


def _loaded_event(
    session: Session, call: Call, event_id: int, type_: str, data: dict[str, Any], at: datetime
) -> CallEvent:
    """An event the database holds, put in the session as loaded and unchanged."""
    entry = CallEvent(id=event_id, call_id=call.id, type=type_, at=at, actor=None, data=data)
    make_transient_to_detached(entry)
    session.add(entry)
    set_committed_value(entry, "call", call)
    return entry


def _tell_events_written(session: Session, call: Call, types: list[str]) -> None:
    """The listeners (`on_events_written`) learn of events a flush did not write."""
    for listener in list(_events_written_listeners):
        listener(session, call.id, types)


_EVENT_INSERT = (
    CallEvent.__table__.insert()
    .values(
        {
            name: bindparam(name, type_=CallEvent.__table__.c[name].type)
            for name in ("call_id", "type", "at", "data")
        }
    )
    .returning(CallEvent.__table__.c.id)
)

_TOUCH_CALL = (
    Call.__table__.update()
    .where(Call.__table__.c.id == bindparam("call_id"))
    .values(updated_at=bindparam("at", type_=Call.__table__.c.updated_at.type))
)


_OPEN_STATEMENTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _open_statement(dialect: str, columns: tuple[str, ...]) -> Any:
    """`INSERT … ON CONFLICT (call_sid) DO NOTHING RETURNING` of a new call's `columns`, with
    its link to the caller's last call in the window; built once, values bound per call."""
    key = (dialect, columns)
    if key not in _OPEN_STATEMENTS:
        calls = Call.__table__
        earlier = (
            select(calls.c.id)
            .where(
                calls.c.caller == bindparam("history_caller", type_=calls.c.caller.type),
                calls.c.arrived_at >= bindparam("history_since", type_=calls.c.arrived_at.type),
            )
            .order_by(calls.c.arrived_at.desc(), calls.c.id.desc())
            .limit(1)
        )
        insert = _insert_for(dialect)(calls).values(
            {name: bindparam(name, type_=calls.c[name].type) for name in columns}
            | {"previous_call_id": earlier.scalar_subquery(), "repeat_caller": earlier.exists()}
        )
        opened = insert.on_conflict_do_nothing(index_elements=["call_sid"]).returning(
            calls.c.id, calls.c.previous_call_id, calls.c.repeat_caller
        )
        _OPEN_STATEMENTS[key] = _with_first_event(opened) if dialect == "postgresql" else opened
    return _OPEN_STATEMENTS[key]


def _with_first_event(opened: Any) -> Any:
    """PostgreSQL: the call's INSERT and its first event's in one statement (a data-modifying
    `WITH`), the event's id returned beside the call's; no row, so no event, on a conflict.
    SQLite has no data-modifying `WITH`: there the event is a second statement."""
    events = CallEvent.__table__
    call = opened.cte("opened")
    event = (
        events.insert()
        .from_select(
            ["call_id", "type", "at", "data"],
            select(
                call.c.id,
                bindparam("event_type", type_=events.c.type.type),
                bindparam("event_at", type_=events.c.at.type),
                bindparam("event_data", type_=events.c.data.type),
            ),
        )
        .returning(events.c.id)
        .cte("first_event")
    )
    return select(
        call.c.id,
        call.c.previous_call_id,
        call.c.repeat_caller,
        select(event.c.id).scalar_subquery().label("event_id"),
    )


def _persistent_call(session: Session, columns: dict[str, Any]) -> Call:
    """The just-inserted row as a loaded, unchanged `Call` in the session (no SELECT): every
    other column of a new call is NULL; `open_call` gives it its timeline."""
    call = Call(**{c.name: columns.get(c.name) for c in Call.__table__.c})
    make_transient_to_detached(call)
    session.add(call)
    state: InstanceState[Call] = inspect(call)
    owner = state.session
    assert owner is not None
    state.info[_OPENED_BY] = owner.get_transaction()
    return call


def timeline_in_session(call: Call) -> list[CallEvent] | None:
    """The whole timeline of a call opened by its session's current transaction (all of it
    is in memory, no query), or None for any other call."""
    state: InstanceState[Call] = inspect(call)
    owner = state.session
    opened_by = state.info.get(_OPENED_BY)
    if owner is None or opened_by is None or opened_by is not owner.get_transaction():
        return None
    if "events" not in call.__dict__:
        return None
    return list(call.events)


def _insert_for(dialect: str) -> Callable[..., Any]:
    """The dialect's INSERT, which has ON CONFLICT (PostgreSQL, SQLite)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"unsupported database {dialect}")  # pragma: no cover


def caller_history(session: Session, call: Call, *, window: timedelta) -> list[Call]:
    """Earlier calls from the same number within `window`, newest first."""
    if call.caller is None:
        return []
    since = call.arrived_at - window
    return list(
        session.scalars(
            select(Call)
            .where(Call.caller == call.caller, Call.id != call.id, Call.arrived_at >= since)
            .order_by(Call.arrived_at.desc())
        )
    )


def find_resumable(session: Session, call: Call, *, window: timedelta) -> Call | None:
    """An abandoned call from the same number that hung up while waiting within `window`.

    The new call takes back that call's place (enqueue time and deadline).
    """
    if call.caller is None:
        return None
    since = call.arrived_at - window
    return session.scalars(
        select(Call)
        .where(
            Call.caller == call.caller,
            Call.id != call.id,
            Call.status == CallStatus.ABANDONED.value,
            Call.ended_at >= since,
            Call.enqueued_at.is_not(None),
            Call.deadline.is_not(None),
        )
        .order_by(Call.ended_at.desc())
        .limit(1)
    ).first()


def call_json(call: Call, *, timeline: bool = False) -> dict[str, Any]:
    """The call as the staff API shows it."""
    body: dict[str, Any] = {
        "id": call.id,
        "call_sid": call.call_sid,
        "line": call.line,
        "caller": call.caller,
        "caller_display": call.caller_display,
        "caller_flag": call.caller_flag,
        "caller_kind": call.caller_kind,
        "status": call.status,
        "priority": call.priority,
        "track": call.track,
        "queue": call.queue,
        "repeat_caller": call.repeat_caller,
        "previous_call_id": call.previous_call_id,
        "resumes_call_id": call.resumes_call_id,
        "arrived_at": iso(call.arrived_at),
        "enqueued_at": iso(call.enqueued_at),
        "deadline": iso(call.deadline),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
    }
    if timeline:
        body["timeline"] = [e.as_json() for e in sorted(call.events, key=lambda e: (e.at, e.id))]
    return body
