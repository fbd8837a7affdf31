"""Rule evaluation: pure functions of a patient record and the pack's rules, returning findings."""

from __future__ import annotations

from collections.abc import Callable

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules import contraindications, data_quality, dosing, interactions, monitoring, pgx
from service.rules.findings import Finding

Evaluator = Callable[[Rule, PatientRecord, KnowledgePack], list[Finding]]

EVALUATORS: dict[str, Evaluator] = {
    "interaction": interactions.evaluate,
    "live-vaccine": interactions.evaluate,
    "cbc-schedule": monitoring.evaluate_cbc,
    "lft-schedule": monitoring.evaluate_lft,
    "lab-threshold": monitoring.evaluate_thresholds,
    "inr-check": monitoring.evaluate_inr,
    "dose-range": dosing.dose_range,
    "dose-reduced-with": dosing.dose_with_interactant,
    "dose-data": dosing.dose_data,
    "renal-dose": dosing.renal,
    "elderly-dose": dosing.elderly,
    "pgx-cpic": pgx.cpic,
    "pgx-test": pgx.baseline_test,
    "allergy": contraindications.allergy,
    "condition": contraindications.condition,
    "prior-drug": contraindications.prior_drug,
    "new-start": contraindications.new_start,
    "unreadable-draft": data_quality.unreadable_drafts,
    "incomplete-record": data_quality.incomplete_record,
}


def evaluate(pack: KnowledgePack, record: PatientRecord) -> list[tuple[Rule, Finding]]:
    """Every finding of every rule for this hook, one card per problem, the most severe first.

    A rule that found something drops the findings of the rules it `supersedes` (e.g. DOSE-04, "azathioprine
    not reduced with allopurinol", replaces the general DDI-02 card).
    """
    found = [
        (rule, finding) for rule in pack.rules_for(record.hook) for finding in EVALUATORS[rule.kind](rule, record, pack)
    ]
    replaced = set().union(*(rule.supersedes for rule, _ in found))
    kept = [(rule, finding) for rule, finding in found if rule.id not in replaced]
    return sorted(kept, key=lambda pair: pair[1].sort_key(pair[0].indicator))


__all__ = ["EVALUATORS", "Finding", "evaluate"]
