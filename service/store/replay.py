"""The jti replay store, in the shared database so that every worker and replica sees every token id."""

from __future__ import annotations

import time

from sqlalchemy import Engine, delete

from service.store.feedback import INSERTS
from service.store.models import token_ids

CLEANUP_EVERY = 500  # inserts between deletions of expired ids


class SqlReplayStore:
    def __init__(self, engine: Engine):
        self._engine = engine
        self._insert = INSERTS[engine.dialect.name]
        self._inserts = 0

    def first_use(self, iss: str, jti: str, expires_at: float) -> bool:
        statement = (
            self._insert(token_ids)
            .values(iss=iss[:512], jti=jti[:256], expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["iss", "jti"])
        )
        with self._engine.begin() as connection:
            inserted = connection.execute(statement).rowcount == 1
            self._inserts += 1
            if self._inserts % CLEANUP_EVERY == 0:
                # keep ids a little past expiry so clock skew cannot reopen a replay window
                connection.execute(delete(token_ids).where(token_ids.c.expires_at < time.time() - 3600))
        return inserted

    def dispose(self) -> None:
        self._engine.dispose(close=False)
