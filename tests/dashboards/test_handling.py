"""Handling-time arithmetic on hand-built timelines: every stage, bounces between tracks,
leases that expired (the wait goes on), callbacks, abandons, and compliance per policy."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from dashboards.handling import STAGES, compute_handling
from dashboards.policy import PolicyHistory, Targets
from tests.dashboards.helpers import T0, FakeCall, Timeline

DEFAULTS = PolicyHistory([Targets()])


def arrive_and_queue(line: Timeline, *, at: float = 8, priority: str = "P2") -> Timeline:
    return (
        line.add(0, "arrived", line="public")
        .add(at - 1, "menu_choice", priority=priority)
        .move(at, "queued", "ivr", "queued_arm", queue="arm", priority=priority)
    )


def handled(timeline: Timeline, policies: PolicyHistory = DEFAULTS, **call):
    return compute_handling(FakeCall(**call), timeline.steps, policies)


def test_the_two_level_path_gives_every_stage():
    line = arrive_and_queue(Timeline())
    line.move(40, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.add(42, "connected", agent_id=7)  # answered 34 s after entering the queue
    line.move(130, "escalated", "with_arm", "queued_regulation", track="amu", priority="P1")
    line.move(200, "claimed", "queued_regulation", "with_regulator", agent_id=9)
    line.add(201, "connected", agent_id=9)
    line.move(400, "decision", "with_regulator", "completed", outcome="INTER", urgency="R2")
    result = handled(line, status="completed", priority="P1", track="amu")
    assert result.stages == {
        "ivr_s": 8.0,
        "arm_wait_s": 34.0,
        "arm_talk_s": 88.0,
        "regulator_wait_s": 71.0,  # escalation -> connected to a regulator
        "regulator_talk_s": 199.0,
        "time_to_decision_s": 400.0,
        "total_s": 400.0,
        "abandoned_after_s": None,
    }
    assert result.met == {"arm_wait_s": True, "regulator_wait_s": True}  # 60 s; P1 120 s
    assert (result.arm_target_s, result.regulator_target_s) == (60, 120)
    assert result.answered_at == T0 + timedelta(seconds=42)
    assert (result.answer_wait_s, result.answer_met) == (34.0, True)
    assert (result.escalated_track, result.decision, result.urgency) == ("amu", "INTER", "R2")
    assert (result.arm_agent, result.regulator_agent) == ("7", "9")
    assert result.abandon_kind is None


def test_a_claim_is_not_an_answer():
    line = arrive_and_queue(Timeline())
    line.move(20, "claimed", "queued_arm", "with_arm", agent_id=7)
    result = handled(line, status="with_arm")
    assert result.stages["arm_wait_s"] is None  # still on hold: not finished
    assert result.answered_at is None and result.met == {}
    line.add(75, "connected", agent_id=7)
    assert handled(line, status="with_arm").stages["arm_wait_s"] == 67.0
    assert handled(line, status="with_arm").met == {"arm_wait_s": False}
    assert handled(line, status="with_arm").stages["arm_talk_s"] is None  # still talking


def test_a_lease_that_expires_before_the_answer_does_not_restart_the_wait():
    line = arrive_and_queue(Timeline())
    line.move(20, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.move(50, "lease_expired", "with_arm", "queued_arm", queue="arm", priority="P2")
    line.move(70, "claimed", "queued_arm", "with_arm", agent_id=8)
    line.add(72, "connected", agent_id=8)
    line.move(100, "closed", "with_arm", "completed", code="DR.DREG.DRINFO")
    result = handled(line, status="completed")
    assert result.stages["arm_wait_s"] == 64.0  # 8 s -> 72 s, one wait
    assert result.met == {"arm_wait_s": False}
    assert result.stages["arm_talk_s"] == 28.0
    assert result.arm_agent == "8"


def test_a_lease_that_expires_after_the_answer_adds_the_new_hold_to_the_same_wait():
    line = arrive_and_queue(Timeline())
    line.move(20, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.add(21, "connected", agent_id=7)  # answered after 13 s
    line.move(61, "lease_expired", "with_arm", "queued_arm", queue="arm", priority="P2")
    line.move(91, "claimed", "queued_arm", "with_arm", agent_id=8)
    line.add(92, "connected", agent_id=8)
    line.move(150, "closed", "with_arm", "completed")
    result = handled(line, status="completed")
    # hold 8->21 (13 s) + 61->92 (31 s); talk 21->61 (40 s) + 92->150 (58 s)
    assert result.stages["arm_wait_s"] == 44.0
    assert result.stages["arm_talk_s"] == 98.0
    assert result.answered_at == T0 + timedelta(seconds=21)  # the answer is the first one
    assert result.met == {"arm_wait_s": True}


def test_a_call_bouncing_between_tracks_keeps_one_regulation_wait():
    line = arrive_and_queue(Timeline())
    line.move(30, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.add(30, "connected", agent_id=7)
    line.move(90, "escalated", "with_arm", "queued_regulation", track="liberal", priority="P2")
    line.move(300, "claimed", "queued_regulation", "with_regulator", agent_id=11)
    line.add(302, "connected", agent_id=11)
    # the libéral regulator hands it to the AMU track, then the AMU regulator hands it back
    line.move(360, "track_changed", "with_regulator", "queued_regulation", queue="amu", track="amu")
    line.move(400, "claimed", "queued_regulation", "with_regulator", agent_id=12)
    line.add(401, "connected", agent_id=12)
    line.move(431, "track_changed", "with_regulator", "queued_regulation", queue="liberal")
    line.move(500, "claimed", "queued_regulation", "with_regulator", agent_id=11)
    line.add(500, "connected", agent_id=11)
    line.move(
        600, "decision", "with_regulator", "completed", outcome="ORIENT", orientation="CABINET"
    )
    result = handled(line, status="completed", priority="P2", track="liberal")
    # waits 90->302 (212) + 360->401 (41) + 431->500 (69); talks 58 + 30 + 100
    assert result.stages["regulator_wait_s"] == 322.0
    assert result.stages["regulator_talk_s"] == 188.0
    assert result.track_changes == 2
    assert result.escalated_track == "liberal"  # the ARM's escalation
    assert result.regulation_priority == "P2" and result.regulator_target_s == 1200
    assert result.met["regulator_wait_s"] is True
    assert result.snp is True  # oriented to a consultation
    assert result.regulator_agent == "11"


def test_a_p0_is_met_in_regulation_when_taken_within_60_seconds():
    def regulated(taken_after: float):
        line = arrive_and_queue(Timeline(), priority="P0")
        line.move(10, "claimed", "queued_arm", "with_arm", agent_id=7)
        line.add(10, "connected", agent_id=7)
        line.move(40, "escalated", "with_arm", "queued_regulation", track="amu", priority="P0")
        line.move(40 + taken_after, "claimed", "queued_regulation", "with_regulator")
        line.add(40 + taken_after, "connected", agent_id=9)
        return handled(line, status="with_regulator", priority="P0")

    assert regulated(60).met["regulator_wait_s"] is True
    assert regulated(60.5).met["regulator_wait_s"] is False
    assert regulated(5).regulator_target_s == 60


@pytest.mark.parametrize(
    ("hang_up_at", "kind", "within"), [(20, "short", True), (23, "long", True), (80, "long", False)]
)
def test_abandons_are_short_under_15_seconds_in_the_queue(hang_up_at, kind, within):
    line = arrive_and_queue(Timeline())
    line.add(12, "position_announced", position=1)
    line.move(hang_up_at, "abandoned", "queued_arm", "abandoned", stage="arm")
    result = handled(line, status="abandoned")
    assert result.stages["abandoned_after_s"] == hang_up_at - 8
    assert result.stages["total_s"] == hang_up_at
    assert result.stages["arm_wait_s"] is None and result.met == {}
    assert (result.abandon_kind, result.abandon_met) == (kind, within)
    assert result.abandoned_at == T0 + timedelta(seconds=hang_up_at)


def test_a_hang_up_in_the_ivr_is_a_short_abandon_with_no_queue_stage():
    line = Timeline().add(0, "arrived").move(30, "abandoned", "ivr", "abandoned", stage="ivr")
    result = handled(line, status="abandoned")
    assert result.abandon_kind == "short"
    assert result.stages["ivr_s"] is None and result.stages["abandoned_after_s"] is None
    assert result.stages["total_s"] == 30.0


def test_a_status_for_a_call_never_seen_ends_it_at_once():
    line = Timeline().add(0, "ended_before_arrival", call_status="completed")
    result = handled(line, status="abandoned")
    assert result.stages["total_s"] == 0.0
    assert result.abandon_kind == "short"


def test_a_regulation_hang_up_counts_the_regulation_wait():
    line = arrive_and_queue(Timeline())
    line.move(20, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.add(20, "connected", agent_id=7)
    line.move(60, "escalated", "with_arm", "queued_regulation", track="amu", priority="P1")
    line.move(200, "abandoned", "queued_regulation", "abandoned", stage="amu")
    result = handled(line, status="abandoned", priority="P1", track="amu")
    assert result.stages["abandoned_after_s"] == 140.0
    assert (result.abandon_kind, result.abandon_met) == ("long", False)  # P1: 120 s
    assert result.stages["arm_talk_s"] == 40.0
    assert result.stages["regulator_wait_s"] is None
    assert result.answered_at is not None  # it had been answered by the ARM


def test_a_callback_measures_its_delays_apart_from_the_hold():
    line = arrive_and_queue(Timeline())
    line.add(190, "callback_offered")
    line.move(195, "callback_accepted", "queued_arm", "callback_pending", queue="callback")
    line.move(600, "claimed", "callback_pending", "with_arm", agent_id=7, queue="callback")
    line.add(605, "callback_attempt", attempt=1, result="no-answer")
    line.move(640, "released", "with_arm", "callback_pending", queue="callback")
    line.move(900, "claimed", "callback_pending", "with_arm", agent_id=8, queue="callback")
    line.add(910, "callback_attempt", attempt=2)
    line.add(925, "connected", agent_id=8)
    line.move(1000, "escalated", "with_arm", "queued_regulation", track="liberal", priority="P3")
    result = handled(line, status="queued_regulation", priority="P3", track="liberal")
    assert result.callback_requested_at == T0 + timedelta(seconds=195)
    assert result.callback_attempts == 2
    assert result.callback_first_attempt_s == 410.0
    assert result.callback_connected_s == 730.0
    assert result.stages["arm_wait_s"] == 187.0  # on hold before accepting the callback
    assert result.met == {"arm_wait_s": False}
    assert result.stages["arm_talk_s"] == 75.0
    assert result.answered_at == T0 + timedelta(seconds=925)
    assert result.stages["regulator_wait_s"] is None  # waiting now


def test_a_deferred_decision_schedules_a_callback_after_the_decision():
    line = arrive_and_queue(Timeline())
    line.move(20, "claimed", "queued_arm", "with_arm").add(20, "connected", agent_id=7)
    line.move(50, "escalated", "with_arm", "queued_regulation", track="liberal", priority="P2")
    line.move(80, "claimed", "queued_regulation", "with_regulator")
    line.add(80, "connected", agent_id=9)
    line.move(
        200, "decision", "with_regulator", "callback_pending", outcome="CONSEIL", queue="callback"
    )
    line.move(3800, "claimed", "callback_pending", "with_regulator", agent_id=9)
    line.add(3810, "callback_attempt", attempt=1)
    line.add(3830, "connected", agent_id=9)
    line.move(3900, "decision", "with_regulator", "completed", outcome="PMT")
    result = handled(line, status="completed")
    assert result.stages["time_to_decision_s"] == 200.0  # the first decision
    assert result.stages["regulator_talk_s"] == 190.0  # 120 + 70 (the callback's talk)
    assert result.decision == "PMT"  # the decision that stands
    assert result.callback_first_attempt_s == 3610.0
    assert result.callback_connected_s == 3630.0


def test_an_escalation_without_a_connected_event_takes_the_claim_as_the_answer():
    line = arrive_and_queue(Timeline())
    line.move(30, "claimed", "queued_arm", "with_arm", agent_id=7)
    line.move(90, "escalated", "with_arm", "queued_regulation", track="amu", priority="P2")
    result = handled(line, status="queued_regulation")
    assert (result.stages["arm_wait_s"], result.stages["arm_talk_s"]) == (22.0, 60.0)


def test_the_pro_line_goes_straight_to_a_regulator():
    line = Timeline().add(0, "arrived", line="pro").add(4, "menu_choice", track="amu")
    line.move(5, "queued", "ivr", "queued_regulation", queue="amu", priority="P1")
    line.move(50, "claimed", "queued_regulation", "with_regulator")
    line.add(51, "connected", agent_id=9)
    result = handled(line, status="with_regulator", line="pro")
    assert result.stages["ivr_s"] == 5.0
    assert result.stages["arm_wait_s"] is None
    assert result.stages["regulator_wait_s"] == 46.0
    assert (result.answer_wait_s, result.answer_met) == (46.0, True)
    assert result.escalated_track is None


def test_compliance_uses_the_policy_in_force_when_the_call_entered_the_queue():
    strict = replace(
        Targets(), arm_answer_s=30, version=1, effective_from=T0 + timedelta(seconds=60)
    )
    history = PolicyHistory([Targets(), strict])
    early = arrive_and_queue(Timeline())  # entered at 8 s: the defaults (60 s)
    early.move(50, "claimed", "queued_arm", "with_arm").add(50, "connected", agent_id=1)
    assert handled(early, history).met == {"arm_wait_s": True}
    late = Timeline().add(0, "arrived").add(100, "menu_choice", priority="P2")
    late.move(101, "queued", "ivr", "queued_arm", queue="arm", priority="P2")
    late.move(143, "claimed", "queued_arm", "with_arm").add(143, "connected", agent_id=1)
    result = handled(late, history)
    assert (result.arm_target_s, result.met) == (30, {"arm_wait_s": False})


def test_an_unfinished_call_has_null_stages():
    result = handled(arrive_and_queue(Timeline()), status="queued_arm")
    assert result.stages == dict.fromkeys(STAGES) | {"ivr_s": 8.0}
    assert result.arm_entered_at == T0 + timedelta(seconds=8)
    assert result.last_event_id == 3


def test_overflow_ends_the_call():
    line = Timeline().add(0, "arrived").add(1, "overflowed", to="+33100000000")
    result = handled(line, status="overflowed")
    assert result.stages["total_s"] == 1.0 and result.abandon_kind is None
