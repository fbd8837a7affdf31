"""MON-01: blood counts on the schedule of the azathioprine label, from therapy start.

The schedule, slack and what counts as a CBC are parameters of the rule in the pack; this module only does
the date arithmetic.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from service.knowledge import KnowledgePack, Rule
from service.knowledge.model import SUMMARY_PLACEHOLDER_WIDTH
from service.record import MedicationUse, PatientRecord
from service.record.model import Measurement
from service.record.therapy import DOSE_CHANGE, focus_therapy, therapy_of
from service.rules.common import basis, focus_uses, is_new_start, number
from service.rules.findings import SEVERITY, Finding
from service.terminology.units import display_unit

HEADLINE_WIDTH = SUMMARY_PLACEHOLDER_WIDTH["headline"]


def evaluate_cbc(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    on_file = [use for use in record.medications if use.has(rule.drug)]
    drafts = [draft for draft in record.drafts_in_scope if draft.has(rule.drug)]
    if not (any(use.is_active for use in on_file) if record.hook == "patient-view" else drafts):
        return []
    latest = latest_cbc(record, rule.param("cbc_analytes"), rule.param("result_statuses"), _since(rule, record))
    scope = rule.phrases["scope-partial" if "labs" in record.truncated else "scope-complete"]
    therapy = focus_therapy(record, rule.drug)
    if therapy.is_start:
        return _check_new_start(rule, record.now, latest, drafts[0], scope, therapy)
    changed = therapy.state == DOSE_CHANGE or _recent_dose_change(
        on_file, record.now, rule.param("after_dose_change")["for_days"]
    )
    return _check_schedule(rule, record.now, therapy.since, latest, _looked_in(rule, record), changed)


def _since(rule: Rule, record: PatientRecord) -> datetime:
    """The start of the rule's look-back: older results are not its business (and may not have been read)."""
    return record.now - timedelta(days=rule.param("lookback_days"))


def _looked_in(rule: Rule, record: PatientRecord) -> str:
    """Where the rule looked, for "none found" texts: its look-back, and whether all of it could be read."""
    return rule.phrases["lookback-partial" if "labs" in record.truncated else "lookback-complete"]


def latest_cbc(record: PatientRecord, analytes: list[str], statuses: list[str], since: datetime) -> date | None:
    """The latest day since `since` on which every CBC analyte has a countable result (none in the future)."""
    cutoff = record.now + timedelta(days=1)
    days: dict[str, set[date]] = {analyte: set() for analyte in analytes}
    for result in record.labs:
        if (
            result.analyte in days
            and result.status in statuses
            and result.effective
            and since <= result.effective <= cutoff
        ):
            days[result.analyte].add(result.effective.date())
    complete = set.intersection(*days.values()) if days else set()
    return max(complete) if complete else None


def _check_new_start(rule: Rule, now: datetime, latest: date | None, draft: MedicationUse, scope: str, therapy):
    interval = rule.param("phases")[0]["interval_days"]
    grace = rule.param("grace_days")[0]
    window = interval + grace
    if latest and (now.date() - latest).days <= window:
        return []
    values = {"window_days": str(window), "grace_days": str(grace), "draft_label": draft.label}
    return [Finding(rule.id, "new-start", values, {"search_scope": scope}, basis=(basis(draft), therapy.describe()))]


def _recent_dose_change(on_file: list[MedicationUse], now: datetime, for_days: int) -> bool:
    """The latest azathioprine order on file changed the daily dose of the one before, within `for_days`."""
    known = [(use.start, use.dose.high) for use in on_file if use.start is not None and use.dose.high is not None]
    dated = sorted(known, key=lambda pair: pair[0])
    if len(dated) < 2:
        return False
    (_, before), (started, after) = dated[-2], dated[-1]
    return after != before and (now - started).days <= for_days


def _check_schedule(rule: Rule, now: datetime, start, latest: date | None, scope: str, dose_changed: bool = False):
    phases, graces = rule.param("phases"), rule.param("grace_days")
    day = (now.date() - start.date()).days if start else None
    index = _phase_index(phases, day)
    interval, grace, label = phases[index]["interval_days"], graces[index], phases[index]["label"]
    tighter = rule.param("after_dose_change")
    if dose_changed and tighter["interval_days"] < interval:
        interval, grace, label = tighter["interval_days"], tighter["grace_days"], tighter["label"]
    values = {
        "interval_days": str(interval),
        "grace_days": str(grace),
        "phase_label": label,
        "therapy_day": str(day) if day is not None else "",
        "therapy_start": start.date().isoformat() if start else "",
        "lookback_days": str(rule.param("lookback_days")),
    }
    phrases = {
        "therapy_description": rule.phrases["therapy-known" if start else "therapy-unknown"],
        "search_scope": scope,
    }
    if latest is None:
        return [Finding(rule.id, "none-on-file", values, phrases)]
    days_since = (now.date() - latest).days
    if days_since <= interval + grace:
        return []
    values |= {"days_since": str(days_since), "last_cbc_date": latest.isoformat()}
    return [Finding(rule.id, "overdue", values, phrases)]


def _phase_index(phases: list[dict], day: int | None) -> int:
    """The phase a therapy day falls in; the last (longest-interval) phase when the start is unknown."""
    if day is not None:
        for index, phase in enumerate(phases):
            if "until_day" in phase and day <= phase["until_day"]:
                return index
    return len(phases) - 1


