"""The stores a service instance uses, opened together: SQL (the default) or in memory (tests and tools)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, text

from service.store.audit import SqlAuditStore
from service.store.db import open_database
from service.store.feedback import SqlFeedbackStore
from service.store.memory import MemoryAuditStore, MemoryFeedbackStore, MemoryTokenIdStore
from service.store.protocols import AuditStore, FeedbackStore, TokenIdStore
from service.store.token_ids import SqlTokenIdStore


@dataclass(frozen=True)
class Storage:
    feedback: FeedbackStore
    audit: AuditStore
    token_ids: TokenIdStore
    engine: Engine | None = None  # None: the stores live in memory

    @classmethod
    def sql(cls, url: str, retention_days: int, flush_seconds: float) -> Storage:
        """Open (and migrate) the database at a SQLAlchemy URL and the stores on it."""
        engine = open_database(url)
        return cls(
            feedback=SqlFeedbackStore(engine),
            audit=SqlAuditStore(engine, retention_days, flush_seconds),
            token_ids=SqlTokenIdStore(engine),
            engine=engine,
        )

    @classmethod
    def in_memory(cls) -> Storage:
        return cls(feedback=MemoryFeedbackStore(), audit=MemoryAuditStore(), token_ids=MemoryTokenIdStore())

    def ping(self) -> None:
        """Raise (a SQLAlchemy error) when the database does not answer."""
        if self.engine is not None:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
