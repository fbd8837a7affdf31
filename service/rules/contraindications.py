"""Contraindications and precautions: allergy, conditions, prior alkylating agents in RA, new-start counselling."""

from __future__ import annotations

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.rules.common import RHEUMATOID, basis, focus_uses, indication, is_new_start
from service.rules.findings import Finding


def _finding(rule: Rule, record: PatientRecord, variant: str, values: dict, extra=()) -> list[Finding]:
    use = focus_uses(rule, record)[0]
    return [
        Finding(
            rule.id,
            variant,
            {"drug_label": use.label, **values},
            basis=(basis(use), *extra),
            draft_reference=use.reference if use.is_draft and use.resource_id else None,
        )
    ]


def allergy(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """CI-01: a current allergy or intolerance to the drug or a cross-sensitive one."""
    if not focus_uses(rule, record):
        return []
    wanted = rule.interactants | {rule.drug}
    entries = [entry for entry in record.allergies if entry.is_current and entry.concepts & wanted]
    if not entries:
        return []
    substance = pack.concepts[min(entries[0].concepts & wanted)].display
    return _finding(rule, record, "allergy", {"substance": substance, "allergy_text": entries[0].text or substance})


def condition(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """A current condition from the rule's list; optionally only with (or without) an RA indication."""
    uses = focus_uses(rule, record)
    if not uses or not record.has_condition(set(rule.param("conditions"))):
        return []
    needs_ra = rule.parameters.get("only_with_indication")
    if needs_ra and indication(uses[0], record) != needs_ra:
        return []
    entry = next(c for c in record.conditions if c.is_current and c.concepts & set(rule.param("conditions")))
    return _finding(
        rule, record, "present", {"condition_text": entry.text or pack.concepts[min(entry.concepts)].display}
    )


def prior_drug(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """CI-02: RA indication and any past or present use of an alkylating agent."""
    uses = focus_uses(rule, record)
    if not uses or indication(uses[0], record) != RHEUMATOID:
        return []
    prior = [use for use in record.medications + record.drafts if use.concepts & rule.interactants]
    if not prior:
        return []
    other = pack.concepts[min(prior[0].concepts & rule.interactants)].display
    return _finding(rule, record, "prior-use", {"other_drug": other, "other_label": prior[0].label}, (basis(prior[0]),))


def new_start(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """PREC-05: counselling points at every new start."""
    if not focus_uses(rule, record) or not is_new_start(record, rule.drug, rule.param("new_start_gap_days")):
        return []
    return _finding(rule, record, "new-start", {})
