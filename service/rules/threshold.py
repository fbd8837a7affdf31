"""Threshold: the latest results past the rule's limits, and trends (rapid falls, successive falls, a creatinine
rise), as one card; and raised results while a condition is current, for rules that add that card.

Every limit, fraction and window is a parameter of the rule in the pack:
- `applies_to`: "new-start" (a draft that starts or restarts the drug) or "on-therapy" (the others);
- `thresholds`: each an `analyte` with `below` or `above` and the `indicator` a breach gives;
- `fall_analytes` with `fall_fraction` within `fall_within_days`, and `successive_falls` (`count`, `fraction`);
- `creatinine_rise`: the latest `analyte` result more than `fraction` above the median of the previous `over_days`;
- `result_max_age_days`: only results this recent count (an old result says nothing about today's marrow).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.knowledge import KnowledgePack, Rule
from service.knowledge.model import SUMMARY_PLACEHOLDER_WIDTH
from service.record import PatientRecord
from service.record.model import Measurement
from service.rules.common import focus_uses, is_new_start, number
from service.rules.findings import SEVERITY, Finding
from service.terminology.units import display_unit

HEADLINE_WIDTH = SUMMARY_PLACEHOLDER_WIDTH["headline"]


@dataclass(frozen=True)
class _Problem:
    """One result past a limit or one trend: its line on the card, its headline, and the indicator it gives."""

    line: str
    headline: str
    indicator: str
    analyte: str = ""


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """MON-03 / PREC-06: latest results past the pack's thresholds, and rapid falls, as one card. Only results
    within the rule's `result_max_age_days` count: an old result says nothing about today's marrow."""
    uses = focus_uses(rule, record)
    new = bool(uses) and is_new_start(record, rule.drug)
    if not uses or new != (rule.param("applies_to") == "new-start"):
        return []
    oldest = record.now - timedelta(days=rule.param("result_max_age_days"))
    problems = (
        _past_limits(rule, record, pack, oldest) + _falls(rule, record, pack, oldest) + _rise(rule, record, oldest)
    )
    if not problems:
        return []
    indicator = min((problem.indicator for problem in problems), key=lambda i: SEVERITY[i])
    more = len(problems) - 1
    first = problems[0].headline
    headline = rule.phrase("and-more", first=first, more=more) if more else first
    values = {"drug_label": uses[0].label, "headline": (headline[0].upper() + headline[1:])[:HEADLINE_WIDTH]}
    items = tuple(p.line for p in problems)
    return [Finding(rule.id, "abnormal", values, items=items, indicator=indicator, focus=problems[0].analyte)]


def falls(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> dict[str, str]:
    """Analyte -> the line the rule's card gives its fall (rapid or successive), as the card would say it now."""
    oldest = record.now - timedelta(days=rule.param("result_max_age_days"))
    return {problem.analyte: problem.line for problem in _falls(rule, record, pack, oldest)}


def _past_limits(rule: Rule, record: PatientRecord, pack: KnowledgePack, oldest: datetime) -> list[_Problem]:
    problems = []
    for limit in rule.param("thresholds"):
        latest = record.latest(limit["analyte"])
        if latest and latest.effective >= oldest and _breaches(latest.value, limit):
            found = _result(rule, pack.concepts[limit["analyte"]].display, latest)
            direction = "below" if "below" in limit else "above"
            line = rule.phrase("past-limit", result=found, direction=rule.phrase(direction), limit=limit[direction])
            problems.append(_Problem(line, found, limit["indicator"], limit["analyte"]))
    return problems


def _falls(rule: Rule, record: PatientRecord, pack: KnowledgePack, oldest: datetime) -> list[_Problem]:
    problems = []
    for analyte in rule.parameters.get("fall_analytes", []):
        series = record.series(analyte)
        if not series or series[-1].effective < oldest:
            continue  # a trend is news only when its latest result is
        within = rule.param("fall_within_days")
        fall = _rapid_fall(rule, series, rule.param("fall_fraction"), within)
        falls = _successive_falls(rule, series, rule.parameters.get("successive_falls"), within)
        if fall or falls:
            name, last = pack.concepts[analyte].display, series[-1]
            line = rule.phrase("fell", analyte=name, how=fall or falls)
            headline = rule.phrase("falling", analyte=name, **_reading(last))
            problems.append(_Problem(line, headline, "warning", analyte))
    return problems


