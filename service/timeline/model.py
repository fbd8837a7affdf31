"""The monitoring timeline as data: a pure function of the patient record and the knowledge pack.

What it shows comes from the same places the cards do: the dose from the record's medication uses and their course
(record/therapy.py), each lab's hold threshold from the on-therapy threshold rule's `thresholds`, the due dates from
the schedule rules (rules/schedule.py `due_dates`, the arithmetic the MON cards use), the drugs to mark from the
pair-interaction rules' interactants. A picture and a card therefore cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.record.model import Measurement
from service.record.therapy import runs_until
from service.rules.schedule import DueDate, due_dates
from service.rules.threshold import falls


@dataclass(frozen=True)
class DoseStep:
    start: datetime
    end: datetime
    mg_per_day: float | None  # None when the dose could not be computed
    mg_per_kg: float | None  # with the latest weight at the step's start
    label: str  # the order as the EHR names it


@dataclass(frozen=True)
class Limit:
    direction: str  # "below" or "above": the side on which the pack says hold or review
    value: float
    indicator: str


@dataclass(frozen=True)
class LabPanel:
    analyte: str  # pack concept id
    display: str
    unit: str
    points: tuple[tuple[Measurement, bool], ...]  # each result, and whether it is past the limit or its own range
    limit: Limit | None
    trend: str = ""  # the fall the threshold rule's card names for this analyte, if any


@dataclass(frozen=True)
class Schedule:
    rule_id: str
    test: str  # what is due, as the rule names it (its title)
    intervals: tuple[DueDate, ...]


@dataclass(frozen=True)
class DrugSpan:
    display: str  # the pack's name of the interacting drug
    label: str
    start: datetime | None
    end: datetime | None
    rule_id: str


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime  # now
    drug: str  # the pack's display of the drug
    doses: tuple[DoseStep, ...]
    panels: tuple[LabPanel, ...]
    empty_panels: tuple[str, ...]  # displays of threshold analytes without a result in the window
    schedules: tuple[Schedule, ...]
    drugs: tuple[DrugSpan, ...]
    phenotypes: dict[str, str] = field(default_factory=dict)  # gene -> CPIC phenotype
    pack: str = ""  # "aza-cds-azathioprine 0.5.0"


def build_timeline(record: PatientRecord, pack: KnowledgePack, months: int = 12) -> Timeline:
    """The last `months` of the record (30.44 days each), up to the record's `now`."""
    start = record.now - timedelta(days=round(months * 30.44))
    drug = next(iter(sorted(pack.focus_drugs)))
    trends = _trends(record, pack, drug)
    panels = [
        _panel(record, pack, analyte, limit, start, trends.get(analyte, "")) for analyte, limit in _limits(pack, drug)
    ]
    return Timeline(
        start=start,
        end=record.now,
        drug=pack.concepts[drug].display,
        doses=_doses(record, pack, drug, start),
        panels=tuple(panel for panel in panels if panel.points),
        empty_panels=tuple(panel.display for panel in panels if not panel.points),
        schedules=_schedules(record, pack, drug, start),
        drugs=_drug_spans(record, pack, drug, start),
        phenotypes={gene: phenotype.value for gene, phenotype in sorted(record.phenotypes.items())},
        pack=f"{pack.id} {pack.version}",
    )


def _rules(pack: KnowledgePack, kind: str, drug: str) -> list[Rule]:
    return [rule for rule in pack.rules if rule.kind == kind and rule.drug == drug]


def _limits(pack: KnowledgePack, drug: str) -> list[tuple[str, Limit | None]]:
    """Each analyte of the on-therapy threshold rules, with its limit, in the pack's order."""
    found: dict[str, Limit | None] = {}
    for rule in _on_therapy_thresholds(pack, drug):
        for limit in rule.param("thresholds"):
            direction = "below" if "below" in limit else "above"
            found.setdefault(limit["analyte"], Limit(direction, limit[direction], limit["indicator"]))
    return list(found.items())


def _on_therapy_thresholds(pack: KnowledgePack, drug: str) -> list[Rule]:
    return [r for r in _rules(pack, "threshold", drug) if r.parameters.get("applies_to") != "new-start"]


def _trends(record: PatientRecord, pack: KnowledgePack, drug: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for rule in _on_therapy_thresholds(pack, drug):
        found = falls(rule, record, pack) | found
    return found


def _panel(
    record: PatientRecord, pack: KnowledgePack, analyte: str, limit: Limit | None, start: datetime, trend: str
) -> LabPanel:
    series = [m for m in record.series(analyte) if start <= m.effective <= record.now + timedelta(days=1)]
    points = tuple((m, _flagged(m, limit)) for m in series)
    unit = series[-1].unit if series else (pack.concepts[analyte].unit or "")
    return LabPanel(analyte, pack.concepts[analyte].display, unit, points, limit, trend)


def _flagged(result: Measurement, limit: Limit | None) -> bool:
    """Past the pack's hold threshold, or outside the result's own reference range."""
    if limit and (result.value < limit.value if limit.direction == "below" else result.value > limit.value):
        return True
    return (result.low is not None and result.value < result.low) or (
        result.high is not None and result.value > result.high
    )


def _doses(record: PatientRecord, pack: KnowledgePack, drug: str, start: datetime) -> tuple[DoseStep, ...]:
    """Each order or statement of the drug as a step from its start to when it runs until (record/therapy.py)."""
    weights = record.series(pack.weight_concept)
    steps = []
    for use in sorted((u for u in record.medications if u.has(drug) and u.start), key=_started):
        end = runs_until(use, record.now) or use.start
        if use.start is None or end is None or end < start:
            continue
        daily = use.dose.high
        kg = next(
            (w.value for w in reversed(weights) if w.effective <= use.start), weights[-1].value if weights else None
        )
        per_kg = daily / kg if daily is not None and kg else None
        steps.append(DoseStep(max(use.start, start), min(end, record.now), daily, per_kg, use.label))
    return tuple(steps)


def _started(use: MedicationUse) -> datetime:
    assert use.start is not None  # given uses with a start only
    return use.start


def _schedules(record: PatientRecord, pack: KnowledgePack, drug: str, start: datetime) -> tuple[Schedule, ...]:
    """The on-therapy schedules (the CBC and the liver tests): a change beside an interactant is not a schedule
    the chart can show ahead of the change."""
    found = []
    for rule in _rules(pack, "schedule", drug):
        if rule.parameters.get("applies_to", "on-therapy") != "on-therapy":
            continue
        intervals = tuple(d for d in due_dates(rule, record) if d.overdue_from >= start.date() or d.met is None)
        found.append(Schedule(rule.id, rule.title, intervals))
    return tuple(found)


def _drug_spans(record: PatientRecord, pack: KnowledgePack, drug: str, start: datetime) -> tuple[DrugSpan, ...]:
    """Orders and statements of the drugs the pair-interaction rules name, from start to stop."""
    spans = []
    for rule in _rules(pack, "pair-interaction", drug):
        for use in record.medications:
            shared = use.concepts & rule.interactants
            if not shared or use.has(drug):
                continue
            end = runs_until(use, record.now)
            if end is not None and end < start:
                continue
            display = pack.concepts[min(shared)].display
            spans.append(DrugSpan(display, use.label, use.start, end, rule.id))
    return tuple(sorted(spans, key=lambda span: (span.start or start, span.display)))
