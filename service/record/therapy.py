"""Therapy continuity: is the patient already on a drug, since when, at what dose, and what does a draft change?

One model for every rule that asks "is this news?". Orders and statements of the same drug form courses: a use
runs from its start until now when it is active, else until its supply ends (validity period, or expected supply
duration x (1 + repeats), or a statement's period end), else until its start. Uses less than the pack's restart gap
apart belong to one course. A draft then is:

- a **new start**: no use of the drug on file at all;
- a **restart**: the drug was used, but the last course ended more than the gap ago;
- a **dose change**: it continues the current course at another daily dose;
- a **renewal**: it continues the current course unchanged (also when its priorPrescription names an order the
  EHR did not send: the prescriber says it continues one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from service.record.model import MedicationUse, PatientRecord

NEW_START, RESTART, RENEWAL, DOSE_CHANGE, ONGOING = "new-start", "restart", "renewal", "dose-change", "ongoing"
STARTS = frozenset({NEW_START, RESTART})
NEWS = frozenset({NEW_START, RESTART, DOSE_CHANGE})  # a prescribing decision that changes what the patient takes
DOSE_TOLERANCE_MG = 0.5  # rounding in dose arithmetic is not a change


@dataclass(frozen=True)
class Therapy:
    state: str
    since: datetime | None  # start of the current course; for a new start or restart, the draft's own date
    previous: MedicationUse | None  # the latest use of the current course (what a renewal continues)

    @property
    def is_start(self) -> bool:
        return self.state in STARTS

    @property
    def is_news(self) -> bool:
        return self.state in NEWS


def therapy_of(record: PatientRecord, drug: str, draft: MedicationUse | None = None) -> Therapy:
    """The continuity of `drug` for this record, as `draft` would change it (cached: rules ask many times)."""
    key = (drug, draft.reference if draft else None)
    if key not in record.therapies:
        on_file = [use for use in record.medications if use.has(drug)]
        record.therapies[key] = continuity(draft, on_file, record.now, record.restart_gap_days)
    return record.therapies[key]


def focus_therapy(record: PatientRecord, drug: str) -> Therapy:
    """The continuity the hook asks about: the first draft in scope of `drug` on order hooks, else the ongoing
    course (patient-view, or an order hook whose drafts are other drugs)."""
    draft = next((use for use in record.drafts_in_scope if use.has(drug)), None)
    return therapy_of(record, drug, draft)


def runs_until(use: MedicationUse, now: datetime) -> datetime | None:
    if use.is_active:
        return now
    return max(filter(None, (use.supply_end, use.start)), default=None)


def continuity(draft: MedicationUse | None, on_file: list[MedicationUse], now: datetime, gap_days: int) -> Therapy:
    """The state of `draft` against the uses of the same drug on file (patient-view: draft None -> ongoing)."""
    gap = timedelta(days=gap_days)
    spans = _spans(on_file, now)
    since, end, latest = _current_course(spans, gap)
    named = next((use for use in on_file if draft and draft.prior == use.reference), None)
    if draft is None:
        return Therapy(ONGOING, since, latest)
    if draft.prior and named is None and not spans:
        return Therapy(RENEWAL, None, None)  # continues an order the EHR did not send
    if not spans or end is None:  # spans give a course its end: both or neither
        return Therapy(NEW_START if not on_file else RESTART, draft.start or now, None)
    # The prescriber names the order renewed: continuity, unless that order was stopped and the gap has passed.
    renews = named is not None and not (named.status == "stopped" and now - (runs_until(named, now) or now) > gap)
    if now - end > gap and not renews:
        return Therapy(RESTART, draft.start or now, latest)
    previous = named or latest
    before, after = previous.dose.high if previous else None, draft.dose.high
    changed = before is not None and after is not None and abs(after - before) > DOSE_TOLERANCE_MG
    return Therapy(DOSE_CHANGE if changed else RENEWAL, since, previous)


def _spans(on_file: list[MedicationUse], now: datetime) -> list[tuple[datetime | None, datetime, MedicationUse]]:
    """(start, until, use) oldest first. A completed order whose supply is not given lasted until the next use of
    the drug began (it was completed by being replaced), or, when it is the last, until its own start."""
    dated = sorted((use for use in on_file if use.start or use.is_active), key=lambda use: use.start or now)
    spans = []
    for index, use in enumerate(dated):
        until = runs_until(use, now) or now  # dated or active: runs_until has a date for every one of them
        later = dated[index + 1].start if index + 1 < len(dated) else None
        if use.status == "completed" and use.supply_end is None and later:
            until = max(until, later)
        spans.append((use.start, until, use))
    return spans


def _current_course(spans: list, gap: timedelta) -> tuple[datetime | None, datetime | None, MedicationUse | None]:
    """Start (None when no use of it is dated), end and latest use of the last course: spans chained while each
    starts within `gap` of the end so far."""
    since = end = latest = None
    for start, until, use in spans:
        if end is None or (start or until) - end > gap:
            since, end, latest = start, until, use  # a new course begins
        else:
            since = min(filter(None, (since, start)), default=None)
            end, latest = max(end, until), use  # spans are in start order: the later one is the latest
    return since, end, latest
