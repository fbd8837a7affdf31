"""Rule evaluation: pure functions of a patient record and the pack's rules, returning findings."""

from __future__ import annotations

from collections.abc import Callable

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules import data_quality, interactions, monitoring
from service.rules.findings import Finding

Evaluator = Callable[[Rule, PatientRecord, KnowledgePack], list[Finding]]

EVALUATORS: dict[str, Evaluator] = {
    "interaction": interactions.evaluate,
    "cbc-schedule": monitoring.evaluate_cbc,
    "unreadable-draft": data_quality.unreadable_drafts,
    "incomplete-record": data_quality.incomplete_record,
}


def evaluate(pack: KnowledgePack, record: PatientRecord) -> list[tuple[Rule, Finding]]:
    """Every finding of every rule for this hook, the most severe first (stable within a severity)."""
    found = [
        (rule, finding) for rule in pack.rules_for(record.hook) for finding in EVALUATORS[rule.kind](rule, record, pack)
    ]
    return sorted(found, key=lambda pair: pair[1].sort_key(pair[0].indicator))


__all__ = ["EVALUATORS", "Finding", "evaluate"]
