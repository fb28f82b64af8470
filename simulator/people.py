"""The simulated people: callers on emulated phones, agents on the staff API.

Callers only use the emulator's phone control API (dial, press, speak, hang up); agents only
use the service's staff API, as a console would. Nothing reaches into the service's insides.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from .profile import Profile

log = logging.getLogger(__name__)


#: A caller already answered by an ARM waits this many times their patience for a regulator.
REGULATION_PATIENCE = 4


@dataclass
class CallRecord:
    """What the simulator saw of one call."""

    index: int
    caller: str
    menu_choice: str
    patience_s: float
    call_sid: str | None = None
    call_id: int | None = None
    dialled_at: float | None = None
    arm_answered_at: float | None = None
    arm_agent: str | None = None
    track: str | None = None
    escalated_at: float | None = None
    regulator_answered_at: float | None = None
    regulator_agent: str | None = None
    outcome: str | None = None
    hung_up_at: float | None = None
    error: str | None = None
    final_status: str | None = None
    answered: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)


class Phones:
    """The emulator's control API: simulated phones dialling in."""

    def __init__(self, emulator_url: str) -> None:
        self.base = emulator_url.rstrip("/") + "/emulator"
        self.http = requests.Session()
        self.lock = threading.Lock()

    def _post(self, path: str, body: dict[str, Any] | None = None, timeout: float = 20) -> Any:
        answer = requests.post(self.base + path, json=body or {}, timeout=timeout)
        answer.raise_for_status()
        return answer.json()

    def dial(self, caller: str, to: str) -> str:
        return str(self._post("/calls", {"from": caller, "to": to})["call_sid"])

    def press(self, sid: str, digits: str, wait: float) -> bool:
        return bool(self._post(f"/calls/{sid}/input", {"digits": digits, "wait": wait})["accepted"])

    def hang_up(self, sid: str) -> None:
        answer = requests.post(f"{self.base}/calls/{sid}/hangup", json={}, timeout=20)
        if answer.status_code not in (200, 404):
            answer.raise_for_status()

    def register_softphone(self, identity: str) -> None:
        self._post(f"/clients/{identity}", {"mode": "auto"})


def caller_life(
    record: CallRecord,
    phones: Phones,
    *,
    to: str,
    speed: float,
    menu_wait_s: float,
    clock: Any,
    on_sid: Any,
) -> None:
    """Dial, answer the menu (a wrong key is followed by silence), then wait for an agent
    with a patience, or hang up."""
    try:
        record.call_sid = phones.dial(record.caller, to)
        record.dialled_at = clock()
        on_sid(record.call_sid)
        if record.menu_choice:
            phones.press(record.call_sid, record.menu_choice, wait=menu_wait_s)
        if not record.answered.wait(timeout=record.patience_s / speed):
            record.hung_up_at = clock()
            record.outcome = "abandoned_by_caller"
            phones.hang_up(record.call_sid)
            return
        # With an agent, then maybe waiting for a regulator: the caller stays on the line
        # until the agents are done with them, or gives up waiting for the regulator.
        if not record.finished.wait(timeout=record.patience_s * REGULATION_PATIENCE / speed):
            record.outcome = record.outcome or "abandoned_waiting_regulator"
        if record.hung_up_at is None:
            record.hung_up_at = clock()
            phones.hang_up(record.call_sid)
    except requests.RequestException as exc:
        record.error = f"caller: {type(exc).__name__}: {exc}"
        log.warning("simulated caller %s failed: %s", record.index, exc)


class StaffApi:
    """One agent's session on the staff API."""

    def __init__(self, service_url: str, username: str, password: str) -> None:
        self.base = service_url.rstrip("/")
        self.http = requests.Session()
        answer = self.http.post(
            f"{self.base}/api/auth/token",
            json={"username": username, "password": password},
            timeout=20,
        )
        answer.raise_for_status()
        body = answer.json()
        self.role = str(body["role"])
        self.http.headers["Authorization"] = f"Bearer {body['token']}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.request(method, self.base + path, json=body, timeout=30)


@dataclass
class AgentPlan:
    username: str
    password: str
    role: str


