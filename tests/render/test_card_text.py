"""What a clinician reads, one rule family at a time: a record literal, the rules, the rendered card, and the numbers
and names on it. Expected values are worked out here from the inputs and the cited sources (the azathioprine and
ULORIC labels, the CPIC table), never copied from the service's output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from helpers import shipped_pack

from service.record import CodedEntry, LabResult, MedicationUse, PatientRecord
from service.record.daily_dose import DailyDose
from service.record.model import Phenotype
from service.render import render_cards
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def order(reference: str, concept: str, label: str, draft: bool = False, days_ago: int = 0, **extra) -> MedicationUse:
    kind, identifier = reference.split("/")
    return MedicationUse(reference, kind, identifier, "draft" if draft else "active", frozenset({concept}), label,
                         "RxNorm code test", start=NOW - timedelta(days=days_ago), is_draft=draft,
                         is_selected=draft, **extra)  # fmt: skip


def card_of(rule_id: str, record: PatientRecord) -> dict:
    found = [(rule, finding) for rule, finding in evaluate(PACK, record) if rule.id == rule_id]
    assert len(found) == 1, [rule.id for rule, _ in evaluate(PACK, record)]
    (card,) = render_cards(PACK, found, record.patient_id)
    return card


def test_interaction_card_names_both_drugs_and_both_orders():
    """ULORIC label: febuxostat is contraindicated with azathioprine (DDI-01)."""
    draft = order("MedicationRequest/d1", "azathioprine", "azathioprine 50 mg tablet", draft=True)
    febuxostat = order("MedicationRequest/f1", "febuxostat", "febuxostat 80 mg tablet", days_ago=200)
    recent_cbc = [LabResult(a, "x", 6.0, "10*9/L", NOW - timedelta(days=3), "final") for a in ("wbc", "platelets")]
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], medications=[febuxostat], labs=recent_cbc)
    card = card_of("DDI-01", record)
    assert card["indicator"] == "critical"
    assert "febuxostat" in card["summary"].lower() and "azathioprine" in card["summary"].lower()
    assert "azathioprine 50 mg tablet" in card["detail"] and "febuxostat 80 mg tablet" in card["detail"]


def test_cbc_overdue_card_gives_the_days_since_and_the_monthly_interval():
    """Azathioprine label: counts monthly after the third month. On day 300 of therapy, with the last count 50 days
    ago, the card says 50 days and 30 days."""
    on_file = order("MedicationRequest/a1", "azathioprine", "azathioprine 100 mg daily", days_ago=300)
    last = [LabResult(a, "x", 6.0, "10*9/L", NOW - timedelta(days=50), "final") for a in ("wbc", "platelets")]
    card = card_of("MON-01", PatientRecord("p1", "patient-view", NOW, medications=[on_file], labs=last))
    assert "last count 50 days ago, due every 30 days" in card["summary"]
    assert (NOW - timedelta(days=50)).date().isoformat() in card["detail"]


def test_dose_card_gives_mg_per_kg_from_the_dose_and_the_weight():
    """Azathioprine label, RA: at most 2.5 mg/kg/day. 200 mg/day at 50 kg is 4.00 mg/kg/day."""
    ra = frozenset({"rheumatoid-arthritis"})
    draft = order("MedicationRequest/d1", "azathioprine", "azathioprine 200 mg daily", draft=True,
                  dose=DailyDose(200.0, 200.0), reasons=ra)  # fmt: skip
    weight = LabResult("body-weight", "29463-7", 50.0, "kg", NOW - timedelta(days=10), "final")
    conditions = [CodedEntry(ra, "Rheumatoid arthritis", "active", current=ra)]
    record = PatientRecord("p1", "order-sign", NOW, drafts=[draft], labs=[weight], conditions=conditions)
    card = card_of("DOSE-01", record)
    assert "4.00 mg/kg/day" in card["summary"] and "2.5 mg/kg/day" in card["summary"]
    assert "200 mg/day for 50.0 kg" in card["detail"]
    assert (NOW - timedelta(days=10)).date().isoformat() in card["detail"]


def test_pharmacogenomic_card_names_the_phenotypes_and_quotes_cpic():
    """CPIC (2018, March 2024 table): TPMT Poor and NUDT15 Normal Metabolizer, Strong: for non-malignant
    conditions consider a non-thiopurine alternative; for malignancy, reduce the daily dose 10-fold."""
    draft = order("MedicationRequest/d1", "azathioprine", "azathioprine 50 mg tablet", draft=True)
    phenotypes = {
        "TPMT": Phenotype("TPMT", "Poor Metabolizer", "Observation/t1 (2025-01-10)"),
        "NUDT15": Phenotype("NUDT15", "Normal Metabolizer", "Observation/n1 (2025-01-10)"),
    }
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], phenotypes=phenotypes, has_pgx_result=True)
    card = card_of("PGX-01", record)
    assert card["summary"].startswith("TPMT Poor Metabolizer, NUDT15 Normal Metabolizer")
    assert "CPIC (Strong)" in card["detail"] and "10-fold" in card["detail"]
    assert "Observation/t1 (2025-01-10)" in card["detail"]


def test_allergy_card_quotes_the_allergy_as_recorded():
    """Azathioprine label: contraindicated after a hypersensitivity reaction to it (CI-01)."""
    draft = order("MedicationRequest/d1", "azathioprine", "azathioprine 50 mg tablet", draft=True)
    allergy = CodedEntry(frozenset({"azathioprine"}), "Imuran - rash and fever", "active")
    card = card_of("CI-01", PatientRecord("p1", "order-sign", NOW, drafts=[draft], allergies=[allergy]))
    assert card["indicator"] == "critical"
    assert "Imuran - rash and fever" in card["detail"] and "azathioprine 50 mg tablet" in card["detail"]


def test_dose_not_checked_card_says_what_was_missing():
    """DATA-03: no mg/kg check without a computed dose and a weight from the last 90 days (our default, cited)."""
    draft = order("MedicationRequest/d1", "azathioprine", "azathioprine as directed", draft=True,
                  dose=DailyDose(problem="the dose is free text only"))  # fmt: skip
    card = card_of("DATA-03", PatientRecord("p1", "order-select", NOW, drafts=[draft]))  # info: not repeated on sign
    assert "MedicationRequest/d1: the dose is free text only." in card["detail"]
