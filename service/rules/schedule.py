"""Schedule: a test is due at the interval the therapy's phase sets, and the last one is older (or there is none).

Every number and word is a parameter of the rule in the pack; this module does the date arithmetic:
- `applies_to`: "on-therapy" (default: the drug's drafts in scope, or on patient-view its active orders), or
  "change-beside-interactant" (a draft that starts, restarts or changes the drug while an interactant is taken);
- what counts: a result of `analytes` with one of `result_statuses`, from the last `lookback_days` (none dated
  more than a day ahead), with a value where `with_value`; where `together`, every analyte on one day (a CBC);
- when it is due: `phases` by therapy day (`until_day`, `interval_days`, `label`) with `grace_days` of slack each,
  a tighter interval for a while after a dose change (`after_dose_change`), and, where `baseline_at_start`, a
  recent result before a new start (the first phase's interval and slack);
- `raised_with_condition`: a second card for raised results while a condition is current (MON-02: jaundice).

Cards: `none-on-file`, `overdue`, and `new-start` where the rule checks a baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.record.model import LabResult
from service.record.therapy import DOSE_CHANGE, Therapy, focus_therapy, therapy_of
from service.rules.common import basis, number, therapy_basis
from service.rules.findings import Finding
from service.rules.threshold import raised_with_condition


@dataclass(frozen=True)
class Due:
    """What triggered the schedule: the use it is about, the therapy, and the interactant beside it."""

    use: MedicationUse
    therapy: Therapy
    beside: MedicationUse | None = None
    beside_concept: str = ""


@dataclass(frozen=True)
class Interval:
    days: int
    grace: int
    label: str


def evaluate(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    due = _due(rule, record)
    if due is None:
        return []
    findings = raised_with_condition(rule, record, pack) if "raised_with_condition" in rule.parameters else []
    last = _last_result(rule, record)
    if rule.parameters.get("baseline_at_start") and due.therapy.is_start:
        return findings + _baseline(rule, record, pack, due, last)
    return findings + _on_schedule(rule, record, pack, due, last)


def _due(rule: Rule, record: PatientRecord) -> Due | None:
    if rule.parameters.get("applies_to") == "change-beside-interactant":
        return _change_beside_interactant(rule, record)
    if record.hook == "patient-view":
        active = [use for use in record.active_medications if use.has(rule.drug)]
        return Due(active[0], focus_therapy(record, rule.drug)) if active else None
    drafts = [draft for draft in record.drafts_in_scope if draft.has(rule.drug)]
    return Due(drafts[0], focus_therapy(record, rule.drug)) if drafts else None


def _change_beside_interactant(rule: Rule, record: PatientRecord) -> Due | None:
    """A draft of the drug that is news (an unchanged renewal is not) while an interactant is active or drafted."""
    for draft in record.drafts_in_scope:
        if not draft.has(rule.drug) or not therapy_of(record, rule.drug, draft).is_news:
            continue
        for other in record.active_medications + record.drafts:
            if other.concepts & rule.interactants:
                holder = draft if draft.concepts & rule.interactants else other
                concept = min(holder.concepts & rule.interactants)
                return Due(draft, therapy_of(record, rule.drug, draft), other, concept)
    return None


def _since(rule: Rule, record: PatientRecord) -> datetime:
    """The start of the rule's look-back: older results are not its business (and may not have been read)."""
    return record.now - timedelta(days=rule.param("lookback_days"))


def _last_result(rule: Rule, record: PatientRecord) -> tuple[date, LabResult | None] | None:
    """The latest day with a result that counts, and that result when one analyte's result is enough."""
    days = _test_days(rule, record)
    return days[-1] if days else None


def _test_days(rule: Rule, record: PatientRecord) -> list[tuple[date, LabResult | None]]:
    """Each day with a result that counts, oldest first, with that day's latest result when one analyte's result is
    enough. Days are calendar dates as each result gives them (in its own offset), as a CBC's day is."""
    since, cutoff = _since(rule, record), record.now + timedelta(days=1)
    statuses, with_value = rule.param("result_statuses"), rule.parameters.get("with_value", False)
    counted = [
        r
        for r in record.labs
        if r.analyte in rule.param("analytes")
        and r.status in statuses
        and r.effective
        and since <= r.effective <= cutoff
        and (r.value is not None or not with_value)
    ]
    if rule.parameters.get("together"):
        days = [{r.effective.date() for r in counted if r.analyte == a and r.effective} for a in rule.param("analytes")]
        complete = set.intersection(*days) if days else set()
        return [(day, None) for day in sorted(complete)]
    latest: dict[date, LabResult] = {}
    for result in sorted(counted, key=lambda r: r.effective or since):
        if result.effective:
            latest[result.effective.date()] = result
    return sorted(latest.items(), key=lambda pair: pair[0])


def _scope(rule: Rule, record: PatientRecord, complete: str, partial: str) -> str:
    return rule.phrases[partial if "labs" in record.truncated else complete]


