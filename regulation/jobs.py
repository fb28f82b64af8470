"""RQ jobs of the regulation part. Each is idempotent."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask
from rq import Queue

from runtime.redis_conn import redis_target

log = logging.getLogger(__name__)

RQ_QUEUE = "sas"


def release_due_callbacks_job() -> dict[str, Any]:
    """Put due callbacks back in their queues (RQ cron, and scheduled at each due time)."""
    from queues.access import call_queues
    from queues.jobs import _service
    from runtime.db import db, session

    from .callbacks import release_due_callbacks

    app = _service()
    with app.app_context():
        try:
            released = release_due_callbacks(
                session(), call_queues(), app.extensions["sas_settings"]
            )
        finally:
            db.session.remove()
    return {"released": released}


def rq_queue(app: Flask) -> Queue:
    """The service's RQ queue (its own connection: RQ needs undecoded replies)."""
    connection = app.extensions.get("rq_redis")
    if connection is None:
        connection = redis_target(app).client(decode=False)
        app.extensions["rq_redis"] = connection
    return Queue(RQ_QUEUE, connection=connection)


def schedule_at(app: Flask, due: datetime) -> None:
    rq_queue(app).enqueue_at(due, release_due_callbacks_job)