def _rise(rule: Rule, record: PatientRecord, oldest: datetime) -> list[_Problem]:
    spec = rule.parameters.get("creatinine_rise")
    creatinine = record.series(spec["analyte"]) if spec else []
    recent = bool(creatinine) and creatinine[-1].effective >= oldest
    rise = _creatinine_rise(rule, creatinine, spec) if recent else None
    if not rise or not spec:
        return []
    headline = rule.phrase("creatinine-rising", **_reading(creatinine[-1]))
    return [_Problem(rule.phrase("creatinine-rose", how=rise), headline, "warning", spec["analyte"])]


def _reading(result: Measurement) -> dict[str, str]:
    return {"value": number(result.value), "unit": display_unit(result.unit), "date": str(result.effective.date())}


def _result(rule: Rule, analyte: str, result: Measurement) -> str:
    """ "Neutrophil count 0.8 x10^9/L on 2026-11-27": a result as cards name it."""
    return rule.phrase("result", analyte=analyte, **_reading(result))


def _breaches(value: float, limit: dict) -> bool:
    return value < limit["below"] if "below" in limit else value > limit["above"]


def _rapid_fall(rule: Rule, results: list[Measurement], fraction: float, within_days: int) -> str | None:
    if len(results) < 2:
        return None
    previous, latest = results[-2], results[-1]
    drop = (previous.value - latest.value) / previous.value
    if drop <= fraction or (latest.effective - previous.effective).days > within_days:
        return None
    return rule.phrase("rapid-fall", percent=f"{drop:.0%}", **_from_to(previous, latest))


def _from_to(first: Measurement, last: Measurement) -> dict[str, str]:
    return {"first": number(first.value), "first_date": str(first.effective.date()),
            "last": number(last.value), "last_date": str(last.effective.date())}  # fmt: skip


def _successive_falls(rule: Rule, results: list[Measurement], spec: dict | None, within_days: int) -> str | None:
    """The last `count` results each fell by more than `fraction` from the one before, one monitoring interval
    apart at most (`within_days`), or ending below the lower limit of the result's own reference range: a drift
    over years inside the normal range is not a warning sign."""
    if not spec:
        return None
    results = results[-(spec["count"] + 1) :]
    if len(results) <= spec["count"]:
        return None
    last = results[-1]
    below_normal = last.low is not None and last.value < last.low
    steps = zip(results, results[1:], strict=False)
    if not below_normal and any((b.effective - a.effective).days > within_days for a, b in steps):
        return None
    if all((a.value - b.value) / a.value > spec["fraction"] for a, b in zip(results, results[1:], strict=False)):
        below = rule.phrase("below-lower-limit", low=number(last.low)) if below_normal and last.low is not None else ""
        return rule.phrase("successive-falls", count=spec["count"], below_limit=below, **_from_to(results[0], last))
    return None


def _creatinine_rise(rule: Rule, results: list[Measurement], spec: dict | None) -> str | None:
    """The latest creatinine is more than `fraction` above the baseline: the median of the results of the previous
    `over_days` (a median, so that one low value from a dilute sample or another lab does not become the baseline)."""
    if not spec or len(results) < 2:
        return None
    latest = results[-1]
    earlier = sorted(r.value for r in results[:-1] if (latest.effective - r.effective).days <= spec["over_days"])
    if not earlier:
        return None
    middle = len(earlier) // 2
    baseline = earlier[middle] if len(earlier) % 2 else (earlier[middle - 1] + earlier[middle]) / 2
    rise = (latest.value - baseline) / baseline
    if rise <= spec["fraction"]:
        return None
    return rule.phrase("creatinine-rise", percent=f"{rise:.0%}", baseline=number(baseline),
                       last=number(latest.value), date=latest.effective.date())  # fmt: skip


def raised_with_condition(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """Results above their own reference range (or, for the `fixed_limit_analytes`, above `fixed_above`) while the
    `condition` is current: the rule's `card` (MON-02: jaundice with raised liver tests)."""
    spec = rule.param("raised_with_condition")
    if not record.has_condition({spec["condition"]}):
        return []
    raised = []
    for analyte in spec["analytes"]:
        latest = record.latest(analyte)
        fixed = spec["fixed_above"] if analyte in spec["fixed_limit_analytes"] else None
        limit = latest.high if latest and latest.high else fixed
        if latest and limit is not None and latest.value > limit:
            found = _result(rule, pack.concepts[analyte].display, latest)
            raised.append(rule.phrase("past-limit", result=found, direction=rule.phrase("above"), limit=number(limit)))
    return [Finding(rule.id, spec["card"], items=tuple(raised))] if raised else []