def _baseline(
    rule: Rule, record: PatientRecord, pack: KnowledgePack, due: Due, last: tuple[date, LabResult | None] | None
) -> list[Finding]:
    """A new start: a result within the first phase's interval and slack is the reference point."""
    interval = _phase(rule, 0)
    window = interval.days + interval.grace
    if last and (record.now.date() - last[0]).days <= window:
        return []
    values = {"window_days": str(window), "grace_days": str(interval.grace), "draft_label": due.use.label}
    phrases = {"search_scope": _scope(rule, record, "scope-complete", "scope-partial")}
    cited = (basis(due.use), therapy_basis(due.therapy, pack))
    return [Finding(rule.id, "new-start", values, phrases, basis=cited, focus=rule.param("analytes")[0])]


def _on_schedule(
    rule: Rule, record: PatientRecord, pack: KnowledgePack, due: Due, last: tuple[date, LabResult | None] | None
) -> list[Finding]:
    start = due.therapy.since
    day = (record.now.date() - start.date()).days if start else None
    interval = _interval(rule, record, due, day)
    days_since = (record.now.date() - last[0]).days if last else None
    if days_since is not None and days_since <= interval.days + interval.grace:
        return []  # in time: most calls end here, before any card text is put together
    values = {
        "interval_days": str(interval.days),
        "grace_days": str(interval.grace),
        "window_days": str(interval.days + interval.grace),
        "phase_label": interval.label,
        "therapy_day": str(day) if day is not None else "",
        "therapy_start": start.date().isoformat() if start else "",
        "lookback_days": str(rule.param("lookback_days")),
        "draft_label": due.use.label,
    }
    if due.beside_concept:
        values["other_drug"] = pack.concepts[due.beside_concept].display
    phrases = {
        "therapy_description": rule.phrases["therapy-known" if start else "therapy-unknown"],
        "search_scope": _scope(rule, record, "lookback-complete", "lookback-partial"),
    }
    cited = (basis(due.use), basis(due.beside)) if due.beside else ()
    if last is None or days_since is None:
        return [Finding(rule.id, "none-on-file", values, phrases, basis=cited, focus=rule.param("analytes")[0])]
    values |= {"days_since": str(days_since), "last_date": last[0].isoformat()}
    if last[1] is not None and last[1].value is not None:
        values["last_value"] = number(last[1].value)
    return [Finding(rule.id, "overdue", values, phrases, basis=cited, focus=rule.param("analytes")[0])]


@dataclass(frozen=True)
class DueDate:
    """One interval of the schedule: from a test (or, with none, today) to the next, as the rule's card counts it."""

    after: date  # the test the interval runs from
    due: date  # `after` plus the interval
    overdue_from: date  # from this day on the rule's card says overdue (the interval and its slack have passed)
    met: bool | None  # a test came in time; None for the interval still open


def due_dates(rule: Rule, record: PatientRecord) -> list[DueDate]:
    """The schedule's intervals in its look-back: those between tests, met or missed, and the one still open, with
    the interval the card uses now (so a timeline and the card cannot disagree)."""
    due = _due(rule, record)
    if due is None:
        return []
    days = [day for day, _ in _test_days(rule, record)]
    start, today = due.therapy.since, record.now.date()
    intervals = []
    for before, after in zip(days, days[1:], strict=False):
        phase = _phase(rule, _phase_index(rule.param("phases"), (before - start.date()).days if start else None))
        intervals.append(_due_date(before, phase, after))
    now_day = (today - start.date()).days if start else None
    interval = _interval(rule, record, due, now_day)
    if not days:  # none in the look-back: the card says so, and the test is due today
        return [DueDate(today, today, today, None)]
    return [*intervals, _due_date(days[-1], interval, None)]


def _due_date(before: date, interval: Interval, after: date | None) -> DueDate:
    late = before + timedelta(days=interval.days + interval.grace)
    met = None if after is None else after <= late
    return DueDate(before, before + timedelta(days=interval.days), late + timedelta(days=1), met)


def _interval(rule: Rule, record: PatientRecord, due: Due, day: int | None) -> Interval:
    """The phase's interval, or the tighter one after a recent dose change."""
    interval = _phase(rule, _phase_index(rule.param("phases"), day))
    tighter = rule.parameters.get("after_dose_change")
    if tighter and tighter["interval_days"] < interval.days and _dose_changed(rule, record, due, tighter["for_days"]):
        return Interval(tighter["interval_days"], tighter["grace_days"], tighter["label"])
    return interval


def _phase(rule: Rule, index: int) -> Interval:
    phase = rule.param("phases")[index]
    return Interval(phase["interval_days"], rule.param("grace_days")[index], phase["label"])


def _phase_index(phases: list[dict], day: int | None) -> int:
    """The phase a therapy day falls in; the last (longest-interval) phase when the start is unknown."""
    if day is not None:
        for index, phase in enumerate(phases):
            if "until_day" in phase and day <= phase["until_day"]:
                return index
    return len(phases) - 1


def _dose_changed(rule: Rule, record: PatientRecord, due: Due, for_days: int) -> bool:
    """This draft changes the dose, or the latest order on file changed the daily dose of the one before within
    `for_days`."""
    if due.therapy.state == DOSE_CHANGE:
        return True
    on_file = [use for use in record.medications if use.has(rule.drug)]
    known = [(use.start, use.dose.high) for use in on_file if use.start is not None and use.dose.high is not None]
    dated = sorted(known, key=lambda pair: pair[0])
    if len(dated) < 2:
        return False
    (_, before), (started, after) = dated[-2], dated[-1]
    return after != before and (record.now - started).days <= for_days
