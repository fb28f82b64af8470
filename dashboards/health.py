"""Liveness, readiness and Prometheus metrics.

`/readyz` answers 503 when the database or Redis cannot be reached. `/metrics` reads the
queue counters kept by the queue scripts (no scan of any queue), and the agents of each role
by status (`sas_agents`, one grouped query over the staff), at each scrape; with the
process's own instruments (webhook latency). Under gunicorn with several workers,
`PROMETHEUS_MULTIPROC_DIR` makes those the sum over every worker of the node
(prometheus_client's multiprocess mode; `runtime/gunicorn_conf.py` cleans up after a worker).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import redis
from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboards.room import agents_by_role
from queues.access import call_queues
from runtime.clock import now
from runtime.db import db, session
from runtime.redis_conn import current_redis

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)


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


class LiveFigures(Collector):
    """The queues and the agents as they are now, read at each scrape (inside a request)."""

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "sas_queue_waiting",
            "Calls waiting, by queue and priority",
            labels=["queue", "priority"],
        )
        oldest = GaugeMetricFamily(
            "sas_queue_oldest_wait_seconds", "Longest current wait in the queue", labels=["queue"]
        )
        redis_up = GaugeMetricFamily("sas_redis_up", "1 when Redis answered this scrape")
        agents = GaugeMetricFamily(
            "sas_agents",
            "Active staff of the agent roles, by role and status",
            labels=["role", "status"],
        )
        try:
            snapshot = call_queues().snapshot()
            moment = now()
            for queue, state in snapshot.items():
                for priority, count in state.waiting.items():
                    waiting.add_metric([queue, priority], count)
                since = state.oldest_enqueued_at
                oldest.add_metric([queue], (moment - since).total_seconds() if since else 0)
            redis_up.add_metric([], 1)
        except redis.RedisError as exc:
            log.warning("metrics without queue figures (Redis: %s)", exc)
            redis_up.add_metric([], 0)
        try:
            for role, statuses in agents_by_role(session()).items():
                for status, count in statuses.items():
                    agents.add_metric([role, status], count)
        except SQLAlchemyError as exc:
            db.session.rollback()
            log.warning("metrics without agent figures (database: %s)", type(exc).__name__)
        yield from (waiting, oldest, redis_up, agents)


def _instruments() -> CollectorRegistry:
    """This process's instruments, or every gunicorn worker's in multiprocess mode."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


@health.get("/metrics")
def metrics() -> Response:
    live = CollectorRegistry()
    live.register(LiveFigures())
    body = generate_latest(_instruments()) + generate_latest(live)
    return Response(body, mimetype=CONTENT_TYPE_LATEST)
