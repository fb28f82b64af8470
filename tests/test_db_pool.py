"""The pool pings a connection that sat idle before handing it out, and only then."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from runtime.db import ping_idle_connections
from tests.helpers import ON_POSTGRESQL

pytestmark = ON_POSTGRESQL


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(database_url: str, pid: int) -> None:
    killer = create_engine(database_url)
    with killer.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    killer.dispose()


@pytest.mark.parametrize(
    ("after_s", "replaced"),
    [(0.0, True), (3600.0, False)],
    ids=["idle-connection-pinged", "busy-connection-not-pinged"],
)
def test_a_connection_lost_while_idle_is_replaced_before_use(
    database_url: str, after_s: float, replaced: bool
) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, after_s=after_s)
    try:
        first = _backend_pid(engine)
        _terminate(database_url, first)
        if replaced:
            assert _backend_pid(engine) != first  # the ping found it dead: a new one
        else:
            # Used a moment ago, so not pinged: its statement meets the loss, and the
            # disconnect invalidates the pool so that the next checkout is a new connection.
            with pytest.raises(DBAPIError) as lost:
                _backend_pid(engine)
            assert lost.value.connection_invalidated
            assert _backend_pid(engine) != first
    finally:
        engine.dispose()
