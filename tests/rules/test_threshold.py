"""Thresholds and trends on record literals (the pack's BSR limits, MON-03)."""

from __future__ import annotations

from datetime import timedelta

from rule_records import NOW, PACK, use

from service.record import LabResult, PatientRecord
from service.rules import evaluate


def test_threshold_summaries_name_the_analyte_value_unit_and_date():
    meds = [use("MedicationRequest/a", "azathioprine", days_ago=400)]
    normal = [
        LabResult(analyte, "x", value, "10*9/L", NOW - timedelta(days=2), "final")
        for analyte, value in (("wbc", 6.0), ("platelets", 250.0))
    ]
    low = [LabResult("neutrophils", "751-8", 0.8, "10*9/L", NOW - timedelta(days=2), "final")]
    record = PatientRecord("p1", "patient-view", NOW, medications=meds, labs=low + normal)
    ((rule, finding),) = [(r, f) for r, f in evaluate(PACK, record) if r.id == "MON-03"]
    from service.render import render_cards

    (card,) = render_cards(PACK, [(rule, finding)], "p1")
    assert card["summary"].startswith(f"Neutrophil count 0.8 x10^9/L on {(NOW - timedelta(days=2)).date()}")
    old = [LabResult("neutrophils", "751-8", 0.8, "10*9/L", NOW - timedelta(days=91), "final")]
    record = PatientRecord("p1", "patient-view", NOW, medications=meds, labs=old + normal)
    assert not [r for r, _ in evaluate(PACK, record) if r.id == "MON-03"]  # older than the 90-day window
