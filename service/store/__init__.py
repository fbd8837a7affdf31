"""Storage: the database engine and the feedback store."""

from service.store.db import open_database
from service.store.feedback import FeedbackStore, SqlFeedbackStore

__all__ = ["FeedbackStore", "SqlFeedbackStore", "open_database"]
