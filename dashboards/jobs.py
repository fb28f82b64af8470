"""RQ job of the dashboards, for the periodic scheduler (`queues/scheduler.py`): repair the
handling rows an after-commit refresh missed (a crash between a producer's commit and the
refresh, a database error). Idempotent.

Registered beside the queue sweep: `cron.register(refresh_handling_times, queue_name="sas",
interval=30)`.
"""

from __future__ import annotations

from typing import Any


def refresh_handling_times() -> dict[str, Any]:
    from queues.jobs import _service
    from runtime.db import db, session

    from .refresh import live_stats, refresh_stale

    app = _service()
    with app.app_context():
        repaired = refresh_stale(session(), live_stats(app))
        db.session.remove()
    return {"repaired": repaired}
