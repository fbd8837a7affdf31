"""Storage: the database engine and the feedback store."""

from service.store.db import open_database
from service.store.feedback import FeedbackStore, SqlFeedbackStore
from service.store.replay import SqlReplayStore

__all__ = ["FeedbackStore", "SqlFeedbackStore", "SqlReplayStore", "open_database"]
