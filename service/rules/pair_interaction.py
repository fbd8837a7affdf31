"""Interaction rules: azathioprine with another drug, in both directions.

On order hooks a card needs a draft in scope on one side; the other side is another draft of the session or
an active medication. On patient-view, two active medications make the card.
"""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.record.therapy import therapy_of
from service.rules.common import basis, weight
from service.rules.findings import Finding


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    if record.hook == "patient-view":
        return _existing(rule, record, pack)
    findings = _duplicate_drafts(rule, record) if "duplicate_orders" in rule.parameters else []
    if not rule.interactants & record.medication_concepts and "recent_immunization_days" not in rule.parameters:
        return findings  # a pair needs the other drug drafted or active; most calls have none of the 14 rules' drugs
    seen: set[frozenset[str]] = set()
    for draft in record.drafts_in_scope:
        mine = _first(draft, {rule.drug}) or _first(draft, rule.interactants)
        if not mine:
            continue
        wanted = rule.interactants if mine == rule.drug else {rule.drug}
        partner, origin = _partner(record, draft, wanted)
        if partner is None and mine == rule.drug and "recent_immunization_days" in rule.parameters:
            findings += _recently_immunized(rule, record, pack, draft)
            continue
        if partner is None:
            continue
        pair = frozenset((draft.reference, partner.reference))
        theirs = _first(partner, wanted)
        if pair not in seen and theirs is not None:  # the partner was found by its concepts: it has one
            seen.add(pair)
            finding = _ordered(rule, pack, draft, mine, partner, theirs, origin, record)
            # A pair the pack calls critical (contraindicated, or to be avoided) is never "established": it shows
            # on every order. Warnings and reminders show when the order is news.
            if rule.indicator == "critical" or _is_news(record, draft, mine, partner, theirs, origin):
                findings.append(finding)
    return findings


def _is_news(record: PatientRecord, draft: MedicationUse, mine: str, partner: MedicationUse, theirs: str, origin: str):
    """A pair is news when this order starts, restarts or changes the dose of its drug, when both drugs are being
    ordered and either is news, or when the other drug's course began after the last order of this one and less
    than the pack's restart gap ago (a combination formed since the last prescribing decision, and not yet through
    a routine monitoring interval). An unchanged renewal beside a long-standing partner is not, however recently the
    partner itself was renewed."""
    own = therapy_of(record, mine, draft)
    if own.is_news:
        return True
    if origin == "other-draft":
        return therapy_of(record, theirs, partner).is_news
    began = therapy_of(record, theirs).since or partner.start
    if began is None:
        return False  # undated: nothing says the combination is new
    recent = record.now - began <= timedelta(days=record.restart_gap_days)
    decided = own.previous.start if own.previous and own.previous.start else None
    return recent and (decided is None or began > decided)


def _recently_immunized(rule: Rule, record: PatientRecord, pack: KnowledgePack, draft: MedicationUse) -> list[Finding]:
    """DDI-09: a live vaccine given within the pack's number of days before azathioprine is ordered."""
    window = timedelta(days=rule.param("recent_immunization_days"))
    given = [
        (shot.when, shot) for shot in record.immunizations
        if shot.concepts & rule.interactants and shot.status == "completed" and shot.when is not None
        and record.now - shot.when <= window
    ]  # fmt: skip
    if not given:
        return []
    when, shot = max(given, key=lambda dated: dated[0])
    values = {
        "draft_drug": pack.concepts[rule.drug].display,
        "other_drug": pack.concepts[min(shot.concepts & rule.interactants)].display,
        "draft_label": draft.label,
        "other_label": rule.phrase(
            "immunized-on", vaccine=shot.text or rule.phrase("vaccine-unnamed"), date=when.date()
        ),
    }
    return [
        Finding(
            rule.id,
            "ordered",
            values,
            phrases={"other_description": rule.phrases["other-immunized"]},
            basis=(basis(draft),),
            draft_reference=draft.reference if draft.resource_id else None,
        )
    ]


def _first(use: MedicationUse, concepts: frozenset[str] | set[str]) -> str | None:
    return min(use.concepts & concepts, default=None)


def _partner(record: PatientRecord, draft: MedicationUse, wanted) -> tuple[MedicationUse | None, str]:
    for other in record.drafts:
        if other is not draft and other.concepts & wanted:
            return other, "other-draft"
    for other in record.active_medications:
        if other.concepts & wanted:
            return other, "other-active"
    return None, ""


def _ordered(rule, pack, draft, mine, partner, theirs, origin, record=None) -> Finding:
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
        basis=(basis(draft), basis(partner)),
        draft_reference=draft.reference if draft.resource_id else None,
        indicator=_escalated(rule, record, pack),
    )


