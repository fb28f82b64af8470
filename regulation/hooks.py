"""Follow-ups when a call leaves its agent without the agent acting
(`callflow.service.agent_freed`): the caller hung up, or the agent's lease ran out."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from callflow.models import Call

from .models import Staff
from .presence import system_presence
from .telephony import put_on_hold

log = logging.getLogger(__name__)


def after_agent_freed(session: Session, call: Call, agent_id: int, reason: str) -> None:
    staff = session.get(Staff, agent_id)
    if staff is None:
        return
    if reason == "caller_hung_up":
        # The conversation is over: the agent finishes the dossier, then sets available.
        if staff.presence == "busy" and staff.presence_call_id in (call.id, None):
            system_presence(session, agent_id, "wrap_up", call_id=call.id)
            session.commit()
        return
    if reason == "lease_expired":
        if staff.presence_call_id == call.id or staff.presence == "busy":
            system_presence(session, agent_id, "paused", reason="bail expiré", call_id=call.id)
            session.commit()
        put_on_hold(session, call, why="back")
