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

# One row per hook call: no patient data but a keyed hash of the id.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("hook_instance", String(128), nullable=False),
    Column("service_id", String(128), nullable=False),
    Column("patient_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("latency_ms", Float, nullable=False),
    Column("pack_version", String(32), nullable=False),
)

# The cards an audited call returned; feedback links to them (and so to the call) by card uuid.
audit_cards = Table(
    "audit_cards",
    metadata,
    Column("card_uuid", String(64), primary_key=True),
    Column("audit_id", Integer, nullable=False, index=True),
    Column("rule_id", String(32), nullable=False, index=True),
    Column("indicator", String(16), nullable=False),
)
