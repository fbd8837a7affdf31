"""Record literals for rule tests: medication uses, CBC results, and the findings of a record (tests/rules/)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import shipped_pack

from service.record import LabResult, MedicationUse, PatientRecord
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def use(ref, concept, status="active", draft=False, selected=False, days_ago=None, rid=True):
    return MedicationUse(
        reference=ref,
        resource_type=ref.split("/")[0],
        resource_id=ref.split("/")[1] if rid else None,
        status=status,
        concepts=frozenset({concept} if concept else ()),
        label=f"{concept} label",
        evidence="RxNorm code test",
        start=NOW - timedelta(days=days_ago) if days_ago is not None else None,
        is_draft=draft,
        is_selected=selected,
    )


def cbc(days_ago, status="final", analytes=("wbc", "platelets")):
    when = NOW - timedelta(days=days_ago)
    return [LabResult(a, "x", 5.0, "10*9/L", when, status) for a in analytes]


def found(hook, drafts=(), meds=(), labs=(), only=("DDI-", "MON-01")):
    """(rule, variant, indicator) of the findings of the rules whose ids start with one of `only`."""
    record = PatientRecord("p1", hook, NOW, drafts=list(drafts), medications=list(meds), labs=list(labs))
    return sorted(
        (rule.id, finding.variant, finding.indicator or rule.indicator_for(finding.variant))
        for rule, finding in evaluate(PACK, record)
        if rule.id.startswith(only)
    )


RECENT_CBC = cbc(1)
