"""Two web nodes and two RQ workers on this machine sharing one Redis and one PostgreSQL, as
docs/deployment.md lays them out on several hosts: real gunicorn, rq worker and periodic
scheduler processes, configured only through the environment, with the Twilio emulator as Twilio."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    PRO_NUMBER,
    PUBLIC_NUMBER,
    _config,
    _dispose,
    _empty_tables,
)
from tests.helpers import wait_for
from tests.regulation.conftest import CHEAP_HASHES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
_names = itertools.count(1)


@dataclass
class Agent:
    """A member of staff with a bearer token and an auto-answering softphone."""

    id: int
    token: str
    node: str

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return requests.request(method, self.node + path, headers=headers, timeout=20, **kwargs)


@dataclass
class Cluster:
    app: Flask
    emulator: Any
    nodes: list[str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    supervisors: dict[int, Agent] = field(default_factory=dict)

    def agent(self, role: str, node: int) -> Agent:
        from regulation.auth import create_staff, issue_token
        from regulation.presence import client_identity
        from runtime.db import db

        with self.app.app_context():
            settings = self.app.extensions["regulation_settings"]
            person = create_staff(
                db.session,
                settings,
                username=f"{role}-{next(_names)}",
                role=role,
                password="x" * 12,
            )
            token = issue_token(db.session, settings, person)
            db.session.commit()
            made = Agent(person.id, token, self.nodes[node])
            db.session.remove()
        requests.post(
            f"{self.emulator.base_url}/emulator/clients/{client_identity(made.id)}",
            json={"mode": "auto"},
            timeout=5,
        ).raise_for_status()
        return made

    def waiting(self, node: int, queue: str = "arm") -> int:
        """Calls waiting in `queue`, as the staff API of that node shows them."""
        if node not in self.supervisors:
            self.supervisors[node] = self.agent("supervisor", node)
        answer = self.supervisors[node].call("GET", "/api/queues")
        answer.raise_for_status()
        return int(sum(answer.json()["queues"][queue]["waiting"].values()))


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            return requests.get(url + "/healthz", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, timeout=30)


@pytest.fixture()
def cluster(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[Cluster]:
    from app import create_app
    from callflow.telephony.emulator.server import start_emulator
    from runtime.embedded_redis import free_port

    emulator = start_emulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, time_scale=0.05)
    config = _config(
        database_url,
        redis_url,
        TWILIO_API_BASE_URL=emulator.base_url,
        TWILIO_EMULATOR="1",
        LEASE_SECONDS="3",
        **CHEAP_HASHES,
    )
    app = create_app(config)
    _empty_tables(app)
    app.extensions["redis"].flushdb()
    ports = [free_port(), free_port()]
    env = {
        **os.environ,
        **{k: str(v) for k, v in config.items()},
        "FLASK_APP": "app",
        # Twilio calls the load balancer; here the first node stands in for it.
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports[0]}",
    }
    cluster = Cluster(app, emulator, [f"http://127.0.0.1:{port}" for port in ports])
    try:
        for index, port in enumerate(ports):
            node_env = dict(
                env,
                PORT=str(port),
                WEB_WORKERS="2",
                WEB_THREADS="8",
                PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"metrics-{index}"),
            )
            cluster.processes.append(
                subprocess.Popen(
                    [BIN / "gunicorn", "-c", "python:runtime.gunicorn_conf", "app:create_app()"],
                    cwd=ROOT,
                    env=node_env,
                    stderr=subprocess.DEVNULL,
                )
            )
        for _ in range(2):
            cluster.processes.append(
                subprocess.Popen([sys.executable, "-m", "queues.worker", "sas"], cwd=ROOT, env=env)
            )
        cluster.processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "queues.scheduler"],
                cwd=ROOT,
                env=env,
            )
        )
        for url, process in zip(cluster.nodes, cluster.processes[:2], strict=True):
            _wait_healthy(url, process)
        base = f"{cluster.nodes[0]}/twilio/voice"
        for number in (PUBLIC_NUMBER, PRO_NUMBER):
            emulator.state.configure_number(
                number,
                f"{base}/incoming",
                status_callback=f"{base}/status",
                fallback_url=f"{base}/fallback",
            )
        yield cluster
    finally:
        for process in cluster.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in cluster.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        emulator.stop()
        app.extensions["redis"].flushdb()
        _dispose(app)
