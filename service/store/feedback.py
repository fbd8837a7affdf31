"""Feedback storage: idempotent, so a client that repeats a POST stores each feedback item once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from service.store.models import feedback

# Both dialects' INSERT can skip a row whose key is stored already (ON CONFLICT DO NOTHING).
INSERTS: dict[str, Callable[[Table], postgresql.Insert | sqlite.Insert]] = {
    "sqlite": sqlite_insert,
    "postgresql": postgresql_insert,
}


class SqlFeedbackStore:
    def __init__(self, engine: Engine):
        if engine.dialect.name not in INSERTS:
            raise ValueError(f"unsupported database {engine.dialect.name!r}: use SQLite or PostgreSQL")
        self._engine = engine
        self._insert = INSERTS[engine.dialect.name]

    def save(self, service_id: str, items: list[dict]) -> tuple[int, int]:
        # In key order: two requests holding the same items in another order would otherwise each wait for a row
        # the other has locked (a deadlock PostgreSQL resolves by failing one of them, which the client saw as 503).
        rows = sorted((dedup_row(service_id, item) for item in items), key=lambda row: row["dedup_key"])
        rows = list({row["dedup_key"]: row for row in rows}.values())  # an item repeated within one request: once
        stored = 0
        with self._engine.begin() as connection:  # one transaction: all items or none
            for row in rows:
                statement = (
                    self._insert(feedback)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["dedup_key"])
                    .returning(feedback.c.id)  # rowcount is -1 on PostgreSQL here; RETURNING is reliable on both
                )
                stored += len(connection.execute(statement).fetchall())
        return stored, len(items) - stored

    def dispose(self) -> None:
        self._engine.dispose(close=False)

    def count(self) -> int:
        with self._engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(feedback)).scalar_one()


def dedup_row(service_id: str, item: dict) -> dict:
    """The row stored for one feedback item; `dedup_key` identifies the item, so a repeated POST stores it once."""
    reason = (item.get("overrideReason") or {}).get("reason") or {}
    accepted = [suggestion["id"] for suggestion in item.get("acceptedSuggestions", ())]
    identity = orjson.dumps({"service": service_id, "item": item}, option=orjson.OPT_SORT_KEYS)
    return {
        "dedup_key": hashlib.sha256(identity).hexdigest(),
        "service_id": service_id,
        "card_uuid": item["card"],
        "outcome": item["outcome"],
        "outcome_timestamp": datetime.fromisoformat(item["outcomeTimestamp"]).astimezone(UTC),
        "accepted_suggestions": orjson.dumps(accepted).decode() if accepted else None,
        "override_system": reason.get("system"),
        "override_code": reason.get("code"),
        "override_display": reason.get("display"),
        "user_comment": (item.get("overrideReason") or {}).get("userComment"),
        "received_at": datetime.now(UTC),
    }
