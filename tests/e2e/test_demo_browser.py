"""The offline demo in a real browser: a patient dials the SAS number and hears the IVR."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from callflow.models import Call
from runtime.db import db

pytestmark = pytest.mark.browser


@pytest.fixture()
def app_config() -> dict[str, str]:
    # The emulator runs at 20x: give a person's keyboard 6 real seconds to answer the menu.
    return {"IVR_MENU_TIMEOUT_S": "120"}


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_patient_phone_dials_presses_2_and_waits(live_stack, page):
    page.goto(f"{live_stack.base_url}/")
    page.get_by_role("link", name="Téléphone patient (démonstration)").click()
    page.get_by_role("button", name="Appeler").click()
    page.get_by_text("Le serveur vocal attend votre choix.").wait_for(timeout=10_000)
    assert "accès aux soins" in page.locator("#transcript").inner_text()
    page.locator(".key[data-key='2']").click()
    page.locator("#status", has_text="En attente (sas-arm)").wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "demo-phone.png"))
    with live_stack.app.app_context():
        call = db.session.scalars(select(Call)).one()
        assert (call.status, call.priority) == ("queued_arm", "P2")
        db.session.remove()
    page.get_by_role("button", name="Raccrocher").click()
    page.get_by_text("Vous avez raccroché.").wait_for(timeout=10_000)


def test_patient_phone_speaks_an_emergency(live_stack, page):
    page.goto(f"{live_stack.base_url}/demo/phone")
    page.get_by_role("button", name="Appeler").click()
    page.get_by_text("Le serveur vocal attend votre choix.").wait_for(timeout=10_000)
    page.get_by_label("Dire").fill("mon père ne respire plus")
    page.keyboard.press("Enter")
    page.locator("#status", has_text="En attente").wait_for(timeout=10_000)
    with live_stack.app.app_context():
        assert db.session.scalars(select(Call)).one().priority == "P0"
        db.session.remove()
