"""Storage: the database, and the feedback, audit and token-id stores on it (or in memory)."""

from service.store.audit import AuditStore, SqlAuditStore
from service.store.db import open_database
from service.store.feedback import FeedbackStore, SqlFeedbackStore
from service.store.replay import ReplayStore, SqlReplayStore
from service.store.storage import Storage

__all__ = [
    "AuditStore",
    "FeedbackStore",
    "ReplayStore",
    "SqlAuditStore",
    "SqlFeedbackStore",
    "SqlReplayStore",
    "Storage",
    "open_database",
]
