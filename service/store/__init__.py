"""Storage: the database, and the feedback, audit and token-id stores on it (or in memory)."""

from service.store.audit import SqlAuditStore
from service.store.db import open_database
from service.store.feedback import SqlFeedbackStore
from service.store.memory import MemoryAuditStore, MemoryFeedbackStore, MemoryTokenIdStore
from service.store.protocols import AuditStore, FeedbackStore, TokenIdStore
from service.store.storage import Storage
from service.store.token_ids import SqlTokenIdStore

__all__ = [
    "AuditStore",
    "FeedbackStore",
    "MemoryAuditStore",
    "MemoryFeedbackStore",
    "MemoryTokenIdStore",
    "SqlAuditStore",
    "SqlFeedbackStore",
    "SqlTokenIdStore",
    "Storage",
    "TokenIdStore",
    "open_database",
]
