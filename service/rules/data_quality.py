"""Notices about data the rules could not use, so that missing checks are never silent."""

from __future__ import annotations

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.findings import Finding

MEDICATION_AND_LAB_KEYS = ("medicationRequests", "medicationStatements", "labs")


def unreadable_drafts(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    if not record.unreadable_drafts:
        return []
    return [Finding(rule.id, "unreadable", items=tuple(record.unreadable_drafts))]


def incomplete_record(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """Unreadable or partly fetched medication and lab data, reported only when azathioprine is involved."""
    if not any(record.involves(concept) for concept in pack.focus_drugs):
        return []
    problems = list(record.medication_problems)
    problems += [f"{key}: {note}." for key, note in record.truncated.items() if key in MEDICATION_AND_LAB_KEYS]
    return [Finding(rule.id, "incomplete", items=tuple(problems))] if problems else []
