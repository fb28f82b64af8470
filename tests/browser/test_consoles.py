"""The consoles in a real headless Chromium (Debian's, driven by Playwright) against the
service on a real port and the Twilio emulator: an ARM logs in, goes available, takes a call
placed by a simulated caller, qualifies and escalates it; a libéral regulator logs in, sees
it in the queue, takes it and decides. At 1366×768, the main actions by keyboard."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from callflow.models import Call
from regulation.auth import create_staff
from runtime.db import db
from tests.conftest import LiveStack
from tests.helpers import wait_for

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "motdepasse-solide"


@pytest.fixture()
def app_config() -> dict[str, Any]:
    return {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "64"}


def account(stack: LiveStack, username: str, role: str) -> None:
    with stack.app.app_context():
        create_staff(
            db.session,
            stack.app.extensions["regulation_settings"],
            username=username,
            role=role,
            password=PASSWORD,
        )
        db.session.commit()
        db.session.remove()


def the_call(stack: LiveStack, sid: str) -> Call | None:
    with stack.app.app_context():
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).first()
        if call is not None:
            db.session.expunge(call)
        db.session.remove()
        return call


def log_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Identifiant", exact=True).fill(username)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe", exact=True).press("Enter")  # the keyboard submits the form


def test_arm_then_regulator_in_the_browser(live_stack, page):
    base = live_stack.base_url
    account(live_stack, "arm.dupont", "arm")
    account(live_stack, "dr.martin", "regulator_liberal")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    caller = live_stack.dial(caller="+33612345678")
    wait_for(lambda: live_stack.call(caller)["gathering"] is not None)
    live_stack.emulator.state.send_input(caller, digits="2")
    wait_for(lambda: (the_call(live_stack, caller) or Call()).twilio_queue_sid)

    log_in(page, base, "arm.dupont")
    page.wait_for_url(re.compile(r"/console/arm$"))
    page.locator("#softphone", has_text="Softphone (émulateur)").wait_for(timeout=10_000)
    page.get_by_role("button", name="Disponible").click()
    page.locator("#presence", has_text="Disponible").wait_for(timeout=5_000)
    take = page.get_by_role("button", name="Prendre l'appel suivant")
    take.focus()
    page.keyboard.press("Enter")
    page.locator("#call-number", has_text="06 12 34 56 78").wait_for(timeout=10_000)
    page.locator("#clock", has_text="cible").wait_for(timeout=5_000)
    wait_for(lambda: (the_call(live_stack, caller) or Call()).answered_at is not None)
    # The emulator softphone shows the connected caller.
    page.locator("#softphone", has_text="en ligne avec +33612345678").wait_for(timeout=10_000)

    page.get_by_label("Adresse", exact=True).fill("3 place Bellecour, Lyon")
    page.get_by_label("Code postal").fill("69002")
    page.get_by_label("Âge", exact=True).fill("34")
    page.get_by_label("Sexe", exact=True).select_option("F")
    page.get_by_label("Motif de recours").fill("fièvre depuis trois jours")
    page.locator("#q-priority").select_option("P2")
    page.get_by_role("button", name="Enregistrer la qualification").click()
    page.locator("#message", has_text="Qualification enregistrée").wait_for(timeout=5_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-arm.png"))
    page.get_by_label("Régulation", exact=True).select_option("liberal")
    page.get_by_role("button", name="Transférer au régulateur").click()
    page.locator("#message", has_text="transféré").wait_for(timeout=5_000)
    page.locator("#presence", has_text="Fin d'appel").wait_for(timeout=5_000)
    call = the_call(live_stack, caller)
    assert (call.status, call.queue) == ("queued_regulation", "liberal")
    page.get_by_role("button", name="Se déconnecter").click()
    page.wait_for_url(re.compile(r"/login"))

    log_in(page, base, "dr.martin")
    page.wait_for_url(re.compile(r"/console/regulation$"))
    row = page.locator("#queue-rows tr", has_text="fièvre depuis trois jours")
    row.wait_for(timeout=10_000)
    assert "69002" in row.inner_text()
    page.get_by_role("button", name="Prendre l'appel suivant").click()
    page.locator("#call-number", has_text="06 12 34 56 78").wait_for(timeout=10_000)
    page.locator("#dossier", has_text="fièvre depuis trois jours").wait_for(timeout=5_000)
    page.get_by_label("Décision", exact=True).select_option("CONSEIL")
    page.get_by_label("Niveau de soins").select_option("R4")
    page.get_by_label("Notes", exact=True).fill("paracétamol, reconsulter si aggravation")
    page.screenshot(path=str(ARTIFACTS / "console-regulation.png"))
    page.get_by_role("button", name="Valider la décision").click()
    page.locator("#message", has_text="Décision enregistrée").wait_for(timeout=5_000)
    wait_for(lambda: the_call(live_stack, caller).status == "completed")
    wait_for(lambda: live_stack.call(caller)["status"] == "completed")
    assert not errors, errors


def test_admin_creates_an_account_in_the_browser(live_stack, page):
    account(live_stack, "admin.sas", "admin")
    log_in(page, live_stack.base_url, "admin.sas")
    page.wait_for_url(re.compile(r"/admin/staff$"))
    page.get_by_label("Identifiant", exact=True).fill("osnp.leroy")
    page.get_by_label("Rôle").select_option("osnp")
    page.get_by_label("Mot de passe (8 caractères au moins)").fill(PASSWORD)
    page.get_by_role("button", name="Créer").click()
    page.get_by_text("Compte osnp.leroy créé.").wait_for(timeout=5_000)
    assert page.locator("td", has_text="osnp.leroy").count() == 1
