"""Pair interactions on record literals. Expected outcomes come from the cited sources: the ULORIC label
(febuxostat contraindicated with azathioprine), the azathioprine label (allopurinol), the pack's interaction
sources; and issue 12's rule that an interaction card on an order hook is for news."""

from __future__ import annotations

import pytest
from rule_records import NOW, PACK, RECENT_CBC, found, use

from service.record import PatientRecord
from service.rules import evaluate


class TestInteractions:
    def test_azathioprine_drafted_while_febuxostat_active(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        assert found("order-select", drafts, [use("MedicationRequest/f", "febuxostat")], RECENT_CBC) == [
            ("DDI-01", "ordered", "critical")
        ]

    def test_febuxostat_drafted_while_azathioprine_active(self):
        drafts = [use("MedicationRequest/d", "febuxostat", "draft", True, True)]
        assert found("order-sign", drafts, [use("MedicationRequest/a", "azathioprine", days_ago=400)], RECENT_CBC) == [
            ("DDI-01", "ordered", "critical")
        ]

    @pytest.mark.parametrize("other", ["febuxostat", "allopurinol"])
    @pytest.mark.parametrize("status", ["stopped", "completed", "cancelled", "entered-in-error", "draft"])
    def test_inactive_orders_do_not_interact(self, other, status):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        assert found("order-sign", drafts, [use("MedicationRequest/o", other, status)], RECENT_CBC) == []

    @pytest.mark.parametrize("status", ["active", "on-hold", "unknown"])
    def test_orders_that_may_still_be_taken_interact(self, status):
        drafts = [use("MedicationRequest/d", "allopurinol", "draft", True)]
        meds = [use("MedicationStatement/a", "azathioprine", status, days_ago=400)]
        assert found("order-sign", drafts, meds, RECENT_CBC) == [("DDI-02", "ordered", "warning")]

    def test_order_select_only_checks_the_selections(self):
        drafts = [
            use("MedicationRequest/a", "azathioprine", "draft", True, False),
            use("MedicationRequest/f", "febuxostat", "draft", True, False),
            use("MedicationRequest/l", None, "draft", True, True),  # a drug outside the pack
        ]
        assert found("order-select", drafts, labs=RECENT_CBC) == []

    def test_two_drafts_of_one_pair_make_one_card_on_order_sign(self):
        drafts = [
            use("MedicationRequest/a", "azathioprine", "draft", True),
            use("MedicationRequest/f", "febuxostat", "draft", True),
        ]
        assert found("order-sign", drafts, labs=RECENT_CBC) == [("DDI-01", "ordered", "critical")]

    def test_azathioprine_drafted_twice_is_a_possible_duplicate(self):
        drafts = [
            use("MedicationRequest/a", "azathioprine", "draft", True),
            use("MedicationRequest/b", "azathioprine", "draft", True),
            use("MedicationRequest/l", None, "draft", True, True),
        ]
        assert found("order-sign", drafts, labs=RECENT_CBC) == [("DDI-07", "duplicate-drafts", "warning")]
        # order-select: only when an azathioprine draft is among the selections
        assert found("order-select", drafts, labs=RECENT_CBC) == []

    def test_a_renewal_beside_the_active_order_is_not_a_duplicate(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=20)]
        assert found("order-sign", drafts, meds, RECENT_CBC) == []

    def test_patient_view_shows_an_existing_contraindicated_pair_only(self):
        meds = [
            use("MedicationRequest/a", "azathioprine", days_ago=400),
            use("MedicationRequest/f", "febuxostat"),
            use("MedicationRequest/l", "allopurinol"),
        ]
        assert found("patient-view", meds=meds, labs=RECENT_CBC) == [("DDI-01", "existing", "critical")]

    def test_no_card_without_azathioprine(self):
        drafts = [use("MedicationRequest/f", "febuxostat", "draft", True, True)]
        assert found("order-select", drafts, [use("MedicationRequest/l", "allopurinol")]) == []


WARNING_DDI_04 = [("DDI-04", "ordered", "warning")]


class TestNews:
    """Issue 12: interaction cards on order hooks are for a new combination, a start, a restart or a dose change."""

    @pytest.mark.parametrize(
        ("drafted", "azathioprine_days", "lisinopril_days", "expected"),
        [
            ("azathioprine", 300, 900, []),  # unchanged renewal beside a long-standing partner
            ("azathioprine", 900, 800, []),  # partner after the last order, but 800 days together: established
            ("azathioprine", 300, 40, WARNING_DDI_04),  # partner begun since the last azathioprine order
            ("lisinopril", 1200, 900, []),  # the partner renewed beside older azathioprine
            ("lisinopril", 40, 900, WARNING_DDI_04),  # azathioprine began after the partner's last order: news once
        ],
        ids=["aza-renewed", "established-pair", "new-partner", "partner-renewed", "partner-renewed-after-new-aza"],
    )
    def test_an_order_sign_renewal_is_news_only_for_a_new_pair(
        self, drafted, azathioprine_days, lisinopril_days, expected
    ):
        drafts = [use("MedicationRequest/d", drafted, "draft", True, True, days_ago=0)]
        meds = [
            use("MedicationRequest/a", "azathioprine", days_ago=azathioprine_days),
            use("MedicationRequest/l", "lisinopril", days_ago=lisinopril_days),
        ]
        assert found("order-sign", drafts, meds, RECENT_CBC) == expected

    def test_starting_azathioprine_beside_a_long_standing_partner_is_news(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True, days_ago=0)]
        meds = [use("MedicationRequest/l", "lisinopril", days_ago=900)]
        assert WARNING_DDI_04[0] in found("order-select", drafts, meds, RECENT_CBC)

    def test_a_critical_pair_shows_on_every_renewal(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True, days_ago=0)]
        meds = [
            use("MedicationRequest/a", "azathioprine", days_ago=300),
            use("MedicationRequest/f", "febuxostat", days_ago=900),
        ]
        assert found("order-sign", drafts, meds, RECENT_CBC) == [("DDI-01", "ordered", "critical")]


def test_an_escalation_is_data_only():
    """A rule escalates when one of its `escalations` holds; adding one of a known condition needs no code. Here
    DDI-02 (allopurinol) is given a TPMT escalation it does not ship with."""
    import dataclasses

    from service.record.model import Phenotype

    ddi02 = next(rule for rule in PACK.rules if rule.id == "DDI-02")
    escalation = {"if": "phenotype-in", "gene": "TPMT", "phenotypes": ["Poor Metabolizer"], "indicator": "critical",
                  "source": "cpic-data"}  # fmt: skip
    escalated = dataclasses.replace(ddi02, escalations=(escalation,))
    pack = dataclasses.replace(PACK, rules=tuple(escalated if r is ddi02 else r for r in PACK.rules))
    drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
    allopurinol = [use("MedicationRequest/a", "allopurinol")]
    record = PatientRecord("p1", "order-select", NOW, drafts=drafts, medications=allopurinol, labs=RECENT_CBC)

    def indicator(pack_used, phenotypes):
        record.phenotypes = phenotypes
        found = [(r, f) for r, f in evaluate(pack_used, record) if r.id == "DDI-02"]
        return [f.indicator or r.indicator_for(f.variant) for r, f in found]

    poor = {"TPMT": Phenotype("TPMT", "Poor Metabolizer", "Observation/t (2025-01-01)")}
    assert indicator(PACK, poor) == [ddi02.indicator]  # as shipped: no escalation on DDI-02
    assert indicator(pack, poor) == ["critical"]
    assert indicator(pack, {}) == [ddi02.indicator]  # the condition does not hold: the rule's own indicator
