"""Notices about data the rules could not use, so that missing checks are never silent."""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.common import lookbacks
from service.rules.findings import Finding

REPORTED_KEYS = ("medicationRequests", "medicationStatements", "labs", "weights", "genomics", "conditions",
                 "allergies", "immunizations")  # fmt: skip


def unreadable_drafts(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    if not record.unreadable_drafts:
        return []
    return [Finding(rule.id, "unreadable", items=tuple(record.unreadable_drafts))]


def incomplete_record(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """Unreadable or partly fetched medication and lab data, reported only when azathioprine is involved."""
    if not any(record.involves(concept) for concept in pack.focus_drugs):
        return []
    problems = list(record.medication_problems)
    for key, note in record.truncated.items():
        if key in REPORTED_KEYS:
            problems.append(
                rule.phrase("truncated", key=key, note=note, checks_short=_checks_short(rule, pack, record, key))
            )
    return [Finding(rule.id, "incomplete", items=tuple(problems))] if problems else []


def _checks_short(rule: Rule, pack: KnowledgePack, record: PatientRecord, key: str) -> str:
    """The rules whose look-back reaches further back than the results that could be read."""
    oldest = record.read_back_to.get(key)
    if not oldest:
        return ""
    short = [
        rule.phrase("rule-lookback", rule=rule_id, days=days)
        for rule_id, days in sorted(lookbacks(pack).get(key, {}).items())
        if (record.now - timedelta(days=days)).date().isoformat() < oldest
    ]
    return rule.phrase("checks-short", rules=", ".join(short)) if short else ""
