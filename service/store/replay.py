"""The jti replay store, in the shared database so that every worker and replica sees every token id."""

from __future__ import annotations

import time

from sqlalchemy import Engine, text

# One fixed statement (valid in SQLite >= 3.24 and PostgreSQL): compiled once, unlike a Core insert per call.
INSERT = text(
    "INSERT INTO token_ids (iss, jti, expires_at) VALUES (:iss, :jti, :expires_at) ON CONFLICT DO NOTHING RETURNING jti"
)
PURGE = text("DELETE FROM token_ids WHERE expires_at < :before")
CLEANUP_EVERY = 500  # inserts between deletions of expired ids


class SqlReplayStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._inserts = 0

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        with self._engine.begin() as connection:
            row = connection.execute(INSERT, {"iss": iss[:512], "jti": jti[:256], "expires_at": expires_at}).first()
            inserted = row is not None  # RETURNING yields a row only for a new id, on SQLite and PostgreSQL alike
            self._inserts += 1
            if self._inserts % CLEANUP_EVERY == 0:
                # keep ids a little past expiry so clock skew cannot reopen a replay window
                connection.execute(PURGE, {"before": time.time() - 3600})
        return inserted
