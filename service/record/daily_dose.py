"""Daily dose in mg from FHIR `Dosage` (R4 `doseAndRate`, STU3/DSTU2 `doseQuantity`), or why it cannot be computed.

Concurrent lines (same or no `sequence`) are summed; of sequential lines (tapers) the one whose bounds cover today
is used, else the largest. `high` is for over-dose checks (range high, frequencyMax, maxDosePerPeriod when larger),
`low` for under-dose checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from service.errors import PatientDataError
from service.fhir.values import as_dict, as_list, as_text
from service.record.dates import parse_fhir_datetime

# HL7 v3 GTSAbbreviation codes used in Timing.code, as administrations per day.
TIMING_CODES = {
    "QD": 1.0, "AM": 1.0, "PM": 1.0, "BID": 2.0, "TID": 3.0, "QID": 4.0, "QOD": 0.5,
    "Q1H": 24.0, "Q2H": 12.0, "Q3H": 8.0, "Q4H": 6.0, "Q6H": 4.0, "Q8H": 3.0, "Q12H": 2.0, "Q24H": 1.0,
    "WK": 1 / 7, "BIW": 2 / 7, "TIW": 3 / 7, "QWK": 1 / 7,
}  # fmt: skip
PERIOD_DAYS = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.0, "a": 365.0}
MASS_UNITS = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
# The CDS Hooks sandbox writes tablets as the UCUM annotation {pill} (code only, no unit text).
TABLET_UNITS = {
    *("tab", "tabs", "tablet", "tablets", "{tbl}", "{tab}", "{tablet}", "{tablets}", "tbl", "1"),
    *("pill", "pills", "{pill}", "{pills}"),
}


@dataclass(frozen=True)
class DailyDose:
    high: float | None = None  # mg/day for over-dose checks
    low: float | None = None  # mg/day for under-dose checks
    problem: str = ""  # why no dose could be computed, in the pack's words; empty when computed (or not read)

    @property
    def known(self) -> bool:
        return self.high is not None


Wording = Callable[..., str]  # the pack's phrase filler (KnowledgePack.phrase): this module names, the pack words


class _Unusable(PatientDataError):
    """A dose line that cannot be turned into mg/day; caught within this module, its phrase kept as the reason."""

    def __init__(self, phrase: str, **values: str):
        super().__init__(phrase)
        self.phrase, self.values = phrase, values


def daily_dose(resource: dict, strength_mg: float | None, now: datetime, wording: Wording) -> DailyDose:
    lines = [line for line in as_list(resource.get("dosageInstruction")) if isinstance(line, dict)]
    if not lines:
        return DailyDose(problem=wording("record-dose-no-dosage"))
    try:
        groups: dict[object, list[tuple[float, float]]] = {}
        for line in lines:
            groups.setdefault(_sequence(line), []).append(_line_dose(line, strength_mg))
    except _Unusable as reason:
        return DailyDose(problem=wording(reason.phrase, **reason.values))
    if None in groups or len(groups) == 1:
        chosen = [dose for group in groups.values() for dose in group]  # all concurrent
    else:
        chosen = _current_sequence(lines, groups, now)
    return DailyDose(high=sum(high for high, _ in chosen), low=sum(low for _, low in chosen))


def _line_dose(line: dict, strength_mg: float | None) -> tuple[float, float]:
    low, high = _amount(line, strength_mg)
    per_day_low, per_day_high = _per_day(line)
    high_total = high * per_day_high
    ceiling = _max_per_day(line, strength_mg)
    if ceiling is not None and ceiling > high_total:
        high_total = ceiling
    return high_total, low * per_day_low


def _amount(line: dict, strength_mg: float | None) -> tuple[float, float]:
    """Dose per administration in mg as (low, high)."""
    rates = [rate for rate in as_list(line.get("doseAndRate")) if isinstance(rate, dict)]
    holder = rates[0] if rates else line
    quantity, dose_range = holder.get("doseQuantity"), holder.get("doseRange")
    if isinstance(quantity, dict):
        value = _mg(quantity, strength_mg)
        return value, value
    if isinstance(dose_range, dict) and isinstance(dose_range.get("high") or dose_range.get("low"), dict):
        low = dose_range.get("low") or dose_range.get("high")  # one end given: a range of one value
        high = dose_range.get("high") or dose_range.get("low")
        if not (isinstance(low, dict) and isinstance(high, dict)):
            raise _Unusable("record-dose-range-unreadable")
        return _mg(low, strength_mg), _mg(high, strength_mg)
    if isinstance(line.get("text"), str) and line["text"].strip():
        raise _Unusable("record-dose-free-text")
    raise _Unusable("record-dose-no-quantity")


def _mg(quantity: dict, strength_mg: float | None) -> float:
    value = quantity.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _Unusable("record-dose-no-value")
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip().lower()
    if unit in MASS_UNITS:
        return value * MASS_UNITS[unit]
    if unit in TABLET_UNITS:
        if strength_mg is None:
            raise _Unusable("record-dose-no-strength")
        return value * strength_mg
    raise _Unusable("record-dose-unit", unit=unit) if unit else _Unusable("record-dose-no-unit")


def _per_day(line: dict) -> tuple[float, float]:
    timing = as_dict(line.get("timing"))
    code = _timing_code(timing.get("code"))
    if code in TIMING_CODES:
        return TIMING_CODES[code], TIMING_CODES[code]
    repeat = as_dict(timing.get("repeat"))
    frequency, period = repeat.get("frequency"), repeat.get("period")
    unit = as_text(repeat.get("periodUnit")) or as_text(repeat.get("periodUnits"))  # R4 / DSTU2
    if _number(frequency) or _number(period):
        period_days = _number(period, 1) * PERIOD_DAYS.get(unit, 0)
        if period_days <= 0:
            raise _Unusable("record-dose-period")
        low = _number(frequency, 1) / period_days
        high = max(_number(repeat.get("frequencyMax"), 0), _number(frequency, 1)) / period_days
        weekdays = as_list(repeat.get("dayOfWeek"))
        if weekdays:
            low, high = low * len(weekdays) / 7, high * len(weekdays) / 7
        return low, high
    times = len(as_list(repeat.get("when"))) + len(as_list(repeat.get("timeOfDay")))
    if times:
        return float(times), float(times)
    if code:
        raise _Unusable("record-dose-timing-code", code=code)
    raise _Unusable("record-dose-no-frequency")


def _max_per_day(line: dict, strength_mg: float | None) -> float | None:
    ratios = line.get("maxDosePerPeriod")
    ratio = ratios[0] if isinstance(ratios, list) and ratios else ratios  # 0..* in R5-style data, 0..1 in R4
    if not isinstance(ratio, dict) or not isinstance(ratio.get("numerator"), dict):
        return None
    denominator = as_dict(ratio.get("denominator"))
    unit = as_text(denominator.get("code")) or as_text(denominator.get("unit"))
    days = _number(denominator.get("value"), 1) * PERIOD_DAYS.get(unit, 0)
    try:
        return _mg(ratio["numerator"], strength_mg) / days if days > 0 else None
    except _Unusable:
        return None


def _current_sequence(lines, groups, now: datetime) -> list[tuple[float, float]]:
    for line in lines:
        timing = as_dict(line.get("timing"))
        repeat = as_dict(timing.get("repeat"))
        bounds = as_dict(repeat.get("boundsPeriod"))
        start, end = parse_fhir_datetime(bounds.get("start")), parse_fhir_datetime(bounds.get("end"))
        if (start or end) and (not start or start <= now) and (not end or now <= end):
            return groups[_sequence(line)]
    return max(groups.values(), key=lambda group: sum(high for high, _ in group))


def _sequence(line: dict) -> int | None:
    sequence = line.get("sequence")
    return sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None


def _timing_code(code: object) -> str:
    if isinstance(code, dict):
        codings = [c for c in as_list(code.get("coding")) if isinstance(c, dict)]
        code = next((c.get("code") for c in codings if isinstance(c.get("code"), str)), code.get("text"))
    return code.strip().upper() if isinstance(code, str) else ""


def _number(value: object, default: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return default
    return float(value)
