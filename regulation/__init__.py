"""The people and their work: staff accounts and roles, presence, claiming calls under a
lease, the ARM's qualification and escalation, the regulators' decisions, callbacks, the
audit log; the staff API (`views`) and the consoles (`consoles`).

`init_app(app, config)` wires it into the service (`app.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def init_app(app: Flask, config: Mapping[str, Any] | None = None) -> None:
    from callflow.service import on_agent_freed

    from . import models as _models  # noqa: F401  (tables for migrations)
    from .access import init_access
    from .cli import staff_cli
    from .config import RegulationSettings
    from .consoles import consoles
    from .hooks import after_agent_freed
    from .views import api

    app.extensions["regulation_settings"] = RegulationSettings.load(config)
    init_access(app)
    app.register_blueprint(api)
    app.register_blueprint(consoles)
    app.cli.add_command(staff_cli)
    on_agent_freed(after_agent_freed)
