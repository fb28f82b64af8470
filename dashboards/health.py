"""Liveness, readiness and Prometheus metrics.

`/readyz` answers 503 when the database or Redis cannot be reached. `/metrics` reads the
queue counters kept by the queue scripts (no scan of any queue), and the agents of each role
by status (`sas_agents`, one grouped query over the staff).
"""

from __future__ import annotations

import logging

import redis
from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboards.room import agents_by_role
from queues.access import call_queues
from runtime.clock import now
from runtime.db import db, session
from runtime.redis_conn import current_redis

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)

QUEUE_WAITING = Gauge(
    "sas_queue_waiting", "Calls waiting, by queue and priority", ["queue", "priority"]
)
QUEUE_OLDEST = Gauge(
    "sas_queue_oldest_wait_seconds", "Longest current wait in the queue", ["queue"]
)
REDIS_UP = Gauge("sas_redis_up", "1 when Redis answered the last scrape")
AGENTS = Gauge(
    "sas_agents", "Active staff of the agent roles, by role and status", ["role", "status"]
)


@health.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@health.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        db.session.rollback()
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        current_redis().ping()
        checks["redis"] = "ok"
    except redis.RedisError as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), (200 if ready else 503)


@health.get("/metrics")
def metrics() -> Response:
    try:
        snapshot = call_queues().snapshot()
        moment = now()
        for queue, state in snapshot.items():
            for priority, count in state.waiting.items():
                QUEUE_WAITING.labels(queue, priority).set(count)
            oldest = state.oldest_enqueued_at
            QUEUE_OLDEST.labels(queue).set(
                (moment - oldest).total_seconds() if oldest is not None else 0
            )
        REDIS_UP.set(1)
    except redis.RedisError as exc:
        log.warning("metrics without queue figures (Redis: %s)", exc)
        REDIS_UP.set(0)
    try:
        for role, statuses in agents_by_role(session()).items():
            for status, count in statuses.items():
                AGENTS.labels(role, status).set(count)
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("metrics without agent figures (database: %s)", type(exc).__name__)
    return Response(generate_latest(REGISTRY), mimetype=CONTENT_TYPE_LATEST)
