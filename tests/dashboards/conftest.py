"""Fixtures of the dashboards' tests: staff with bearer tokens, and a way to answer a call
as the regulation part does (claim under a lease, then `connected`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from runtime.db import db


@pytest.fixture()
def staff_headers(app: Flask) -> Callable[..., dict[str, str]]:
    """`staff_headers(role, username=None)` -> Authorization headers of a new account."""
    from regulation.auth import create_staff, issue_token
    from regulation.config import RegulationSettings

    # Cheap hashes: these accounts only need to exist.
    settings = RegulationSettings(argon2_time_cost=1, argon2_memory_kib=64)
    made: dict[str, int] = {}

    def make(role: str, username: str | None = None, **presence: Any) -> dict[str, str]:
        name = username or f"{role}-{len(made) + 1}"
        with app.app_context():
            staff = create_staff(
                db.session, settings, username=name, role=role, password="motdepasse-test"
            )
            for field, value in presence.items():
                setattr(staff, field, value)
            token = issue_token(db.session, settings, staff)
            db.session.commit()
            made[name] = staff.id
            db.session.remove()
        return {"Authorization": f"Bearer {token}"}

    make.ids = made  # type: ignore[attr-defined]
    return make


@pytest.fixture()
def supervisor(staff_headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return staff_headers("supervisor", "superviseur")
