"""RQ jobs that watch the queues. Each job is idempotent: running it twice is harmless."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)

_app: Flask | None = None


def _service() -> Flask:
    """The service app of this worker process, built once (the worker imports, not forks)."""
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def sweep_queues() -> dict[str, Any]:
    """Re-index committed waiting calls, drop ended ones, rebuild after an empty restart."""
    from runtime.db import db, session

    from .access import call_queues
    from .reconcile import sweep

    app = _service()
    with app.app_context():
        result = sweep(
            session(), call_queues(), lease_seconds=app.extensions["sas_settings"].lease_seconds
        )
        db.session.remove()
    return {
        "rebuilt": result.rebuilt,
        "indexed": result.indexed,
        "dropped": result.dropped,
        "leased": result.leased,
    }
