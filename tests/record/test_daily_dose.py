"""mg/day from FHIR Dosage, following the arithmetic of the reference (section 3 of the clinical rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import shipped_pack

from service.record.daily_dose import daily_dose

PACK = shipped_pack()  # its phrases word what a dose lacks
NOW = datetime(2026, 11, 29, tzinfo=UTC)
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def line(value=None, unit="mg", code=None, repeat=None, dose_range=None, r4=True, **extra):
    timing = {}
    if code:
        timing["code"] = {"coding": [{"system": GTS, "code": code}]}
    if repeat:
        timing["repeat"] = repeat
    dose = {"doseRange": dose_range} if dose_range else {"doseQuantity": {"value": value, "unit": unit, "code": unit}}
    return {"timing": timing, **({"doseAndRate": [dose]} if r4 else dose), **extra}


def dose(*lines, strength=None):
    return daily_dose({"dosageInstruction": list(lines)}, strength, NOW, PACK.phrase)


@pytest.mark.parametrize(
    ("dosage", "strength", "expected"),
    [
        (line(100, code="QD"), None, 100),
        (line(50, code="BID"), None, 100),
        (line(2, "{tbl}", code="BID"), 25, 100),  # 2 tablets of 25 mg twice a day
        (line(1, "TAB", code="TID"), 50, 150),
        (line(2, "{tablet}", code="QD"), 50, 100),
        (line(2, "{tab}", code="QD"), 50, 100),
        (line(2, "1", code="QD"), 50, 100),  # UCUM unity for a count of the product's tablets
        (
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},  # the CDS Hooks sandbox's shape
                "doseAndRate": [
                    {"doseQuantity": {"value": 3, "system": "http://unitsofmeasure.org", "code": "{pill}"}}
                ],
            },
            50,
            150,
        ),  # fmt: skip
        (line(100, code="QOD"), None, 50),
        (line(25, code="Q8H"), None, 75),
        (line(0.1, "g", code="QD"), None, 100),
        (line(50, repeat={"frequency": 3, "period": 1, "periodUnit": "wk"}), None, 150 / 7),
        (
            line(50, repeat={"frequency": 1, "period": 1, "periodUnit": "d", "dayOfWeek": ["mon", "wed", "fri"]}),
            None,
            150 / 7,
        ),
        (line(50, repeat={"when": ["MORN", "EVE"]}), None, 100),
        (line(50, repeat={"frequency": 1, "period": 12, "periodUnit": "h"}), None, 100),
        (line(50, repeat={"frequency": 1, "frequencyMax": 2, "period": 1, "periodUnit": "d"}), None, 100),  # high
        (line(50, r4=False, repeat={"frequency": 2, "period": 1, "periodUnits": "d"}), None, 100),  # DSTU2 shape
    ],
)
def test_daily_dose(dosage, strength, expected):
    assert dose(dosage, strength=strength).high == pytest.approx(expected)


def test_dose_range_gives_low_and_high():
    result = dose(
        line(dose_range={"low": {"value": 50, "unit": "mg"}, "high": {"value": 100, "unit": "mg"}}, code="BID")
    )
    assert (result.low, result.high) == (100, 200)


def test_concurrent_lines_are_summed():
    assert dose(line(50, code="AM"), line(25, code="PM")).high == 75


def test_sequential_lines_use_the_one_active_now():
    first = line(150, code="QD", sequence=1)
    first["timing"]["repeat"] = {"boundsPeriod": {"start": "2026-10-01", "end": "2026-11-15"}}
    second = line(100, code="QD", sequence=2)
    second["timing"]["repeat"] = {"boundsPeriod": {"start": "2026-11-16", "end": "2027-02-01"}}
    assert dose(first, second).high == 100


def test_max_dose_per_period_counts_when_larger():
    dosage = line(
        50,
        code="QD",
        maxDosePerPeriod={"numerator": {"value": 200, "unit": "mg"}, "denominator": {"value": 1, "unit": "d"}},
    )
    assert dose(dosage).high == 200


@pytest.mark.parametrize(
    ("dosage", "strength", "problem"),
    [
        ({"text": "take as directed"}, None, "free text only"),
        (line(1, "{tbl}", code="QD"), None, "product strength is unknown"),
        (line(5, "mL", code="QD"), None, "cannot be converted to mg"),
        (line(50), None, "no frequency"),
        (line(50, code="XYZ"), None, "not understood"),
    ],
)
def test_doses_that_cannot_be_computed_say_why(dosage, strength, problem):
    result = dose(dosage, strength=strength)
    assert result.high is None and problem in result.problem


@pytest.mark.parametrize(
    ("dose_range", "problem"),
    [
        ({"low": "50 mg", "high": {"value": 100, "unit": "mg"}}, "the dose range cannot be read"),  # once a 500
        ({"low": {"value": 50, "unit": "mg"}, "high": "100 mg"}, "the dosage gives no dose quantity"),
        ({"low": {}, "high": {}}, "the dose quantity has no usable value"),
    ],
)
def test_a_malformed_dose_range_is_no_dose_and_says_why(dose_range, problem):
    result = dose(line(dose_range=dose_range, code="BID"))
    assert result.high is None and result.problem == problem


def test_no_dosage_at_all():
    assert "no dosage instructions" in daily_dose({}, None, NOW, PACK.phrase).problem
