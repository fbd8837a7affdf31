"""Rule evaluation: pure functions of a patient record and the pack's rules, returning findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules import (
    condition_match,
    data_quality,
    dose_range,
    pair_interaction,
    phenotype_table,
    schedule,
    threshold,
)
from service.rules.common import analytes_read, lookbacks, result_searches
from service.rules.findings import Finding

Evaluator = Callable[[Rule, PatientRecord, KnowledgePack], list[Finding]]

EVALUATORS: dict[str, Evaluator] = {  # a kind of rule is a mechanism; the rule's data says what it looks at
    "pair-interaction": pair_interaction.evaluate,
    "schedule": schedule.evaluate,
    "threshold": threshold.evaluate,
    "dose-range": dose_range.evaluate,
    "phenotype-table": phenotype_table.evaluate,
    "condition-match": condition_match.evaluate,
    "data-quality": data_quality.evaluate,
}

# Kinds of rule that are about keeping a living patient safe over time: after death, a chart opening gets no cards
# at all, and an order (the record may be wrong, so its own checks still run) gets none of these.
AFTER_DEATH_SILENT = frozenset({"pair-interaction", "schedule", "threshold"})


@dataclass(frozen=True)
class CardPolicy:
    """Noise control: info cards can be switched off; order-sign repeats only warning and critical cards, except
    rules marked `repeatOnOrderSign` (data notices), unless `order_sign_info` is on."""

    info_cards: bool = True
    order_sign_info: bool = False

    def keeps(self, rule: Rule, finding: Finding, hook: str) -> bool:
        if (finding.indicator or rule.indicator_for(finding.variant)) != "info":
            return True
        if not self.info_cards:
            return False
        return hook != "order-sign" or self.order_sign_info or rule.repeat_on_order_sign


def evaluate(
    pack: KnowledgePack, record: PatientRecord, policy: CardPolicy | None = None
) -> list[tuple[Rule, Finding]]:
    """Every finding of every rule for this hook, one card per problem, the most severe first.

    A deceased patient's chart gets no cards, and orders for one none of the monitoring and interaction kinds.
    A rule that found something drops the findings of the rules it `supersedes` (e.g. DOSE-04, "azathioprine
    not reduced with allopurinol", replaces the general DDI-02 card).
    """
    rules = pack.rules_for(record.hook)
    if record.deceased:
        rules = () if record.hook == "patient-view" else tuple(r for r in rules if r.kind not in AFTER_DEATH_SILENT)
    found = [(rule, finding) for rule in rules for finding in EVALUATORS[rule.kind](rule, record, pack)]
    policy = policy or CardPolicy()
    replaced = set().union(*(rule.supersedes for rule, _ in found))
    kept = [(r, f) for r, f in found if r.id not in replaced and policy.keeps(r, f, record.hook)]
    return sorted(kept, key=lambda pair: pair[1].sort_key(pair[0]))


__all__ = ["EVALUATORS", "CardPolicy", "Finding", "analytes_read", "evaluate", "lookbacks", "result_searches"]
