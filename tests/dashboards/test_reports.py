"""The handling-time report: the two service-level formulas on a known set, the contract's
shape, ranges in Europe/Paris, CSV, percentiles as PostgreSQL's `percentile_cont`, the ARS
indicators and `flask reports rebuild`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from dashboards.handling import STAGES
from dashboards.models import HandlingTime
from dashboards.reports import RangeError, parse_range, percentile_cont
from runtime.clock import frozen
from runtime.db import db
from tests.dashboards.helpers import T0, call_id_of, decide, escalate, take
from tests.dashboards.test_live import place
from tests.ivr.test_waiting import hang_up

REPORT = "/api/reports/handling-times"


def known_set(app, twilio):
    """Three answers (10 s, 50 s, 90 s), abandons after 30 s and 100 s, one after 5 s."""
    with frozen(T0) as clock:
        sids = [place(twilio, digits="2", caller=f"+3362000000{i}") for i in range(6)]
        ids = [call_id_of(app, s) for s in sids]
        clock.advance(5)
        hang_up(twilio, sids[5], caller="+336200000005")  # short abandon
        clock.advance(5)
        take(app, ids[0], agent_id=1)  # 10 s
        clock.advance(20)
        hang_up(twilio, sids[3], caller="+336200000003")  # abandon after 30 s
        clock.advance(20)
        take(app, ids[1], agent_id=2)  # 50 s
        escalate(app, ids[1], track="liberal", priority="P2")
        clock.advance(40)
        take(app, ids[2], agent_id=3)  # 90 s
        clock.advance(10)
        hang_up(twilio, sids[4], caller="+336200000004")  # abandon after 100 s
        take(app, ids[1], agent_id=4)
        clock.advance(60)
        decide(app, ids[1], outcome="ORIENT", orientation="CABINET")
        escalate(app, ids[0], track="amu", priority="P1")
    return ids


def test_the_two_service_level_formulas_on_a_known_set(app, twilio, client, supervisor):
    known_set(app, twilio)
    with frozen(T0 + timedelta(minutes=10)):
        report = client.get(REPORT, headers=supervisor).get_json()
        live = client.get("/api/queues", headers=supervisor).get_json()
    summary = report["summary"]
    assert (summary["received"], summary["answered"], summary["answered_within_60s"]) == (6, 3, 2)
    assert (summary["abandoned"], summary["short_abandoned"]) == (2, 1)
    # Asterisk SL: answered within ÷ answered; SL2: (answered within + abandoned within) ÷
    # (answered + abandoned), the short abandon outside both.
    assert summary["service_level"] == {"answered": 2 / 3, "with_abandoned": 3 / 5}
    assert live["service_level"]["15m"] == {"answered": 2 / 3, "with_abandoned": 3 / 5}
    assert live["abandonment_rate"]["15m"] == pytest.approx(2 / 5)
    assert summary["escalated"] == {"amu": 1, "liberal": 1}
    assert summary["decisions"]["ORIENT"] == 1 and summary["snp_oriented"] == 1
    assert summary["median_s"]["arm_wait_s"] == 50.0
    assert summary["p90_s"]["arm_wait_s"] == 82.0  # 50 + (90 - 50) * 0.8
    assert summary["median_s"]["abandoned_after_s"] == 30.0  # 5, 30, 100
    assert set(summary["median_s"]) == set(STAGES) == set(summary["p90_s"])


def test_the_report_has_the_contract_shape(app, twilio, client, supervisor):
    ids = known_set(app, twilio)
    with frozen(T0 + timedelta(minutes=10)):
        report = client.get(REPORT, headers=supervisor).get_json()
    assert {
        "from",
        "to",
        "calls",
        "summary",
        "by_day",
        "by_hour",
        "by_priority",
        "by_track",
        "by_agent",
    } <= set(report)
    assert report["to"] == "2026-11-23T09:10:00Z"
    with frozen(T0 + timedelta(minutes=10)):
        figures = client.get(REPORT + "?calls=0", headers=supervisor).get_json()
    assert "calls" not in figures and figures["summary"] == report["summary"]
    assert report["from"] == "2026-11-22T09:10:00Z"
    assert [c["id"] for c in report["calls"]] == ids
    first = report["calls"][0]
    assert {"id", "call_sid", "priority", "track", "status", "stages", "met"} <= set(first)
    assert set(first["stages"]) == set(STAGES)
    assert first["met"] == {"arm_wait_s": True}
    assert first["stages"]["arm_wait_s"] == 10.0 and first["stages"]["regulator_wait_s"] is None
    third = report["calls"][2]
    assert third["met"] == {"arm_wait_s": False} and third["stages"]["arm_talk_s"] is None
    decided = report["calls"][1]
    assert decided["met"] == {"arm_wait_s": True, "regulator_wait_s": True}
    assert decided["stages"]["regulator_wait_s"] == 50.0
    assert decided["stages"]["time_to_decision_s"] == 160.0
    assert report["by_day"][0]["day"] == "2026-11-23" and report["by_day"][0]["received"] == 6
    assert [g["hour"] for g in report["by_hour"]] == [10]  # 09:00 UTC is 10 h in Paris
    assert [(g["priority"], g["received"]) for g in report["by_priority"]] == [
        ("P1", 1),
        ("P2", 5),
    ]
    assert [(g["track"], g["received"]) for g in report["by_track"]] == [
        ("amu", 1),
        ("liberal", 1),
        (None, 4),
    ]
    agents = {a["agent"]: a for a in report["by_agent"]}
    assert agents["2"]["arm_calls"] == 1 and agents["2"]["escalated"] == 1
    assert agents["4"]["regulator_calls"] == 1 and agents["4"]["decisions"]["ORIENT"] == 1
    assert agents["4"]["median_s"]["regulator_talk_s"] == 60.0


def test_calls_in_progress_appear_with_null_stages(app, twilio, client, supervisor):
    with frozen(T0) as clock:
        sid = place(twilio, digits="2", caller="+33620000100")
        clock.advance(1)
        report = client.get(REPORT, headers=supervisor).get_json()
    (call,) = report["calls"]
    assert call["id"] == call_id_of(app, sid) and call["status"] == "queued_arm"
    assert call["stages"]["total_s"] is None and call["met"] == {}
    assert report["summary"]["service_level"] == {"answered": None, "with_abandoned": None}


def test_csv_gives_one_row_per_call(app, twilio, client, supervisor):
    ids = known_set(app, twilio)
    with frozen(T0 + timedelta(minutes=10)):
        answer = client.get(REPORT, headers={**supervisor, "Accept": "text/csv"})
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["id", "call_sid", "priority", "track", "status", *STAGES]
    assert [int(r[0]) for r in rows[1:]] == ids
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["arm_wait_s"], first["regulator_wait_s"], first["track"]) == ("10.0", "", "amu")


def test_date_bounds_are_days_in_paris_from_inclusive_to_exclusive(app, twilio, client, supervisor):
    # 23:30 UTC on the 23rd is already the 24th in Paris (UTC+1 in November).
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    with frozen(late):
        place(twilio, digits="2", caller="+33620000200")
    with frozen(late + timedelta(minutes=20)):
        on_23 = client.get(REPORT + "?from=2026-11-23&to=2026-11-24", headers=supervisor)
        on_24 = client.get(REPORT + "?from=2026-11-24&to=2026-11-25", headers=supervisor)
        with_offset = client.get(
            REPORT + "?from=2026-11-24T00:30:00%2B01:00&to=2026-11-24T00:30:01%2B01:00",
            headers=supervisor,
        )
        unencoded_plus = client.get(
            REPORT + "?from=2026-11-24T00:30:00+01:00&to=2026-11-24T01:00:00+01:00",
            headers=supervisor,
        )
    assert on_23.status_code == 200, on_23.get_json()
    assert on_23.get_json()["summary"]["received"] == 0
    assert on_24.get_json()["summary"]["received"] == 1
    assert on_24.get_json()["from"] == "2026-11-24T00:00:00+01:00"
    assert with_offset.get_json()["summary"]["received"] == 1  # from is inclusive
    assert unencoded_plus.get_json()["summary"]["received"] == 1
    assert on_24.get_json()["by_day"][0]["day"] == "2026-11-24"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=hier", "from"),
        ("from=2026-11-23T10:00:00", "from"),  # no offset
        ("to=2026-13-01", "to"),
        ("from=2026-11-24&to=2026-11-23", "to"),
    ],
)
def test_bad_bounds_get_400_naming_the_field(client, supervisor, query, field):
    answer = client.get(f"{REPORT}?{query}", headers=supervisor)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field and answer.get_json()["error"]


def test_parse_range_defaults_to_the_last_24_hours():
    assert parse_range(None, None, now=T0) == (T0 - timedelta(hours=24), T0)
    with pytest.raises(RangeError):
        parse_range("2026-11-23", "2026-11-23", now=T0)


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.9, 7.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 0.5, 30.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 0.9, 46.0),
    ],
)
def test_percentiles_interpolate_like_percentile_cont(values, fraction, expected):
    assert percentile_cont(values, fraction) == expected


def test_percentiles_match_the_database_on_postgresql(app):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("percentile_cont is PostgreSQL's")
        values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
        sql = (
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v), "
            "percentile_cont(0.9) WITHIN GROUP (ORDER BY v) FROM unnest(CAST(:v AS float8[])) v"
        )
        median, p90 = db.session.execute(db.text(sql), {"v": values}).one()
        db.session.remove()
    assert percentile_cont(sorted(values), 0.5) == pytest.approx(median)
    assert percentile_cont(sorted(values), 0.9) == pytest.approx(p90)


def test_monthly_ars_indicators(app, twilio, client, supervisor):
    known_set(app, twilio)
    with frozen(T0 + timedelta(days=1)):
        ars = client.get("/api/reports/ars?month=2026-11", headers=supervisor).get_json()
        october = client.get("/api/reports/ars?month=2026-10", headers=supervisor).get_json()
        bad = client.get("/api/reports/ars?month=novembre", headers=supervisor)
    assert ars["month"] == "2026-11"
    assert ars["from"] == "2026-11-01T00:00:00+01:00" and ars["to"] == "2026-12-01T00:00:00+01:00"
    assert (ars["calls_received"], ars["answered"], ars["answered_within_60s"]) == (6, 3, 2)
    assert ars["abandoned"] == 2
    assert ars["escalated"] == {"amu": 1, "liberal": 1}
    assert ars["decisions"]["ORIENT"] == 1 and ars["snp_share"] == 1.0
    assert ars["median_s"]["arm_wait_s"] == 50.0 and ars["p90_s"]["arm_wait_s"] == 82.0
    assert october["calls_received"] == 0
    assert bad.status_code == 400 and bad.get_json()["field"] == "month"


def test_reports_rebuild_recomputes_every_row_from_the_timelines(app, twilio, client, supervisor):
    known_set(app, twilio)
    with frozen(T0 + timedelta(minutes=10)):
        before = client.get(REPORT, headers=supervisor).get_json()
        with app.app_context():
            db.session.execute(delete(HandlingTime))
            db.session.commit()
            db.session.remove()
        assert client.get(REPORT, headers=supervisor).get_json()["calls"] == []
        result = app.test_cli_runner().invoke(args=["reports", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "recomputed the handling times of 6 calls" in result.output
        after = client.get(REPORT, headers=supervisor).get_json()
    assert after == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HandlingTime)) == 6
        db.session.remove()
