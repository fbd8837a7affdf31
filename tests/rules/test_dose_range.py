"""Dose rules on record literals. Expected outcomes from the azathioprine label: RA at most 2.5 mg/kg/day; with
allopurinol, one third to one quarter of the usual dose (the pack takes one third)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import shipped_pack

from service.record import CodedEntry, LabResult, MedicationUse, PatientRecord
from service.record.daily_dose import DailyDose
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RA = frozenset({"rheumatoid-arthritis"})


def azathioprine(mg: float, draft: bool = True, days_ago: int = 0) -> MedicationUse:
    reference = "MedicationRequest/d1" if draft else "MedicationRequest/a1"
    return MedicationUse(reference, "MedicationRequest", reference.split("/")[1], "draft" if draft else "active",
                         frozenset({"azathioprine"}), f"azathioprine {mg:g} mg daily", "RxNorm code test",
                         start=NOW - timedelta(days=days_ago), is_draft=draft, is_selected=draft,
                         dose=DailyDose(mg, mg))  # fmt: skip


def weight(kg: float, days_ago: int = 5) -> LabResult:
    return LabResult("body-weight", "29463-7", kg, "kg", NOW - timedelta(days=days_ago), "final")


def dose_findings(drafts, meds=(), labs=(), conditions=(), prefix="DOSE-"):
    record = PatientRecord("p1", "order-select", NOW, drafts=list(drafts), medications=list(meds), labs=list(labs),
                           conditions=list(conditions))  # fmt: skip
    return sorted((r.id, f.variant) for r, f in evaluate(PACK, record) if r.id.startswith(prefix))


def ra_entry():
    return CodedEntry(RA, "Rheumatoid arthritis", "active", current=RA)


def test_ra_dose_above_the_labelled_maximum():
    # 200 mg/day at 50 kg is 4.0 mg/kg/day, over 2.5
    assert ("DOSE-01", "above-maximum") in dose_findings(
        [azathioprine(200)], labs=[weight(50)], conditions=[ra_entry()]
    )


def test_ra_renewal_at_the_maximum_is_quiet():
    # 125 mg/day at 50 kg is exactly 2.5 mg/kg/day; a renewal beside the active order is not a new start
    on_file = azathioprine(125, draft=False, days_ago=60)
    assert dose_findings([azathioprine(125)], [on_file], [weight(50)], [ra_entry()]) == []


def test_a_weight_older_than_90_days_is_not_used():
    old = weight(50, days_ago=120)
    assert dose_findings([azathioprine(200)], labs=[old], conditions=[ra_entry()], prefix=("DOSE-", "DATA-03")) == [
        ("DATA-03", "not-checked")
    ]


def test_not_reduced_with_allopurinol():
    allopurinol = MedicationUse("MedicationRequest/x1", "MedicationRequest", "x1", "active",
                                frozenset({"allopurinol"}), "allopurinol 300 mg", "RxNorm code test")  # fmt: skip
    # the limit for RA is a third of 2.5 mg/kg/day, 0.83: 100 mg at 60 kg is 1.67, 40 mg is 0.67
    found = dose_findings([azathioprine(100)], [allopurinol], [weight(60)], [ra_entry()], prefix="DOSE-04")
    assert found == [("DOSE-04", "above-maximum")]
    assert dose_findings([azathioprine(40)], [allopurinol], [weight(60)], [ra_entry()], prefix="DOSE-04") == []