class Agent(threading.Thread):
    """An ARM or a regulator taking calls until told to stop."""

    def __init__(
        self,
        plan: AgentPlan,
        *,
        service_url: str,
        phones: Phones,
        records: dict[str, CallRecord],
        profile: Profile,
        rng: random.Random,
        speed: float,
        lease_seconds: float,
        stop: threading.Event,
        clock: Any,
    ) -> None:
        super().__init__(name=f"agent-{plan.username}", daemon=True)
        self.plan = plan
        self.service_url = service_url
        self.phones = phones
        self.records = records
        self.profile = profile
        self.rng = rng
        self.speed = speed
        self.lease_seconds = lease_seconds
        self.stop_event = stop
        self.clock = clock
        self.errors: list[str] = []
        self.handled = 0
        #: Set once the agent is logged in and available (or has failed trying).
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            self.api = StaffApi(self.service_url, self.plan.username, self.plan.password)
            me = self.api.call("GET", "/api/agents/me").json()
            self.phones.register_softphone(str(me["client_identity"]))
            self._presence("available")
            self.ready.set()
            holding_since: float | None = None
            while not self.stop_event.is_set():
                answer = self.api.call("POST", "/api/agents/me/next")
                if answer.status_code == 204:
                    self.stop_event.wait(self.profile.idle_poll_s)
                    continue
                if answer.status_code == 409 and _reason(answer) == "holding":
                    # The caller hung up as the agent took the call: the service frees the
                    # agent when Twilio's status callback arrives. Only a long hold is wrong.
                    holding_since = holding_since or time.monotonic()
                    if time.monotonic() - holding_since > self.lease_seconds:
                        self.errors.append(f"next: still holding after a hang-up: {answer.text}")
                        holding_since = None
                    self.stop_event.wait(0.2)
                    continue
                holding_since = None
                if answer.status_code == 409 and _reason(answer) == "accompanying":
                    # A P0 this ARM escalated: they stay with the caller until a regulator
                    # takes it (accompanied transfer), then take calls again.
                    self.stop_event.wait(0.2)
                    continue
                if answer.status_code != 200:
                    self.errors.append(f"next: {answer.status_code} {answer.text[:200]}")
                    self.stop_event.wait(0.5)
                    continue
                self._handle(answer.json()["call"])
                self.handled += 1
        except requests.RequestException as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.ready.set()
            try:
                self._presence("offline")
            except Exception:  # the run is ending; the agent's last word is best effort
                log.debug("agent %s could not go offline", self.plan.username)

    def _presence(self, status: str) -> None:
        self.api.call("PUT", "/api/agents/me/presence", {"status": status})

    def _talk(self, call_id: int, seconds: float, record: CallRecord) -> bool:
        """Spend `seconds` with the caller, heartbeating; False if the call went away."""
        end = time.monotonic() + seconds / self.speed
        beat = max(0.2, self.lease_seconds / 3)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            if record.hung_up_at is not None:
                return False
            time.sleep(min(beat, left))
            answer = self.api.call("POST", f"/api/calls/{call_id}/heartbeat")
            if answer.status_code >= 400:
                return False

    def _handle(self, call: dict[str, Any]) -> None:
        record = self.records.get(str(call.get("call_sid")))
        if record is None:
            self.errors.append(f"got a call the simulator did not place: {call.get('call_sid')}")
            return
        record.call_id = int(call["id"])
        now = self.clock()
        if self.plan.role == "arm":
            record.arm_answered_at = now
            record.arm_agent = self.plan.username
            record.answered.set()
            self._arm_work(record)
        else:
            record.regulator_answered_at = now
            record.regulator_agent = self.plan.username
            self._regulator_work(record)
        self.stop_event.wait(self.profile.wrap_up.draw(self.rng) / self.speed)
        self._presence("available")

    def _arm_work(self, record: CallRecord) -> None:
        assert record.call_id is not None
        if not self._talk(record.call_id, self.profile.arm_talk.draw(self.rng), record):
            return
        priority = {"1": "P0", "2": "P2"}.get(record.menu_choice, "P1")
        qualification = {
            "priority": priority,
            "reason": "douleur thoracique" if priority == "P0" else "fièvre",
            "location": {"address": "12 rue de la République, Lyon", "postcode": "69002"},
            "patient": {"age": self.rng.randint(1, 95), "sex": self.rng.choice("MF")},
        }
        answer = self.api.call("POST", f"/api/calls/{record.call_id}/qualification", qualification)
        if answer.status_code != 200:
            self._refused("qualification", answer, record)
            return
        if self.rng.random() < self.profile.escalation_share or priority == "P0":
            track = (
                "amu"
                if priority == "P0" or self.rng.random() < self.profile.amu_share
                else ("liberal")
            )
            answer = self.api.call(
                "POST",
                f"/api/calls/{record.call_id}/escalate",
                {"track": track, "priority": priority},
            )
            if answer.status_code == 200:
                record.track = track
                record.escalated_at = self.clock()
            else:
                self._refused("escalate", answer, record)
            return
        answer = self.api.call(
            "POST",
            f"/api/calls/{record.call_id}/close",
            {"code": "DR.DREG.DRARM", "notes": "conseil administratif"},
        )
        if answer.status_code == 200:
            record.outcome = "closed_by_arm"
            record.finished.set()
        else:
            self._refused("close", answer, record)

    def _refused(self, step: str, answer: requests.Response, record: CallRecord) -> None:
        """A refusal is an error, unless the caller hung up meanwhile (409: not held now)."""
        if answer.status_code == 409 and record.hung_up_at is not None:
            return
        self.errors.append(f"{step}: {answer.status_code} {answer.text[:200]}")

    def _regulator_work(self, record: CallRecord) -> None:
        assert record.call_id is not None
        if not self._talk(record.call_id, self.profile.regulator_talk.draw(self.rng), record):
            return
        outcome = self.profile.decision(self.rng)
        body: dict[str, Any] = {"outcome": outcome, "urgency": "R3", "notes": "simulation"}
        if outcome == "INTER":
            body.update(urgency="R2", resource="LIBERAL.SOS")
        elif outcome == "ORIENT":
            body.update(orientation="CABINET")
        answer = self.api.call("POST", f"/api/calls/{record.call_id}/decision", body)
        if answer.status_code == 200:
            record.outcome = f"decision:{outcome}"
            record.finished.set()
        else:
            self._refused("decision", answer, record)


def _reason(answer: requests.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("reason") if isinstance(body, dict) else None
