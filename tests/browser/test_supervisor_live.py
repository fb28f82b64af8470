"""The supervisor's live page in headless Chromium: it reflects a call entering and leaving
the ARM queue within 2 s, through the stream, with the alert band in words."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from callflow.telephony.emulator.server import BackgroundServer
from regulation.auth import create_staff
from regulation.config import RegulationSettings
from runtime.db import db
from tests.helpers import new_sid
from tests.ivr.test_incoming import dial, press
from tests.ivr.test_waiting import hang_up

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "superviseur-mot-de-passe"


@pytest.fixture()
def served(app):
    with app.app_context():
        create_staff(
            db.session,
            RegulationSettings(argon2_time_cost=1, argon2_memory_kib=64),
            username="sup",
            role="supervisor",
            password=PASSWORD,
            display_name="Superviseure de salle",
        )
        db.session.commit()
        db.session.remove()
    with BackgroundServer(app) as server:
        yield server


def tile_count(page, queue: str) -> str:
    return page.locator(f"#file-{queue} [data-field='total']").inner_text()


def test_the_live_page_follows_a_call_in_and_out_of_the_queue(served, twilio, page):
    page.goto(f"{served.base_url}/supervision")
    page.get_by_label("Identifiant").fill("sup")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/supervision")
    page.locator("#liaison", has_text="En direct").wait_for(timeout=5_000)
    page.locator("#file-arm [data-field='total']", has_text="0").wait_for(timeout=5_000)
    assert "Aucun dépassement" in page.locator("#alertes").inner_text()

    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="1")  # a P0: on the tile, and an alert at once
    entered = time.monotonic()
    page.locator("#file-arm [data-field='total']", has_text="1").wait_for(timeout=2_000)
    assert time.monotonic() - entered < 2.0
    assert page.locator("#file-arm td[data-priority='P0']").inner_text() == "1"
    band = page.locator("#alertes")
    assert band.get_attribute("data-level") == "vital"
    assert "P0 (urgence vitale) en attente" in band.inner_text()  # words, not only colour
    assert "hors délai" in page.locator("#file-arm [data-field='state']").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "supervision-live.png"), full_page=True)

    hang_up(twilio, sid)
    left = time.monotonic()
    page.locator("#file-arm [data-field='total']", has_text="0").wait_for(timeout=2_000)
    assert time.monotonic() - left < 2.0
    page.locator("#alertes", has_text="Aucun dépassement").wait_for(timeout=2_000)
    assert page.locator("#file-arm [data-field='oldest']").inner_text() == "aucune"
    assert tile_count(page, "amu") == "0"

    # The surge switch (the regulation part's `POST /api/surge`), shown back by the stream.
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Déclarer un afflux massif").click()
    page.locator("#afflux-etat", has_text="Afflux massif déclaré").wait_for(timeout=3_000)
    page.get_by_role("button", name="Lever l'afflux massif").click()
    page.locator("#afflux-etat", has_text="Pas d'afflux massif").wait_for(timeout=3_000)


def test_the_report_and_policy_pages_render_their_figures(served, twilio, page):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    page.goto(f"{served.base_url}/supervision/rapports")
    page.get_by_label("Identifiant").fill("sup")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/supervision/rapports")
    page.locator("#rapport-etat", has_text="1 appels").wait_for(timeout=5_000)
    assert "Appels reçus" in page.locator("#synthese").inner_text()
    page.locator("#ars tbody tr").first.wait_for(timeout=5_000)
    assert page.locator("#graphe-jours svg").count() == 1
    page.screenshot(path=str(ARTIFACTS / "supervision-rapports.png"), full_page=True)
    page.goto(f"{served.base_url}/supervision/objectifs")
    page.locator("#objectifs-champs fieldset").first.wait_for(timeout=5_000)
    text = page.locator("#objectifs-champs").inner_text()
    assert "SAMU-Urgences de France" in text and "QRAARM" in text
    assert "Seul un administrateur" in page.locator("#objectifs").inner_text()
