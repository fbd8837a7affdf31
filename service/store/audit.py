"""The audit trail: one row per hook call and one per card it returned, with a retention period.

Rows are queued by the call and written by a background thread of the worker, in short transactions, at most
`flush_seconds` later: the call does not wait on the database, and workers do not queue for SQLite's write lock.
A batch that cannot be written stays queued for the next attempt (up to MAX_QUEUED calls); a batch the database
refuses as data is written call by call, and a call it still refuses is dropped and logged, so that one bad row
never stops the trail. Graceful shutdowns
write what is queued; a killed worker loses at most the last `flush_seconds` of rows.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from service.store.db import driver_cursor, driver_sql
from service.store.models import audit, audit_cards

log = logging.getLogger("aza_cds")
PURGE_EVERY = 1000  # calls between deletions of rows past the retention period
BATCH_CALLS = 200  # a queue this long is written at once, without waiting for the interval
CALLS_PER_TRANSACTION = 20  # short transactions: a hook call's token-id insert waits for at most one of them
MAX_QUEUED = 100_000  # calls kept while the database is unavailable (about 50 MB); older ones are dropped, logged
# Fixed statements run on the driver's cursor: this runs for every hook call (SQLite and PostgreSQL alike).
INSERT_CALL = (
    "INSERT INTO audit (at, hook_instance, service_id, patient_hash, status, latency_ms, pack_version) "
    "VALUES (:at, :hook_instance, :service_id, :patient_hash, :status, :latency_ms, :pack_version) RETURNING id"
)
INSERT_CARDS = (
    "INSERT INTO audit_cards (card_uuid, audit_id, rule_id, indicator) "
    "VALUES (:card_uuid, :audit_id, :rule_id, :indicator)"
)


class SqlAuditStore:
    def __init__(self, engine: Engine, retention_days: int, flush_seconds: float = 0.2):
        self._engine = engine
        self._retention = timedelta(days=retention_days)
        # 0: written during the call; also for an in-memory SQLite database, which another thread would not see
        in_memory = engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        self._flush_seconds = 0 if in_memory else flush_seconds
        self._written = 0
        self.poison_rows = 0  # calls whose rows the database refused as data, dropped
        self._insert_call = driver_sql(engine, INSERT_CALL)
        self._insert_cards = driver_sql(engine, INSERT_CARDS)
        # the column's own conversion (SQLite stores datetimes as text), so rows read back through Core as before
        self._store_time = audit.c.at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._queue: list[tuple[dict, list[dict]]] = []
        self._queue_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one batch at a time, so rows are written in call order
        self._wake = threading.Event()
        self._writer_pid: int | None = None  # the process whose writer thread runs (gunicorn forks workers)
        self._stopped = False

    def record(self, call: dict, cards: list[dict]) -> None:
        card_rows = [
            {"card_uuid": card["uuid"], "rule_id": card["source"]["topic"]["code"], "indicator": card["indicator"]}
            for card in cards
        ]
        with self._queue_lock:
            self._queue.append((call, card_rows))
            queued = len(self._queue)
        if self._flush_seconds == 0 or self._stopped:
            self.flush()
            return
        if self._writer_pid != os.getpid():
            self._start_writer()
        if queued >= BATCH_CALLS:
            self._wake.set()

    def flush(self) -> None:
        """Write the queue, a few calls per transaction (SQLite has one writer at a time, and each hook call's token
        id waits for it); on failure keep what is unwritten for the next attempt and log the gap."""
        with self._write_lock:
            with self._queue_lock:
                batch, self._queue = self._queue, []
            if not batch:
                return
            for start in range(0, len(batch), CALLS_PER_TRANSACTION):
                unwritten, error = self._write_chunk(batch[start : start + CALLS_PER_TRANSACTION])
                if unwritten:
                    self._requeue(unwritten + batch[start + CALLS_PER_TRANSACTION :], error)
                    return
        self._written += len(batch)
        if self._written >= PURGE_EVERY:
            self._written = 0
            try:
                self.purge()
            except SQLAlchemyError as error:  # the next thousand calls try again
                log.error("audit purge failed (%s)", type(error).__name__)

    def _write_chunk(self, chunk: list[tuple[dict, list[dict]]]) -> tuple[list[tuple[dict, list[dict]]], str]:
        """What is left to write (nothing when written; rows the database refuses as data are dropped), and why."""
        try:
            try:
                self._write(chunk)
            except (DataError, IntegrityError):
                left = self._write_row_by_row(chunk)  # a row the database refuses must not block the others
                return left, "the database failed" if left else ""
        except SQLAlchemyError as error:
            return chunk, type(error).__name__
        return [], ""

    def _requeue(self, unwritten: list[tuple[dict, list[dict]]], error: str) -> None:
        with self._queue_lock:
            self._queue[:0] = unwritten
            dropped = max(0, len(self._queue) - MAX_QUEUED)
            del self._queue[:dropped]
        log.error("audit write failed (%s): %d calls queued for the next attempt, %d dropped",
                  error, len(self._queue), dropped)  # fmt: skip

    def _write_row_by_row(self, batch: list[tuple[dict, list[dict]]]) -> list[tuple[dict, list[dict]]]:
        """Each call in its own transaction; a call the database refuses as data (it cannot store its values) is
        dropped, counted and logged, never retried. Returns what is left when the database fails otherwise."""
        for index, item in enumerate(batch):
            try:
                self._write([item])
            except (DataError, IntegrityError) as error:
                self.poison_rows += 1
                log.error("audit row dropped: the database refuses its values (%s); %d dropped by this worker",
                          type(error).__name__, self.poison_rows)  # fmt: skip
            except SQLAlchemyError:
                return batch[index:]
        return []

    def close(self) -> None:
        """Stop the writer thread and write what is queued (worker exit)."""
        self._stopped = True
        self._wake.set()
        self.flush()

    def _write(self, batch: list[tuple[dict, list[dict]]]) -> None:
        with driver_cursor(self._engine) as cursor:
            for call, card_rows in batch:
                if self._store_time:
                    call = {**call, "at": self._store_time(call["at"])}
                cursor.execute(self._insert_call, call)
                audit_id = cursor.fetchone()[0]
                if card_rows:
                    cursor.executemany(self._insert_cards, [row | {"audit_id": audit_id} for row in card_rows])

    def _start_writer(self) -> None:
        with self._queue_lock:
            if self._writer_pid == os.getpid():
                return
            self._writer_pid = os.getpid()
        _LIVE.add(self)
        # The thread holds the store only weakly: an app that is dropped (tests) takes its thread with it.
        thread = threading.Thread(
            target=_write_periodically, args=(weakref.ref(self), self._wake, self._flush_seconds), daemon=True
        )
        thread.start()

    def purge(self, now: datetime | None = None) -> None:
        """Delete audit rows (and their cards) older than the retention period."""
        cutoff = (now or datetime.now(UTC)) - self._retention
        with self._engine.begin() as connection:
            old = select(audit.c.id).where(audit.c.at < cutoff)
            connection.execute(delete(audit_cards).where(audit_cards.c.audit_id.in_(old)))
            connection.execute(delete(audit).where(audit.c.at < cutoff))


def _write_periodically(store_ref: weakref.ref[SqlAuditStore], wake: threading.Event, seconds: float) -> None:
    while True:
        wake.wait(seconds)
        wake.clear()
        store = store_ref()
        if store is None or store._stopped:
            return
        try:
            store.flush()
        except Exception:  # the writer must outlive any one bad batch
            log.exception("audit writer error")
        del store


_LIVE: weakref.WeakSet[SqlAuditStore] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for store in list(_LIVE):
        store.close()
