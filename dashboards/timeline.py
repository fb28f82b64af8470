"""The names of the call-timeline events the dashboards read, in one place.

Handling times are computed from a call's `CallEvent`s alone. Every status move written by
`callflow.service.move` carries `data.from` / `data.to` (the call statuses), and queue entries
written by `queues.placement.place_call` carry `data.queue` and `data.priority`: the
arithmetic reads those first, and event names only where a status does not say enough (an
answer is not a status: a claimed call is still on hold until it is *connected*).

Producers (`ivr/`, `regulation/`) write these; nothing here writes an event.
"""

from __future__ import annotations

# -- written by ivr/ (exist today) ----------------------------------------------------------
ARRIVED = "arrived"
ENDED_BEFORE_ARRIVAL = "ended_before_arrival"  # a terminal status for a call never seen
MENU_CHOICE = "menu_choice"
QUEUED = "queued"  # data.queue, data.priority, data.deadline (a move into a queue)
CALLBACK_OFFERED = "callback_offered"
CALLBACK_ACCEPTED = "callback_accepted"  # ARM hold -> callback queue, same place
ABANDONED = "abandoned"  # data.waited_s, data.stage (queue, or "ivr")
CALLER_HUNG_UP = "caller_hung_up"  # a held call ends: completed
OVERFLOWED = "overflowed"
PLACE_REGAINED = "place_regained"

# -- written by regulation/ (the names the dashboards rely on) ------------------------------
#: An agent takes a call under a lease (status -> with_arm / with_regulator). Not an answer.
CLAIMED = "claimed"
#: The caller is connected to the agent: the answer. data.agent_id (or `actor`), data.role.
CONNECTED = "connected"
#: ARM -> regulation queue (status -> queued_regulation); data.track, data.priority, data.queue.
ESCALATED = "escalated"
#: A regulator hands the call to the other track (status -> queued_regulation);
#: data.track / data.queue. Any other event name moving a call between regulation queues is
#: read the same way, from its status move.
TRACK_CHANGED = "track_changed"
#: The regulator's decision. data.outcome (HubSante.typeDecision), data.urgency (R1..R4),
#: data.resource, data.orientation. It may also move the call (completed, callback_pending).
DECISION = "decision"
#: The ARM closes the call without medical regulation (status -> completed); data.code.
CLOSED = "closed"
#: The agent gives the call back to its queue, in its place (status -> queued_*).
RELEASED = "released"
#: Heartbeats stopped: the call goes back to its place (status -> queued_*).
LEASE_EXPIRED = "lease_expired"
#: One outbound callback attempt (`Calls.create`); data.attempt, data.result.
CALLBACK_ATTEMPT = "callback_attempt"
#: A callback scheduled by a decision (data.kind "decision") or a retry (data.kind "retry")
#: is back in a queue; data.queue.
CALLBACK_DUE = "callback_due"
#: The callback was retried later / given up (status -> callback_pending / failed).
CALLBACK_RETRY_SCHEDULED = "callback_retry_scheduled"
CALLBACK_GAVE_UP = "callback_gave_up"
#: The libéral regulator asks the OSNP to book a consultation (SNP, within 48 h).
SNP_REQUESTED = "snp_requested"

#: Events that change no handling time nor any live figure: a commit of only these does not
#: recompute the call's row (the hold loop writes one every 45 s per waiting caller).
INERT = frozenset(
    {
        "position_announced",
        CALLBACK_OFFERED,
        "callback_declined",
        "menu_repeated",
        "repeat_caller",
        "twilio_error",
        "caller_line_ended",
        "connect_requested",
        "hold_failed",
    }
)

#: Events that open a call record (a received call).
OPENING = frozenset({ARRIVED, ENDED_BEFORE_ARRIVAL})
#: Events after which an agent must have been talking with the caller, even when no
#: `connected` event was written for that hold (the answer is then the claim time).
TALK_PROOF = frozenset({ESCALATED, DECISION, CLOSED})

#: `HubSante.typeDecision` codes, in report order.
DECISION_TYPES = ("CONSEIL", "PMT", "INTER", "ORIENT", "PASPLUS")
#: A decision that orients the patient to a consultation (`ORIENT` to `CABINET`) counts as an
#: SNP orientation, as does an explicit `snp_requested` event.
SNP_ORIENTATIONS = frozenset({"CABINET"})
