"""Data-quality notices on record literals: a draft that could not be read, and data that could not all be fetched,
with the checks that look further back than what was read (MON-03 reads results back 455 days)."""

from __future__ import annotations

from datetime import UTC, datetime

from helpers import shipped_pack

from service.record import MedicationUse, PatientRecord
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ON_FILE = MedicationUse("MedicationRequest/a1", "MedicationRequest", "a1", "active", frozenset({"azathioprine"}),
                        "azathioprine 50 mg", "RxNorm code test")  # fmt: skip


def data_findings(**record_fields):
    record = PatientRecord("p1", "patient-view", NOW, medications=[ON_FILE], **record_fields)
    return {r.id: f for r, f in evaluate(PACK, record) if r.id.startswith("DATA-")}


def test_truncated_labs_name_the_checks_that_look_further_back():
    found = data_findings(truncated={"labs": "results before 2026-06-01 were not read"},
                          read_back_to={"labs": "2026-06-01"})  # fmt: skip
    (line,) = found["DATA-02"].items
    assert line.startswith("labs: results before 2026-06-01 were not read; checks that look further back: ")
    assert "MON-03 (455 days)" in line and "MON-01 (365 days)" in line
    assert "MON-05" not in line  # 90 days back from 2026-11-29 is within what was read


def test_a_complete_record_says_nothing():
    assert data_findings() == {}
