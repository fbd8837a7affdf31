"""Evaluation across rules: order of severity, the deceased patient, the indication every dose rule reads."""

from __future__ import annotations

from datetime import timedelta

from rule_records import NOW, PACK, use

from service.record import PatientRecord
from service.rules import evaluate


def test_findings_come_most_severe_first():
    drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
    record = PatientRecord(
        "p1",
        "order-select",
        NOW,
        drafts=drafts,
        medications=[use("MedicationRequest/f", "febuxostat")],
        unreadable_drafts=["Entry 2 of draftOrders is not a FHIR resource."],
    )
    indicators = [finding.indicator or rule.indicator_for(finding.variant) for rule, finding in evaluate(PACK, record)]
    assert indicators[0] == "critical" and "warning" in indicators and indicators[-1] == "info"
    assert indicators == sorted(indicators, key=["critical", "warning", "info"].index)


class TestDeceased:
    def test_no_monitoring_or_interaction_cards_after_death(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True, days_ago=0)]
        meds = [use("MedicationRequest/f", "febuxostat", days_ago=10)]
        record = PatientRecord(
            "p1", "order-select", NOW, drafts=drafts, medications=meds, deceased=NOW - timedelta(days=3)
        )
        ids = {rule.id for rule, _ in evaluate(PACK, record)}  # alive, DDI-01 and MON-01 would both show
        assert not ids & {"DDI-01", "MON-01"} and "PREC-05" in ids
        on_file = [*meds, use("MedicationRequest/a", "azathioprine")]
        chart = PatientRecord("p1", "patient-view", NOW, medications=on_file, deceased=True)
        assert evaluate(PACK, chart) == []


def test_an_orders_indication_follows_the_packs_precedence():
    """manifest `therapy.indication_precedence`: the order's own reason first, then current conditions, in the
    pack's order (a kidney transplant before rheumatoid arthritis)."""
    import dataclasses

    from service.record import CodedEntry
    from service.rules.common import indication

    both = frozenset({"kidney-transplant", "rheumatoid-arthritis"})
    conditions = [CodedEntry(both, "transplant and RA", "active", current=both)]
    record = PatientRecord("p1", "order-sign", NOW, conditions=conditions)
    order = use("MedicationRequest/a", "azathioprine", draft=True)
    assert indication(order, record, PACK) == "kidney-transplant"
    flipped = dataclasses.replace(PACK, indication_precedence=("rheumatoid-arthritis", "kidney-transplant"))
    assert indication(order, record, flipped) == "rheumatoid-arthritis"
    ra_order = dataclasses.replace(order, reasons=frozenset({"rheumatoid-arthritis"}))
    assert indication(ra_order, record, PACK) == "rheumatoid-arthritis"  # the order's own reason comes first
    assert indication(order, PatientRecord("p1", "order-sign", NOW), PACK) == "other"
