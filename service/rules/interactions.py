"""Interaction rules: azathioprine with another drug, in both directions.

On order hooks a card needs a draft in scope on one side; the other side is another draft of the session or
an active medication. On patient-view, two active medications make the card.
"""

from __future__ import annotations

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.rules.findings import Finding


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    if record.hook == "patient-view":
        return _existing(rule, record)
    findings, seen = [], set()
    for draft in record.drafts_in_scope:
        for mine, theirs in ((rule.drug, rule.interactant), (rule.interactant, rule.drug)):
            if not draft.has(mine):
                continue
            partner, origin = _partner(record, draft, theirs)
            pair = frozenset((draft.reference, partner.reference)) if partner else None
            if partner and pair not in seen:
                seen.add(pair)
                findings.append(_ordered(rule, pack, draft, mine, partner, theirs, origin))
    return findings


def _partner(record: PatientRecord, draft: MedicationUse, concept: str) -> tuple[MedicationUse | None, str]:
    for other in record.drafts:
        if other is not draft and other.has(concept):
            return other, "other-draft"
    for other in record.active_medications:
        if other.has(concept):
            return other, "other-active"
    return None, ""


def _ordered(rule, pack, draft, mine, partner, theirs, origin) -> Finding:
    return Finding(
        rule_id=rule.id,
        variant="ordered",
        values={
            "draft_drug": pack.concepts[mine].display,
            "other_drug": pack.concepts[theirs].display,
            "draft_label": draft.label,
            "other_label": partner.label,
        },
        phrases={"other_description": rule.phrases[origin]},
        basis=(_basis(draft), _basis(partner)),
        draft_reference=draft.reference if draft.resource_id else None,
    )


def _existing(rule: Rule, record: PatientRecord) -> list[Finding]:
    active = record.active_medications
    mine = next((use for use in active if use.has(rule.drug)), None)
    theirs = next((use for use in active if use.has(rule.interactant) and use is not mine), None)
    if not (mine and theirs) or "existing" not in rule.cards:
        return []
    return [
        Finding(
            rule_id=rule.id,
            variant="existing",
            values={"drug_label": mine.label, "other_label": theirs.label},
            basis=(_basis(mine), _basis(theirs)),
        )
    ]


def _basis(use: MedicationUse) -> str:
    return f"{use.reference} ({use.status}) recognised by {use.evidence}"
