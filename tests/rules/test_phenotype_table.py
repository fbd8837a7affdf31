"""The CPIC table on record literals (CPIC 2018 guideline, March 2024 update): a TPMT intermediate metabolizer starts
at 30-80% of the normal dose (the pack suggests 80%), both genes intermediate at 20-50% (the pack: 50%), a poor
metabolizer on a non-malignant indication considers an alternative; normal metabolizers need nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from helpers import shipped_pack

from service.record import MedicationUse, PatientRecord
from service.record.daily_dose import DailyDose
from service.record.model import Phenotype
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def pgx(tpmt: str, nudt15: str):
    draft = MedicationUse("MedicationRequest/d1", "MedicationRequest", "d1", "draft", frozenset({"azathioprine"}),
                          "azathioprine 150 mg daily", "RxNorm code test", is_draft=True, is_selected=True,
                          dose=DailyDose(150.0, 150.0), draft_position=0)  # fmt: skip
    phenotypes = {gene: Phenotype(gene, value, f"Observation/{gene} (2025-01-10)")
                  for gene, value in (("TPMT", tpmt), ("NUDT15", nudt15))}  # fmt: skip
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], phenotypes=phenotypes, has_pgx_result=True)
    return [(r.indicator_for(f.variant), f) for r, f in evaluate(PACK, record) if r.id == "PGX-01"]


@pytest.mark.parametrize(
    ("tpmt", "nudt15", "variant", "indicator", "factor"),
    [
        ("Intermediate Metabolizer", "Normal Metabolizer", "reduce", "warning", 0.8),
        ("Intermediate Metabolizer", "Intermediate Metabolizer", "reduce-both", "warning", 0.5),
        ("Poor Metabolizer", "Normal Metabolizer", "alternative", "critical", None),
    ],
)
def test_cpic_rows(tpmt, nudt15, variant, indicator, factor):
    ((shown, finding),) = pgx(tpmt, nudt15)
    assert (finding.variant, shown) == (variant, indicator)
    assert (finding.dose_change.factor if finding.dose_change else None) == factor
    if factor:
        assert finding.values["reduced_mg_per_day"] == f"{150 * factor:.0f}"  # of the draft's 150 mg/day


def test_normal_metabolizers_need_no_card():
    assert pgx("Normal Metabolizer", "Normal Metabolizer") == []
