"""One node of the service as real processes (gunicorn, an RQ worker, the RQ cron), its own
Redis and the shared PostgreSQL, the Twilio emulator as Twilio: the faults' test bed. Each
part can be killed and started again; the Redis can be restarted empty."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest

from runtime.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_NUMBER, _config, _dispose, _empty_tables
from tests.regulation.conftest import CHEAP_HASHES
from tests.scale.conftest import BIN, ROOT, Cluster, _wait_healthy

from .proxy import TcpProxy


@dataclass
class Stack:
    cluster: Cluster
    redis: EmbeddedRedis
    env: dict[str, str]
    port: int
    web: subprocess.Popen[bytes] | None = None
    database_proxy: TcpProxy | None = None
    scheduler: subprocess.Popen[bytes] | None = None
    others: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [BIN / "gunicorn", "-c", "python:runtime.gunicorn_conf", "app:create_app()"],
            cwd=ROOT,
            env=dict(self.env, PORT=str(self.port), WEB_WORKERS="1", WEB_THREADS="8"),
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killed master and workers alike
        )
        _wait_healthy(self.url, self.web)

    def kill_web(self) -> None:
        """SIGKILL to gunicorn's master and workers at once: no graceful anything."""
        assert self.web is not None
        os.killpg(self.web.pid, signal.SIGKILL)
        self.web.wait()

    def start_worker(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "queues.worker", "sas"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
        )
        self.others.append(process)
        return process

    def place_calls(self, count: int) -> list[str]:
        """Callers who say nothing at the menu: each waits for an ARM (P1)."""
        from tests.helpers import wait_for

        sids = [
            str(self.cluster.emulator.state.place_call(f"+336124{n:05d}", PUBLIC_NUMBER))
            for n in range(count)
        ]
        wait_for(lambda: len(self.waiting_ids()) == count, timeout=60)
        return sids

    def waiting_ids(self) -> list[int]:
        """The ARM queue in service order, as the staff API shows it."""
        if 0 not in self.cluster.supervisors:
            self.cluster.supervisors[0] = self.cluster.agent("supervisor", 0)
        answer = self.cluster.supervisors[0].call("GET", "/api/queues/arm/calls")
        answer.raise_for_status()
        return [row["call_id"] for row in answer.json()["calls"]]

    @property
    def app(self) -> Any:
        return self.cluster.app

    def index(self) -> tuple[list[int], dict[int, str]]:
        """What Redis says: the ARM queue's waiting calls in service order, and every held
        call with the agent holding its lease."""
        from queues.access import call_queues

        with self.app.app_context():
            store = call_queues()
            waiting = [entry.call_id for entry in store.ordered("arm")]
            held = {e.call_id: e.agent_id for e in store.dump() if e.agent_id is not None}
        return waiting, held

    def call_ids(self, sids: list[str]) -> list[int]:
        from sqlalchemy import select

        from callflow.models import Call
        from runtime.db import db

        with self.app.app_context():
            ids = {sid: id_ for sid, id_ in db.session.execute(select(Call.call_sid, Call.id))}
            db.session.remove()
        return [ids[sid] for sid in sids]

    def signed_post(self, path: str, params: dict[str, str]) -> Any:
        import requests
        from twilio.request_validator import RequestValidator

        url = self.url + path
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
        return requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )


def _marked_config(request: pytest.FixtureRequest) -> dict[str, str]:
    marker = request.node.get_closest_marker("stack_config")
    return dict(marker.kwargs) if marker else {}


@pytest.fixture()
def stack(request: pytest.FixtureRequest, database_url: str) -> Iterator[Stack]:
    from app import create_app
    from callflow.telephony.emulator.server import start_emulator

    redis = EmbeddedRedis(port=free_port()).start()
    emulator = start_emulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, time_scale=0.05)
    config = _config(
        database_url,
        redis.url,
        TWILIO_API_BASE_URL=emulator.base_url,
        TWILIO_EMULATOR="1",
        LEASE_SECONDS="3",
        **CHEAP_HASHES,
        **_marked_config(request),
    )
    app = create_app(config)
    _empty_tables(app)
    port = free_port()
    env = {
        **os.environ,
        **{k: str(v) for k, v in config.items()},
        "FLASK_APP": "app",
        # what Twilio is told to fetch, by the web node and the worker alike
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    database_proxy = None
    if request.node.get_closest_marker("database_proxy"):
        # The processes reach PostgreSQL through a proxy the test can cut.
        target = urlparse(database_url)
        database_proxy = TcpProxy((target.hostname or "127.0.0.1", target.port or 5432))
        env["DATABASE_URL"] = target._replace(
            netloc=target.netloc.replace(f":{target.port or 5432}", f":{database_proxy.port}")
        ).geturl()
    stack = Stack(Cluster(app, emulator, [f"http://127.0.0.1:{port}"]), redis, env, port)
    stack.database_proxy = database_proxy
    try:
        stack.start_web()
        stack.start_worker()
        stack.scheduler = subprocess.Popen(
            [sys.executable, "-m", "queues.scheduler"],
            cwd=ROOT,
            env=stack.env,
            start_new_session=True,
        )
        stack.others.append(stack.scheduler)
        base = f"{stack.url}/twilio/voice"
        emulator.state.configure_number(
            PUBLIC_NUMBER,
            f"{base}/incoming",
            status_callback=f"{base}/status",
            fallback_url=f"{base}/fallback",
        )
        yield stack
    finally:
        for process in [stack.web, *stack.others]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [stack.web, *stack.others]:
            if process is None:
                continue
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        emulator.stop()
        _dispose(app)
        redis.stop()
        if database_proxy is not None:
            database_proxy.stop()


def twiml_of(response: Any) -> ET.Element:
    """The TwiML of a webhook's answer from the running node; fails unless it is valid."""
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return root
