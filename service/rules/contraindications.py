"""Contraindications and precautions: allergy, conditions, prior alkylating agents in RA, new-start counselling."""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import PatientRecord
from service.record.model import COUNTABLE
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
    """A current condition from the rule's list (or a recent positive test for it); optionally only with an RA
    indication."""
    uses = focus_uses(rule, record)
    if not uses:
        return []
    wanted = set(rule.param("conditions"))
    present = record.has_condition(wanted)
    test = None if present else _positive_test(record, rule.parameters.get("positive_test"))
    if not (present or test):
        return []
    needs_ra = rule.parameters.get("only_with_indication")
    if needs_ra and indication(uses[0], record) != needs_ra:
        return []
    entry = next((c for c in record.conditions if c.is_current and c.concepts & wanted), None)
    text = (entry.text or pack.concepts[min(entry.concepts & wanted)].display) if entry else test
    return _finding(rule, record, "present", {"condition_text": text})


def _positive_test(record: PatientRecord, spec: dict | None) -> str | None:
    """A positive qualitative result (e.g. hCG) within the pack's window, described for the card."""
    if not spec:
        return None
    window = timedelta(days=spec["within_days"])
    for result in record.labs:
        if result.analyte != spec["analyte"]:
            continue
        words = result.text
        positive = (
            ("positive" in words or "detected" in words) and "negative" not in words and "not detected" not in words
        )
        recent = result.effective is not None and record.now - result.effective <= window
        if positive and recent and result.status in COUNTABLE:
            return f"positive pregnancy test on {result.effective.date()}"
    return None


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
