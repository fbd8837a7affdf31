"""The audit trail: one row per hook call and one per card it returned, with a retention period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine, delete, select

from service.store.db import driver_cursor, driver_sql
from service.store.models import audit, audit_cards

PURGE_EVERY = 1000  # calls between deletions of rows past the retention period
# Fixed statements run on the driver's cursor: this runs on every hook call (SQLite and PostgreSQL alike).
INSERT_CALL = (
    "INSERT INTO audit (at, hook_instance, service_id, patient_hash, status, latency_ms, pack_version) "
    "VALUES (:at, :hook_instance, :service_id, :patient_hash, :status, :latency_ms, :pack_version) RETURNING id"
)
INSERT_CARDS = (
    "INSERT INTO audit_cards (card_uuid, audit_id, rule_id, indicator) "
    "VALUES (:card_uuid, :audit_id, :rule_id, :indicator)"
)


class AuditStore(Protocol):
    def record(self, call: dict, cards: list[dict]) -> None:
        """Store one hook call (keys of the `audit` table) and the cards it returned."""
        ...


class SqlAuditStore:
    def __init__(self, engine: Engine, retention_days: int):
        self._engine = engine
        self._retention = timedelta(days=retention_days)
        self._calls = 0
        self._insert_call = driver_sql(engine, INSERT_CALL)
        self._insert_cards = driver_sql(engine, INSERT_CARDS)
        # the column's own conversion (SQLite stores datetimes as text), so rows read back through Core as before
        self._store_time = audit.c.at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)

    def record(self, call: dict, cards: list[dict]) -> None:
        if self._store_time:
            call = {**call, "at": self._store_time(call["at"])}
        with driver_cursor(self._engine) as cursor:
            cursor.execute(self._insert_call, call)
            audit_id = cursor.fetchone()[0]
            if cards:
                cursor.executemany(self._insert_cards, [
                    {"card_uuid": card["uuid"], "audit_id": audit_id, "rule_id": card["source"]["topic"]["code"],
                     "indicator": card["indicator"]}
                    for card in cards
                ])  # fmt: skip
        self._calls += 1
        if self._calls % PURGE_EVERY == 0:
            self.purge()

    def purge(self, now: datetime | None = None) -> None:
        """Delete audit rows (and their cards) older than the retention period."""
        cutoff = (now or datetime.now(UTC)) - self._retention
        with self._engine.begin() as connection:
            old = select(audit.c.id).where(audit.c.at < cutoff)
            connection.execute(delete(audit_cards).where(audit_cards.c.audit_id.in_(old)))
            connection.execute(delete(audit).where(audit.c.at < cutoff))