def _escalated(rule: Rule, record: PatientRecord | None, pack: KnowledgePack) -> str | None:
    """The indicator of the first of the rule's escalations that holds for this patient, if any."""
    if record is None:
        return None
    for escalation in rule.escalations:
        if ESCALATION_TESTS[escalation["if"]](record, rule, escalation, pack):
            return escalation["indicator"]
    return None


def _phenotype_in(record: PatientRecord, rule: Rule, spec: dict, pack: KnowledgePack) -> bool:
    """The phenotype of `gene` is one of `phenotypes` (DDI-08: TPMT activity reduced)."""
    tpmt = record.phenotypes.get(spec["gene"])
    return bool(tpmt and tpmt.value in spec["phenotypes"])


def _also_taking(record: PatientRecord, rule: Rule, spec: dict, pack: KnowledgePack) -> bool:
    """A drug of `concepts` (groups expanded) is active or drafted (DDI-09: another immunosuppressant)."""
    wanted = frozenset(spec["concepts"])
    return any(use.concepts & wanted for use in record.active_medications + record.drafts)


def _dose_above(record: PatientRecord, rule: Rule, spec: dict, pack: KnowledgePack) -> bool:
    """The rule's drug above `mg_per_kg` mg/kg/day (no weight or dose: not escalated; DDI-09)."""
    kg = weight(record, spec["weight_max_age_days"], pack)
    doses = [
        use.dose.high
        for use in record.active_medications + record.drafts
        if use.has(rule.drug) and use.dose.high is not None
    ]
    return bool(kg and doses and max(doses) / kg.value > spec["mg_per_kg"])


def _patient_is(record: PatientRecord, rule: Rule, spec: dict, pack: KnowledgePack) -> bool:
    """Of `gender`, at most `max_age` years old, with the current `condition` (DDI-13: the hepatosplenic T-cell
    lymphoma reports concern young men with inflammatory bowel disease)."""
    age = record.age_years
    return (
        record.gender == spec["gender"]
        and age is not None
        and age <= spec["max_age"]
        and record.has_condition({spec["condition"]})
    )


ESCALATION_TESTS = {  # the conditions an escalation may name (cards/schemas/rules.schema.json)
    "phenotype-in": _phenotype_in,
    "also-taking": _also_taking,
    "dose-above": _dose_above,
    "patient-is": _patient_is,
}


def _duplicate_orders(rule: Rule, record: PatientRecord) -> list[Finding]:
    """DDI-07 on patient-view: two active orders of the drug written close together, so both may be taken."""
    within_days = rule.param("duplicate_orders")["within_days"]
    dated = [(u.start, u) for u in record.active_medications if u.has(rule.drug) and u.start is not None]
    orders = sorted(dated, key=lambda pair: pair[0])
    pairs = [
        (a, b) for (began, a), (then, b) in zip(orders, orders[1:], strict=False) if (then - began).days <= within_days
    ]
    if not pairs:
        return []
    return [_pair_finding(rule, "duplicate-orders", *pairs[-1])]


def _duplicate_drafts(rule: Rule, record: PatientRecord) -> list[Finding]:
    """DDI-07 on order hooks: the session drafts the drug twice, so signing both would double the dose."""
    drafts = [use for use in record.drafts if use.has(rule.drug)]
    if len(drafts) < 2 or not any(use.has(rule.drug) for use in record.drafts_in_scope):
        return []
    return [_pair_finding(rule, "duplicate-drafts", drafts[0], drafts[1])]


def _pair_finding(rule: Rule, variant: str, first: MedicationUse, second: MedicationUse) -> Finding:
    doses = [use.dose.high for use in (first, second) if use.dose.high is not None]
    total = rule.phrase("total-dose", total=f"{sum(doses):.0f}") if len(doses) == 2 else rule.phrase("total-unknown")
    values = {"drug_label": first.label, "other_label": second.label, "total": total}
    return Finding(rule.id, variant, values, basis=(basis(first), basis(second)))


def _existing(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """patient-view: both drugs active (the other one started within the rule's window, if it has one)."""
    duplicates = _duplicate_orders(rule, record) if "duplicate_orders" in rule.parameters else []
    active = record.active_medications
    mine = next((use for use in active if use.has(rule.drug)), None)
    window = rule.parameters.get("existing_started_within_days")
    theirs = next(
        (
            use for use in active
            if use.concepts & rule.interactants and use is not mine and not use.has(rule.drug)
            and (window is None or (use.start and record.now - use.start <= timedelta(days=window)))
        ),
        None,
    )  # fmt: skip
    other = _first(theirs, rule.interactants) if theirs else None
    if not (mine and theirs and other) or "existing" not in rule.cards:
        return duplicates
    return duplicates + [
        Finding(
            rule_id=rule.id,
            variant="existing",
            values={
                "drug_label": mine.label,
                "other_label": theirs.label,
                "other_drug": pack.concepts[other].display,
            },
            basis=(basis(mine), basis(theirs)),
        )
    ]
