"""Twilio retries and reorders, against the running gunicorn node (eight threads, so
duplicates really race): the same webhook several times at once, a status
callback racing the incoming webhook, statuses out of order. No duplicate call, event or
queue entry."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import requests
from sqlalchemy import Connection, func, select, text

from callflow.models import Call, CallEvent
from runtime.db import db
from tests.helpers import ON_POSTGRESQL, call_params, new_sid, wait_for

from .conftest import Stack, twiml_of

pytestmark = ON_POSTGRESQL

ENDED = {"abandoned", "completed", "failed"}


def at_once(stack: Stack, posts: list[tuple[str, dict[str, str]]]) -> list[requests.Response]:
    """Every (path, params) webhook posted at the same moment."""
    start = Barrier(len(posts))

    def post(index: int) -> requests.Response:
        start.wait()
        return stack.signed_post(*posts[index])

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(post, range(len(posts))))


def timeline(stack: Stack, sid: str) -> tuple[int, str | None, Counter[str]]:
    """(rows with this CallSid, the call's status, its events by type)."""
    with stack.app.app_context():
        rows = db.session.scalar(select(func.count()).where(Call.call_sid == sid))
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).first()
        types = Counter(
            db.session.scalars(select(CallEvent.type).join(Call).where(Call.call_sid == sid)).all()
        )
        status = call.status if call else None
        db.session.remove()
    return int(rows or 0), status, types


def test_duplicated_webhooks_racing_make_one_call_one_entry(stack: Stack) -> None:
    sid = new_sid()
    incoming = ("/twilio/voice/incoming", call_params(sid))
    for answer in at_once(stack, [incoming] * 6):
        assert twiml_of(answer).find("Gather") is not None
    menu = ("/twilio/voice/menu", call_params(sid, Digits="2"))
    for answer in at_once(stack, [menu] * 6):
        assert twiml_of(answer).find("Enqueue").text == "sas-arm"
    rows, status, types = timeline(stack, sid)
    assert (rows, status) == (1, "queued_arm")
    assert set(types.values()) == {1}, types
    (call_id,) = stack.call_ids([sid])
    assert stack.index() == ([call_id], {})
    assert len(stack.waiting_ids()) == 1

    # The caller hangs up; Twilio sends the final status twice at once, then a late ringing.
    ended = ("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="9"))
    for answer in at_once(stack, [ended] * 4):
        assert answer.status_code in (200, 204)
    late = stack.signed_post("/twilio/voice/status", call_params(sid, CallStatus="ringing"))
    assert late.status_code in (200, 204)
    rows, status, after = timeline(stack, sid)
    assert (rows, status) == (1, "abandoned")
    assert set(after.values()) == {1}, after
    assert stack.index() == ([], {})
    # A retried incoming webhook for the ended call hangs up and queues nothing.
    again = twiml_of(stack.signed_post(*incoming))
    assert [verb.tag for verb in again] == ["Hangup"]
    assert timeline(stack, sid)[2] == after


def test_a_status_callback_racing_the_incoming_webhook_never_queues_the_call(
    stack: Stack,
) -> None:
    sids = [new_sid() for _ in range(8)]
    for sid in sids:
        answers = at_once(
            stack,
            [
                ("/twilio/voice/incoming", call_params(sid)),
                ("/twilio/voice/status", call_params(sid, CallStatus="completed")),
            ],
        )
        assert answers[0].status_code == 200
        twiml_of(answers[0])
        assert answers[1].status_code in (200, 204)
        # The menu answer that follows a greeting the caller never heard the end of.
        twiml_of(stack.signed_post("/twilio/voice/menu", call_params(sid, Digits="2")))
        rows, status, types = timeline(stack, sid)
        assert rows == 1 and status in ENDED, (sid, status, types)
        assert set(types.values()) == {1}, types
    assert stack.index() == ([], {})
    assert stack.waiting_ids() == []


def test_a_status_callback_that_loses_the_insert_race_still_ends_the_call(stack: Stack) -> None:
    """Made certain: the incoming webhook's row is inserted but not yet committed when the
    final status arrives, so the status callback finds no call, tries to create it, waits on
    the CallSid's unique index, and loses."""
    from callflow.service import open_call
    from tests.conftest import PUBLIC_NUMBER

    sid = new_sid()
    with stack.app.app_context():
        open_call(
            db.session,
            call_sid=sid,
            caller_raw="+33612345678",
            dialled=PUBLIC_NUMBER,
            line="public",
        )
        db.session.flush()
        with ThreadPoolExecutor(1) as pool:
            status = pool.submit(
                stack.signed_post,
                "/twilio/voice/status",
                call_params(sid, CallStatus="completed"),
            )
            with db.engine.connect() as watch:
                wait_for(lambda: blocked_on_insert(watch), timeout=20)
            db.session.commit()
            assert status.result().status_code in (200, 204)
        db.session.remove()
    rows, ended, types = timeline(stack, sid)
    assert (rows, ended) == (1, "abandoned")
    assert types == Counter({"arrived": 1, "abandoned": 1})
    answer = twiml_of(stack.signed_post("/twilio/voice/incoming", call_params(sid)))
    assert [verb.tag for verb in answer] == ["Hangup"]


def blocked_on_insert(watch: Connection) -> bool:
    waiting = watch.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND query LIKE '%INSERT INTO calls %'"
        )
    ).scalar()
    watch.rollback()
    return bool(waiting)
