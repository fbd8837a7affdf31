"""Contraindications and precautions on record literals. From the azathioprine label: contraindicated in RA during
pregnancy and after a hypersensitivity to it; pregnancy otherwise a precaution. A positive test counts as a current
pregnancy: a qualitative hCG that reads positive, or a quantitative one above 25 IU/L, within 6 weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import shipped_pack

from service.record import CodedEntry, LabResult, MedicationUse, PatientRecord
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
RA = frozenset({"rheumatoid-arthritis"})
PREGNANCY = frozenset({"pregnancy"})


def findings(conditions=(), labs=(), allergies=(), reasons=frozenset()):
    draft = MedicationUse("MedicationRequest/d1", "MedicationRequest", "d1", "draft", frozenset({"azathioprine"}),
                          "azathioprine 50 mg", "RxNorm code test", is_draft=True, is_selected=True,
                          reasons=reasons)  # fmt: skip
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], conditions=list(conditions), labs=list(labs),
                           allergies=list(allergies))  # fmt: skip
    return sorted((r.id, f.variant) for r, f in evaluate(PACK, record) if r.id.startswith(("CI-", "PREC-0")))


def pregnancy(status="active"):
    return CodedEntry(PREGNANCY, "Pregnancy", status, when=NOW - timedelta(days=60),
                      current=PREGNANCY if status == "active" else frozenset())  # fmt: skip


def test_pregnancy_with_ra_is_a_contraindication_and_without_it_a_precaution():
    ra = CodedEntry(RA, "Rheumatoid arthritis", "active", current=RA)
    assert ("CI-03", "present") in findings([ra, pregnancy()])
    assert ("PREC-01", "present") not in findings([ra, pregnancy()])  # CI-03 supersedes it
    assert ("PREC-01", "present") in findings([pregnancy()])
    assert findings([pregnancy("resolved")]) == [("PREC-05", "new-start")]  # a closed pregnancy is not current


def test_a_positive_test_counts_as_pregnancy():
    def hcg(analyte, value=None, text="", days_ago=10):
        return LabResult(analyte, "x", value, "[IU]/L", NOW - timedelta(days=days_ago), "final", text=text)

    assert ("PREC-01", "present") in findings(labs=[hcg("hcg", text="positive")])
    assert ("PREC-01", "present") not in findings(labs=[hcg("hcg", text="negative")])
    assert ("PREC-01", "present") not in findings(labs=[hcg("hcg", text="positive", days_ago=50)])  # past 6 weeks
    assert ("PREC-01", "present") in findings(labs=[hcg("hcg-quantitative", 30.0)])
    assert ("PREC-01", "present") not in findings(labs=[hcg("hcg-quantitative", 20.0)])  # 5-25 is equivocal


def test_an_allergy_to_azathioprine_is_a_contraindication_unless_resolved():
    allergy = CodedEntry(frozenset({"azathioprine"}), "azathioprine", "active")
    assert ("CI-01", "allergy") in findings(allergies=[allergy])
    resolved = CodedEntry(frozenset({"azathioprine"}), "azathioprine", "resolved")
    assert ("CI-01", "allergy") not in findings(allergies=[resolved])


# DOSE-05 and DOSE-07 are condition matches too: the label advises lower doses in renal impairment (this pack's
# trigger: an eGFR below 50 from the last year, or dialysis) and starting at the low end in older patients (65+).


def dose_findings(labs=(), conditions=(), born_years_ago=None, renewal=False):
    draft = MedicationUse("MedicationRequest/d1", "MedicationRequest", "d1", "draft", frozenset({"azathioprine"}),
                          "azathioprine 50 mg", "RxNorm code test", is_draft=True, is_selected=True)  # fmt: skip
    earlier = [MedicationUse("MedicationRequest/a1", "MedicationRequest", "a1", "active", frozenset({"azathioprine"}),
                             "azathioprine 50 mg", "RxNorm code test", start=NOW - timedelta(days=200))]  # fmt: skip
    born = NOW.replace(year=NOW.year - born_years_ago) - timedelta(days=1) if born_years_ago else None
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], medications=earlier if renewal else [],
                           labs=list(labs), conditions=list(conditions), birth_date=born)  # fmt: skip
    return {(r.id, f.variant): f.values for r, f in evaluate(PACK, record) if r.id in ("DOSE-05", "DOSE-07")}


def egfr(value, days_ago=10):
    return LabResult("egfr", "x", value, "mL/min/{1.73_m2}", NOW - timedelta(days=days_ago), "final")


def test_a_low_egfr_from_the_last_year_asks_for_a_lower_dose_and_names_the_result():
    found = dose_findings([egfr(45.6)])
    assert found[("DOSE-05", "low-egfr")]["egfr_value"] == "46"  # eGFR is reported whole
    assert found[("DOSE-05", "low-egfr")]["egfr_date"] == (NOW - timedelta(days=10)).date().isoformat()
    assert dose_findings([egfr(55)]) == {}
    assert dose_findings([egfr(45, days_ago=400)]) == {}  # older than a year: not today's kidneys


def test_dialysis_asks_for_a_lower_dose_and_a_low_egfr_is_named_first():
    dialysis = CodedEntry(frozenset({"dialysis"}), "Hemodialysis", "active", current=frozenset({"dialysis"}))
    assert list(dose_findings(conditions=[dialysis])) == [("DOSE-05", "on-dialysis")]
    assert list(dose_findings([egfr(12)], [dialysis])) == [("DOSE-05", "low-egfr")]


def test_an_older_patient_starting_azathioprine_is_told_to_start_low_but_not_on_a_renewal():
    assert dose_findings(born_years_ago=70) == {("DOSE-07", "new-start"): {"drug_label": "azathioprine 50 mg",
                                                                            "age": "70"}}  # fmt: skip
    assert dose_findings(born_years_ago=64) == {}
    assert dose_findings(born_years_ago=70, renewal=True) == {}


def test_a_match_leaves_the_shared_record_as_it_was():
    """An entry without text is named by its concept on the card, on a copy: other rules read the same record."""
    entry = CodedEntry(PREGNANCY, "", "active", when=NOW - timedelta(days=5), current=PREGNANCY)
    assert ("PREC-01", "present") in findings([entry])
    assert entry.text == ""
