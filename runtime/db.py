"""The database: one Flask-SQLAlchemy handle, the declarative base, and column types.

SQLite (the default) gets WAL and a busy timeout so the web process and the RQ worker can
share it; PostgreSQL is used as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import Flask, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops tz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # pysqlite's own transaction handling breaks SAVEPOINTs; SQLAlchemy's documented
    # recipe: let SQLAlchemy emit BEGIN itself (see `_sqlite_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # 10 s, under Twilio's 15 s webhook timeout: a webhook that cannot get the write lock
    # fails into its safe TwiML while Twilio still listens (with 30 s, status callbacks were
    # given up by Twilio's side and calls left unfinished: tests/e2e/test_simulation.py).
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """IMMEDIATE takes the write lock up front: two writers never deadlock on an upgrade
    from a read lock, they queue on the busy timeout instead."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


#: A pooled connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 1.0
_IDLE_SINCE = "sas.idle_since"


def ping_idle_connections(engine: Engine, *, after_s: float = PING_AFTER_IDLE_S) -> None:
    """Check a pooled connection before use only when it sat idle more than `after_s`.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: one more round trip for every
    webhook. A connection that served a request a moment ago is alive or its server just
    went away; then its statement fails as a disconnect, which invalidates the whole pool,
    so only the requests in flight at that moment meet the outage. A connection left idle
    (for seconds or hours: behind a firewall, across a database restart) is pinged, and a
    dead one is replaced before anyone uses it.
    """
    dialect = engine.dialect

    def fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < after_s:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("pooled connection lost while idle") from exc
        if not alive:
            raise DisconnectionError("pooled connection lost while idle")

    event.listen(engine, "connect", fresh)
    event.listen(engine, "checkin", fresh)
    event.listen(engine, "checkout", ping_if_idle)


@contextmanager
def driver_savepoint(session: Session, name: str) -> Iterator[None]:
    """A SAVEPOINT around a block that ends its transaction's work, sent straight through the
    driver's cursor: rolled back to (and the error raised again) when the block raises, left
    open when it ends well, for the COMMIT that follows to commit with the rest.

    For a block that writes through Core statements only, just before the commit (a
    `before_commit` hook): the session is not told, so an ORM object changed inside would
    not be rolled back with it. What it saves over `Session.begin_nested()` is SQLAlchemy's
    nested-transaction bookkeeping (a flush, two statements through the whole execution
    path), about a tenth of a new call's webhook; and not sending `RELEASE SAVEPOINT` saves
    a round trip, since COMMIT ends every savepoint of the transaction with it (PostgreSQL
    and SQLite alike). Its statements do not pass through the engine's events: the
    statement counts of the tests and of `make bench` do not see them (they are on the
    wire all the same; `tests/ivr/test_round_trips.py` counts the wire).
    """
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            raise
    finally:
        cursor.close()


F = TypeVar("F", bound=Callable[..., Any])
#: The view functions marked with `reads_only`.
_READS_ONLY: set[Callable[..., Any]] = set()


def reads_only(view: F) -> F:
    """Mark a view that only reads the database: on PostgreSQL a GET of it runs its
    statements in autocommit, outside a transaction: no `BEGIN` before the first one, no
    `ROLLBACK` at the end: for the snapshot polled every 2 s, two of its four database round
    trips. Its reads then do not share one snapshot, which a view of
    live figures does not need. SQLite is left as it is: there BEGIN and ROLLBACK are calls
    inside the process, not round trips, and its autocommit switch would undo the
    transaction handling of `_sqlite_pragmas`."""
    _READS_ONLY.add(view)
    return view


def init_read_only_views(app: Flask) -> None:
    """Honour `reads_only` before any other hook of the request touches the database (the
    staff token check does): installed right after the database."""

    @app.before_request
    def read_without_transaction() -> None:
        if request.method not in ("GET", "HEAD") or request.endpoint is None:
            return
        if app.view_functions.get(request.endpoint) not in _READS_ONLY:
            return
        read_outside_transaction(db.session())


def read_outside_transaction(session: Session) -> None:
    """On PostgreSQL, a session that has not begun yet sends what follows in autocommit:
    each statement alone, no `BEGIN` before the first, no `COMMIT` or `ROLLBACK` at the end.
    `session.commit()` then ends that mode: the next statement opens a transaction as usual
    (the pool puts the connection back as it was). SQLite keeps its transactions (see
    `reads_only`)."""
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def session() -> Session:
    """The current request's (or app context's) database session."""
    current: Session = db.session()
    return current
