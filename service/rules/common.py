"""What several rule kinds share: the azathioprine uses in focus, new starts, indication, and card basis lines."""

from __future__ import annotations

from datetime import timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.record.model import Measurement
from service.record.therapy import NEW_START, RESTART, Therapy, focus_therapy

# The kinds whose every rule reads dated lab results or weights; rules of other kinds read them where their data says
# so (`result_searches`). A rule that reads any says in `lookback_days` how far back.
KIND_SEARCHES: dict[str, tuple[str, ...]] = {
    "schedule": ("labs",),
    "threshold": ("labs",),
    "dose-range": ("weights",),
}


def result_searches(rule: Rule) -> tuple[str, ...]:
    """The prefetch searches of dated results (and immunizations) the rule reads."""
    searches = list(KIND_SEARCHES.get(rule.kind, ()))
    if any(match["in"] in ("positive-test", "latest-result") for match in rule.matches):
        searches.append("labs")
    if "unchecked-doses" in rule.parameters.get("reports", ()):
        searches.append("weights")
    if any(escalation["if"] == "dose-above" for escalation in rule.escalations):
        searches.append("weights")
    if "recent_immunization_days" in rule.parameters:
        searches.append("immunizations")
    return tuple(searches)


def analytes_read(pack: KnowledgePack) -> frozenset[str]:
    """The lab concepts (those with a unit, or read for a qualitative result) that some rule reads: named in its
    parameters, or the body weight for the kinds that read weights. The prefetch must ask for each of them, and
    need ask for no other."""
    labs = {c.id for c in pack.concepts.values() if c.prefetch in ("labs", "weights") or c.unit}
    named: set[str] = set()
    for rule in pack.rules:
        if "weights" in result_searches(rule):
            named.add(pack.weight_concept)
        named.update(_strings([rule.parameters, *rule.matches]) & labs)
    return frozenset(named)


def _strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(_strings(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(item) for item in value))
    return set()


def lookbacks(pack: KnowledgePack) -> dict[str, dict[str, int]]:
    """Prefetch search -> rule id -> days that rule reads back: how far back each search's results are needed."""
    found: dict[str, dict[str, int]] = {}
    for rule in pack.rules:
        for search in result_searches(rule):
            if "lookback_days" in rule.parameters:
                found.setdefault(search, {})[rule.id] = rule.param("lookback_days")
    return found


def focus_uses(rule: Rule, record: PatientRecord) -> list[MedicationUse]:
    """The uses of the rule's drug the hook asks about: drafts in scope on order hooks, active ones on patient-view."""
    if record.hook == "patient-view":  # the latest order first: cards name the order the patient is on now
        active = [use for use in record.active_medications if use.has(rule.drug)]
        return sorted(active, key=lambda use: use.start or record.now.replace(year=1), reverse=True)
    return [draft for draft in record.drafts_in_scope if draft.has(rule.drug)]


def is_new_start(record: PatientRecord, drug: str) -> bool:
    """The draft in scope starts the drug, or restarts it after the pack's gap (record/therapy.py)."""
    return focus_therapy(record, drug).is_start


def indication(use: MedicationUse, record: PatientRecord, pack: KnowledgePack) -> str:
    """The first of the pack's indication concepts (manifest `indication_precedence`) among the order's own reasons,
    else among the patient's current conditions; 'other' when none is found."""
    for concepts in (use.reasons, frozenset().union(*(c.current for c in record.conditions))):
        for candidate in pack.indication_precedence:
            if candidate in concepts:
                return candidate
    return "other"


def therapy_basis(therapy: Therapy, pack: KnowledgePack) -> str:
    """The therapy a draft makes, as one basis line for a card."""
    if therapy.state == NEW_START:
        return pack.phrase("therapy-new-start")
    if therapy.state == RESTART:
        return pack.phrase("therapy-restart", when=_when(therapy.previous, pack))
    previous = therapy.previous
    shown = (
        pack.phrase("therapy-previous", reference=previous.reference, when=_when(previous, pack))
        if previous
        else pack.phrase("therapy-order-not-sent")
    )
    since = therapy.since.date() if therapy.since else pack.phrase("unknown")
    return pack.phrase("therapy-continues", state=therapy.state, previous=shown, since=since)


def _when(use: MedicationUse | None, pack: KnowledgePack) -> str:
    return use.start.date().isoformat() if use and use.start else pack.phrase("undated")


def basis(use: MedicationUse) -> str:
    return f"{use.reference} ({use.status}) recognised by {use.evidence}"


def mg(value: float) -> str:
    if value >= 100_000:
        return "99999+"  # implausible data; keeps card text bounded
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def per_kg(value: float) -> str:
    return "999+" if value >= 1000 else f"{value:.2f}"


def number(value: float) -> str:
    """A result's value as cards show it: whole above 100, two significant digits below 1, else one decimal."""
    return (
        f"{value:.0f}"
        if abs(value) >= 100
        else f"{value:.2g}"
        if abs(value) < 1
        else f"{value:.1f}".rstrip("0").rstrip(".")
    )


def weight(record: PatientRecord, max_age_days: int, pack: KnowledgePack) -> Measurement | None:
    """The latest body weight, when it is positive and from the last `max_age_days`."""
    latest = record.latest(pack.weight_concept)
    if latest and latest.value > 0 and record.now - latest.effective <= timedelta(days=max_age_days):
        return latest
    return None
