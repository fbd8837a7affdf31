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
