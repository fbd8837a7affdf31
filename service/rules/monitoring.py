"""MON-01: blood counts on the schedule of the azathioprine label, from therapy start.

The schedule, slack and what counts as a CBC are parameters of the rule in the pack; this module only does
the date arithmetic.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from service.knowledge import KnowledgePack, Rule
from service.record import MedicationUse, PatientRecord
from service.rules.findings import Finding


def evaluate_cbc(rule: Rule, record: PatientRecord, pack: KnowledgePack) -> list[Finding]:
    on_file = [use for use in record.medications if use.has(rule.drug)]
    active = [use for use in on_file if use.is_active]
    drafts = [draft for draft in record.drafts_in_scope if draft.has(rule.drug)]
    if not (active if record.hook == "patient-view" else drafts):
        return []
    latest = latest_cbc(record, rule.param("cbc_analytes"), rule.param("result_statuses"))
    scope = rule.phrases["scope-partial" if "labs" in record.truncated else "scope-complete"]
    if drafts and _is_new_start(rule, record.now, on_file, active):
        return _check_new_start(rule, record.now, latest, drafts[0], scope)
    starts = [use.start for use in on_file + drafts if use.start]
    return _check_schedule(rule, record.now, min(starts) if starts else None, latest, scope)


def latest_cbc(record: PatientRecord, analytes: list[str], statuses: list[str]) -> date | None:
    """The latest day on which every CBC analyte has a countable result (none in the future)."""
    cutoff = record.now + timedelta(days=1)
    days: dict[str, set[date]] = {analyte: set() for analyte in analytes}
    for result in record.labs:
        if result.analyte in days and result.status in statuses and result.effective and result.effective <= cutoff:
            days[result.analyte].add(result.effective.date())
    complete = set.intersection(*days.values()) if days else set()
    return max(complete) if complete else None


def _is_new_start(rule: Rule, now: datetime, on_file: list[MedicationUse], active: list[MedicationUse]) -> bool:
    gap = timedelta(days=rule.param("new_start_gap_days"))
    return not active and not any(use.start and now - use.start <= gap for use in on_file)


def _check_new_start(rule: Rule, now: datetime, latest: date | None, draft: MedicationUse, scope: str):
    interval = rule.param("phases")[0]["interval_days"]
    grace = rule.param("grace_days")[0]
    window = interval + grace
    if latest and (now.date() - latest).days <= window:
        return []
    values = {"window_days": str(window), "grace_days": str(grace), "draft_label": draft.label}
    return [Finding(rule.id, "new-start", values, {"search_scope": scope}, basis=(_basis(draft),))]


def _check_schedule(rule: Rule, now: datetime, start: datetime | None, latest: date | None, scope: str):
    phases, graces = rule.param("phases"), rule.param("grace_days")
    day = (now.date() - start.date()).days if start else None
    index = _phase_index(phases, day)
    interval, grace = phases[index]["interval_days"], graces[index]
    values = {
        "interval_days": str(interval),
        "grace_days": str(grace),
        "phase_label": phases[index]["label"],
        "therapy_day": str(day) if day is not None else "",
        "therapy_start": start.date().isoformat() if start else "",
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


def _basis(use: MedicationUse) -> str:
    return f"{use.reference} ({use.status}) recognised by {use.evidence}"
