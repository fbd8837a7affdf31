"""Data quality: notices about data the rules could not use, so that a check that could not run is never silent.

A rule lists in `reports` which problems it gathers; any found make its one card, each problem a line of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.common import focus_uses, lookbacks, weight
from service.rules.findings import Finding

REPORTED_KEYS = ("medicationRequests", "medicationStatements", "labs", "weights", "genomics", "conditions",
                 "allergies", "immunizations")  # fmt: skip

Problems = Callable[[Rule, PatientRecord, KnowledgePack], list[str]]


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    problems = [line for report in rule.param("reports") for line in REPORTS[report](rule, record, pack)]
    card = next(iter(rule.cards))  # a data-quality rule has one card (`aza-cds knowledge check`)
    return [Finding(rule.id, card, items=tuple(problems))] if problems else []


def _unreadable_drafts(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[str]:
    """Draft orders that could not be read at all, whatever they order."""
    return list(record.unreadable_drafts)


def _involved(record: PatientRecord, pack: KnowledgePack) -> bool:
    return any(record.involves(concept) for concept in pack.focus_drugs)


def _medication_data(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[str]:
    """Medication entries that could not be read, when azathioprine is involved."""
    return list(record.medication_problems) if _involved(record, pack) else []


def _truncated_searches(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[str]:
    """Prefetch data that could not be fetched in full, and the checks that look further back than what was read,
    when azathioprine is involved."""
    if not _involved(record, pack):
        return []
    return [
        rule.phrase("truncated", key=key, note=note, checks_short=_checks_short(rule, pack, record, key))
        for key, note in record.truncated.items()
        if key in REPORTED_KEYS
    ]


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


def _unchecked_doses(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[str]:
    """Orders of the rule's drug whose dose checks could not run: no computable dose, or no recent weight."""
    problems = []
    for use in focus_uses(rule, record):
        if not use.dose.known:
            problems.append(rule.phrase("dose-problem", reference=use.reference, problem=use.dose.problem))
        elif not weight(record, rule.param("weight_max_age_days"), pack):
            problems.append(rule.phrase("no-weight", days=rule.param("weight_max_age_days")))
    return list(dict.fromkeys(problems))  # two drafts without a weight: one line


REPORTS: dict[str, Problems] = {  # what a data-quality rule may report (cards/schemas/rules.schema.json)
    "unreadable-drafts": _unreadable_drafts,
    "medication-data": _medication_data,
    "truncated-searches": _truncated_searches,
    "unchecked-doses": _unchecked_doses,
}
