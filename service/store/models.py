"""Tables. Feedback rows hold no patient data: card and suggestion ids, outcome, reason and time."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text

metadata = MetaData()

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedup_key", String(64), nullable=False, unique=True),
    Column("service_id", String(128), nullable=False),
    Column("card_uuid", String(128), nullable=False, index=True),
    Column("outcome", String(16), nullable=False),
    Column("outcome_timestamp", DateTime(timezone=True), nullable=False),
    Column("accepted_suggestions", Text, nullable=True),  # JSON list of suggestion uuids
    Column("override_system", String(512), nullable=True),
    Column("override_code", String(256), nullable=True),
    Column("override_display", String(1024), nullable=True),
    Column("user_comment", Text, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# Token ids (jti) of accepted EHR calls, kept until they expire: a second use is a replay.
token_ids = Table(
    "token_ids",
    metadata,
    Column("iss", String(512), nullable=False),
    Column("jti", String(256), nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    PrimaryKeyConstraint("iss", "jti"),
)
