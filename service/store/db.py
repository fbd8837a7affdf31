"""Database engine from a SQLAlchemy URL; SQLite (WAL, busy timeout) by default under the data directory."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def open_database(url: str) -> Engine:
    parsed = make_url(url)
    database = parsed.database if parsed.get_backend_name() == "sqlite" and parsed.database != ":memory:" else None
    sqlite_file = bool(database)
    if database:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A connection to a server can go stale (restarts, idle timeouts): test it on checkout. A SQLite file cannot,
    # and the test would cost a query on every hook call.
    engine = create_engine(url, pool_pre_ping=not sqlite_file)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if database:
        _WRITER_LOCKS[engine] = WriterLock(Path(database).with_name(Path(database).name + ".writers"))
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision. A database made by `create_all` before migrations existed
    is adopted (stamped) rather than re-created. On PostgreSQL an advisory lock keeps replicas that start together
    from migrating at the same time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(7300001)"))  # released at commit
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and {"feedback", "token_ids"} <= tables:
            command.stamp(config, "0001")  # made by create_all: the first revision's tables are there
        command.upgrade(config, "head")


@contextmanager
def driver_cursor(engine: Engine) -> Iterator:
    """A driver (DBAPI) cursor inside one transaction, for the fixed inserts every hook call makes: SQLAlchemy's Core
    layer costs more than such an insert itself. Driver errors surface as SQLAlchemy's DBAPIError, as they would
    through Core, so callers handle one family of errors."""
    driver_error = engine.dialect.loaded_dbapi.Error
    try:
        connection = engine.raw_connection()  # unlike Core, the pool lets a failed connect's driver error through
    except driver_error as error:
        raise DBAPIError.instance(None, None, error, driver_error, dialect=engine.dialect) from error
    lock = _WRITER_LOCKS.get(engine, NO_LOCK)
    try:
        with lock:
            cursor = connection.cursor()
            yield cursor
            connection.commit()
    except driver_error as error:
        raise DBAPIError.instance(None, None, error, driver_error, dialect=engine.dialect) from error
    finally:
        connection.close()  # back to the pool, which rolls back whatever was not committed


class WriterLock:
    """Takes turns among the processes and threads writing one SQLite file, for the per-call inserts.

    Without it, a writer that finds the file locked sleeps in SQLite's busy handler for 1 ms or more, however short
    the other transaction; a kernel file lock wakes the next writer as soon as the lock is free. Each process opens
    its own descriptor (a descriptor inherited across fork would share the lock instead of excluding)."""

    def __init__(self, path: Path):
        self._path = path
        self._threads = threading.Lock()
        self._descriptor: tuple[int, int] | None = None  # (pid, fd)

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_EX)
        except OSError:
            self._threads.release()
            raise

    def __exit__(self, *_exc) -> None:
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __del__(self) -> None:
        if self._descriptor and self._descriptor[0] == os.getpid():
            os.close(self._descriptor[1])

    def _fd(self) -> int:
        if self._descriptor is None or self._descriptor[0] != os.getpid():
            self._descriptor = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._descriptor[1]


NO_LOCK = contextlib.nullcontext()
_WRITER_LOCKS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()


def driver_sql(engine: Engine, statement: str) -> str:
    """A statement written with `:name` placeholders, in the driver's style (sqlite3 takes them as they are)."""
    if engine.dialect.paramstyle == "pyformat":
        return re.sub(r":(\w+)", r"%(\1)s", statement)
    return statement


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; several workers can write
    # In WAL mode NORMAL keeps every commit across process crashes and kills (a lost fsync can only drop the last
    # commits on power loss) and saves an fsync per request: a jti or feedback write costs ~0.05 ms, not ~0.7 ms.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
