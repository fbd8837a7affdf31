"""Storage: the database engine and the feedback store."""

from service.store.audit import AuditStore, SqlAuditStore
from service.store.db import open_database
from service.store.feedback import FeedbackStore, SqlFeedbackStore
from service.store.replay import SqlReplayStore

__all__ = ["AuditStore", "FeedbackStore", "SqlAuditStore", "SqlFeedbackStore", "SqlReplayStore", "open_database"]
