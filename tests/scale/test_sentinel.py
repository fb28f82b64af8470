"""Redis behind Sentinel (`REDIS_SENTINELS`): the service finds the master through the
sentinels, follows a failover to the promoted replica without a restart, and so do the RQ
workers (`rq worker -c runtime.rq_settings`). Real redis-server processes in both roles."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.sentinel import MasterNotFoundError, Sentinel
from rq.job import Job

from queues.access import call_queues
from runtime.embedded_redis import EmbeddedRedis, free_port, redis_server_binary
from runtime.redis_conn import RedisTarget
from tests.conftest import TwilioWebhooks, _config, _dispose, _empty_tables
from tests.helpers import new_sid, wait_for
from tests.ivr.test_incoming import dial, press, the_call

ROOT = Path(__file__).resolve().parents[2]
MASTER = "sas"


class Sentinels:
    """A master, its replica and one sentinel watching them (quorum 1)."""

    def __init__(self, folder: Path) -> None:
        self.master = EmbeddedRedis().start()
        self.replica = EmbeddedRedis(
            extra_args=("--replicaof", "127.0.0.1", str(self.master.port))
        ).start()
        self.port = free_port()
        config = folder / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {MASTER} 1000\n"
            f"sentinel failover-timeout {MASTER} 5000\n"
        )
        self.process = subprocess.Popen(
            [redis_server_binary(), str(config), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(port=self.port, decode_responses=True, socket_timeout=2)
        wait_for(lambda: self._replicas_known(), timeout=30)

    def _replicas_known(self) -> bool:
        try:
            return len(self.client.sentinel_slaves(MASTER)) == 1
        except redis.RedisError:
            return False

    def master_port(self) -> int | None:
        """The master's port as a client sees it: only once the sentinel vouches for it."""
        try:
            return int(Sentinel([("127.0.0.1", self.port)]).discover_master(MASTER)[1])
        except redis.RedisError:
            return None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.client.close()
        self.replica.stop()
        self.master.stop()


def _bare_sentinel(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """A sentinel that watches no master yet."""
    port = free_port()
    config = folder / "bare-sentinel.conf"
    config.write_text(f"port {port}\nbind 127.0.0.1\ndir {folder}\n")
    process = subprocess.Popen(
        [redis_server_binary(), str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    probe = redis.Redis(port=port)
    wait_for(lambda: _answers(probe), timeout=30)
    probe.close()
    return process, port


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def test_a_connection_asks_the_sentinel_again_while_no_master_is_vouched_for(
    tmp_path: Path,
) -> None:
    server = EmbeddedRedis().start()
    process, port = _bare_sentinel(tmp_path)
    try:
        target = RedisTarget(sentinels=(("127.0.0.1", port),), master=MASTER)
        started = time.monotonic()
        with pytest.raises(MasterNotFoundError):
            target.client().ping()
        assert time.monotonic() - started < 5  # a bounded wait, not a hang

        # The master becomes known 0.3 s after the command is sent: the command succeeds.
        def monitor() -> None:
            time.sleep(0.3)
            sentinel = redis.Redis(port=port)
            sentinel.execute_command("SENTINEL", "MONITOR", MASTER, "127.0.0.1", server.port, 1)
            sentinel.close()

        announcer = threading.Thread(target=monitor)
        announcer.start()
        client = target.client()
        assert client.set("sas:probe", "1") is True
        announcer.join()
        assert redis.Redis(port=server.port).get("sas:probe") == b"1"
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        server.stop()


@pytest.fixture()
def sentinels(tmp_path: Path) -> Iterator[Sentinels]:
    group = Sentinels(tmp_path)
    try:
        yield group
    finally:
        group.stop()


def test_the_service_and_its_workers_follow_a_sentinel_failover(
    sentinels: Sentinels, database_url: str
) -> None:
    from app import create_app
    from queues.jobs import sweep_queues
    from regulation.jobs import rq_queue

    config: dict[str, Any] = _config(
        database_url,
        "",
        REDIS_SENTINELS=f"127.0.0.1:{sentinels.port}",
        REDIS_SENTINEL_MASTER=MASTER,
    )
    app = create_app(config)
    _empty_tables(app)
    twilio = TwilioWebhooks(app.test_client())
    try:
        first = new_sid()
        dial(twilio, first)
        press(twilio, first, digits="2")
        master = redis.Redis(port=sentinels.master.port)
        assert master.dbsize() > 0
        assert master.execute_command("WAIT", 1, 5000) == 1  # the replica has it all
        master.close()

        # The master dies; the sentinel promotes the replica; nothing is restarted.
        sentinels.master.stop()
        wait_for(lambda: sentinels.master_port() == sentinels.replica.port, timeout=30)
        promoted = redis.Redis(port=sentinels.replica.port, decode_responses=True)
        wait_for(lambda: promoted.role()[0] == "master", timeout=30)

        second = new_sid()
        dial(twilio, second, caller="+33612345699")
        press(twilio, second, digits="2", caller="+33612345699")
        with app.app_context():
            ordered = [entry.call_id for entry in call_queues().ordered("arm")]
        assert ordered == [the_call(app, first).id, the_call(app, second).id]
        assert promoted.exists(*promoted.keys("*arm*")) > 0

        # A worker started with only the sentinels' address runs the service's job.
        job = rq_queue(app).enqueue(sweep_queues)
        env = {**os.environ, **{k: str(v) for k, v in config.items()}, "FLASK_APP": "app"}
        subprocess.run(
            [
                Path(sys.executable).parent / "rq",
                "worker",
                "--burst",
                "-c",
                "runtime.rq_settings",
                "--worker-class",
                "rq.worker.SimpleWorker",
                "sas",
            ],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=120,
        )
        assert Job.fetch(job.id, connection=rq_queue(app).connection).get_status() == "finished"
        promoted.close()
    finally:
        _dispose(app)
