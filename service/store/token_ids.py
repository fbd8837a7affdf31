"""Token ids (`jti`) seen, in the shared database so that every worker and replica refuses a replayed token."""

from __future__ import annotations

import time

from sqlalchemy import Engine

from service.store.db import driver_cursor, driver_sql

# Fixed statements (valid in SQLite >= 3.24 and PostgreSQL) on the driver's cursor: one runs on every hook call.
INSERT = (
    "INSERT INTO token_ids (iss, jti, expires_at) VALUES (:iss, :jti, :expires_at) ON CONFLICT DO NOTHING RETURNING jti"
)
PURGE = "DELETE FROM token_ids WHERE expires_at < :before"
CLEANUP_EVERY = 500  # inserts between deletions of expired ids


class SqlTokenIdStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._inserts = 0
        self._insert, self._purge = driver_sql(engine, INSERT), driver_sql(engine, PURGE)

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        with driver_cursor(self._engine) as cursor:
            cursor.execute(self._insert, {"iss": iss[:512], "jti": jti, "expires_at": expires_at})
            inserted = cursor.fetchone() is not None  # RETURNING yields a row only for a new id (SQLite, PostgreSQL)
            self._inserts += 1
            if self._inserts % CLEANUP_EVERY == 0:
                # keep ids a little past expiry so clock skew cannot reopen a replay window
                cursor.execute(self._purge, {"before": time.time() - 3600})
        return inserted
