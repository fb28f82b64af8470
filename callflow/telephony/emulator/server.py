"""Serving the emulator: in a background thread of the current process (`start_emulator`,
for tests and the traffic simulator) or as a process of its own (`__main__.py`).

The server is werkzeug's threaded WSGI server on 127.0.0.1: one thread per connection, so a
webhook the emulator is waiting on can call the REST API back without a deadlock.
`BackgroundServer` also serves any other WSGI app (tests use it for the customer's webhook
application).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_emulator_app
from .state import EmulatorState

log = logging.getLogger("callflow.telephony.emulator")


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's handler without the access log line for every request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class BackgroundServer:
    """A threaded WSGI server on 127.0.0.1 running in a daemon thread."""

    def __init__(
        self, app: Flask, port: int = 0, host: str = "127.0.0.1", *, quiet: bool = True
    ) -> None:
        handler = QuietRequestHandler if quiet else WSGIRequestHandler
        self.server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        self.host = host
        self.port = self.server.server_port
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), name=f"wsgi-{self.port}", daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> BackgroundServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5.0)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass
class RunningEmulator:
    """An emulator serving on `base_url`; `state` drives it in-process."""

    state: EmulatorState
    server: BackgroundServer

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def account_sid(self) -> str:
        return self.state.account_sid

    @property
    def auth_token(self) -> str:
        return self.state.auth_token

    def instance_info(self) -> dict[str, str]:
        """What `instance/emulator.json` holds."""
        return {
            "api_base_url": self.base_url,
            "account_sid": self.account_sid,
            "auth_token": self.auth_token,
        }

    def write_instance_file(self, path: str | Path) -> Path:
        """Write `{"api_base_url", "account_sid", "auth_token"}` (readable by the owner only)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.instance_info(), indent=2) + "\n")
        os.chmod(temporary, 0o600)
        temporary.replace(target)
        return target

    def stop(self) -> None:
        """Stop serving, end every call, stop the threads."""
        self.server.stop()
        self.state.shutdown()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_emulator(port: int = 0, *, quiet: bool = True, **options: Any) -> RunningEmulator:
    """Serve a new emulator on 127.0.0.1:`port` (0: a free port) in a background thread.

    `options` go to `EmulatorState`: account_sid, auth_token, time_scale, webhook_timeout,
    play_seconds, words_per_second. `quiet=False` logs every request.
    """
    state = EmulatorState(**options)
    server = BackgroundServer(create_emulator_app(state), port, quiet=quiet).start()
    log.info("Twilio emulator serving on %s (account %s)", server.base_url, state.account_sid)
    return RunningEmulator(state, server)