def evaluate_lft(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """MON-02: liver tests with each CBC in the first months, then at the pack's longer interval; jaundice with raised
    liver tests is a card of its own."""
    if not focus_uses(rule, record):
        return []
    return _jaundice(rule, record, pack) + _lft_schedule(rule, record)


def _jaundice(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    spec = rule.param("with_jaundice")
    if not record.has_condition({spec["condition"]}):
        return []
    raised = []
    for analyte in spec["analytes"]:
        latest = record.latest(analyte)
        fixed = spec["alt_ast_above"] if analyte in spec["alt_ast"] else None
        limit = latest.high if latest and latest.high else fixed
        if latest and limit is not None and latest.value > limit:
            found = _result(rule, pack.concepts[analyte].display, latest)
            raised.append(rule.phrase("past-limit", result=found, direction=rule.phrase("above"), limit=number(limit)))
    return [Finding(rule.id, "raised-with-jaundice", items=tuple(raised))] if raised else []


def _lft_schedule(rule: Rule, record: PatientRecord) -> list[Finding]:
    start = focus_therapy(record, rule.drug).since
    day = max(0, (record.now.date() - start.date()).days) if start else None
    phases, graces = rule.param("phases"), rule.param("grace_days")
    index = _phase_index(phases, day)
    interval, grace = phases[index]["interval_days"], graces[index]
    since = _since(rule, record)
    days = {
        r.effective.date()
        for r in record.labs
        if r.analyte in rule.param("analytes")
        and r.status in rule.param("result_statuses")
        and r.effective
        and since <= r.effective <= record.now
    }
    values = {
        "interval_days": str(interval),
        "phase_label": phases[index]["label"],
        "grace_days": str(grace),
        "lookback_days": str(rule.param("lookback_days")),
    }
    if not days:
        return [Finding(rule.id, "none-on-file", values, {"search_scope": _looked_in(rule, record)})]
    days_since = (record.now.date() - max(days)).days
    if days_since <= interval + grace:
        return []
    return [Finding(rule.id, "overdue", values | {"days_since": str(days_since), "last_date": max(days).isoformat()})]


def evaluate_thresholds(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """MON-03 / PREC-06: latest results past the pack's thresholds, and rapid falls, as one card. Only results
    within the rule's `result_max_age_days` count: an old result says nothing about today's marrow."""
    uses = focus_uses(rule, record)
    new = bool(uses) and is_new_start(record, rule.drug)
    if not uses or new != (rule.param("applies_to") == "new-start"):
        return []
    oldest = record.now - timedelta(days=rule.param("result_max_age_days"))
    problems, headlines, indicators = [], [], []
    for limit in rule.param("thresholds"):
        latest = record.latest(limit["analyte"])
        if latest and latest.effective >= oldest and _breaches(latest.value, limit):
            found = _result(rule, pack.concepts[limit["analyte"]].display, latest)
            direction = "below" if "below" in limit else "above"
            problems.append(
                rule.phrase("past-limit", result=found, direction=rule.phrase(direction), limit=limit[direction])
            )
            headlines.append(found)
            indicators.append(limit["indicator"])
    for analyte in rule.parameters.get("fall_analytes", []):
        series = record.series(analyte)
        if not series or series[-1].effective < oldest:
            continue  # a trend is news only when its latest result is
        within = rule.param("fall_within_days")
        fall = _rapid_fall(rule, series, rule.param("fall_fraction"), within)
        falls = _successive_falls(rule, series, rule.parameters.get("successive_falls"), within)
        if fall or falls:
            name, last = pack.concepts[analyte].display, series[-1]
            problems.append(rule.phrase("fell", analyte=name, how=fall or falls))
            headlines.append(rule.phrase("falling", analyte=name, **_reading(last)))
            indicators.append("warning")
    rise_spec = rule.parameters.get("creatinine_rise")
    creatinine = record.series(rise_spec["analyte"]) if rise_spec else []
    recent = bool(creatinine) and creatinine[-1].effective >= oldest
    rise = _creatinine_rise(rule, creatinine, rise_spec) if recent else None
    if rise:
        problems.append(rule.phrase("creatinine-rose", how=rise))
        headlines.append(rule.phrase("creatinine-rising", **_reading(creatinine[-1])))
        indicators.append("warning")
    if not problems:
        return []
    indicator = min(indicators, key=lambda i: SEVERITY[i])
    more = len(headlines) - 1
    headline = rule.phrase("and-more", first=headlines[0], more=more) if more else headlines[0]
    headline = (headline[0].upper() + headline[1:])[:HEADLINE_WIDTH]
    values = {"drug_label": uses[0].label, "headline": headline}
    return [Finding(rule.id, "abnormal", values, items=tuple(problems), indicator=indicator)]


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


def evaluate_inr(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    """MON-05: azathioprine started, restarted or its dose changed while a coumarin is taken, and no recent INR.
    An unchanged renewal is not a change (record/therapy.py); a coumarin ordered beside azathioprine is DDI-03."""
    pairs = [
        (d, o)
        for d in record.drafts_in_scope
        if d.has(rule.drug) and therapy_of(record, rule.drug, d).is_news
        for o in record.active_medications + record.drafts
        if o.concepts & rule.interactants
    ]
    if not pairs:
        return []
    window = rule.param("window_days")
    latest = record.latest(rule.param("analyte"))
    if latest and latest.effective < _since(rule, record):
        latest = None
    if latest and (record.now - latest.effective).days <= window:
        return []
    draft, other = pairs[0]
    coumarin = draft if draft.concepts & rule.interactants else other
    values = {
        "window_days": str(window),
        "coumarin": pack.concepts[min(coumarin.concepts & rule.interactants)].display,
        "lookback_days": str(rule.param("lookback_days")),
    }
    if latest:
        values["last_inr"] = rule.phrase("inr-last", value=number(latest.value), date=latest.effective.date())
    phrases = {} if latest else {"last_inr": rule.phrases["inr-none"]}
    return [Finding(rule.id, "no-recent-inr", values, phrases, basis=(basis(draft), basis(other)))]
