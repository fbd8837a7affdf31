"""Rules as pure functions of a record literal. Expected outcomes come from the cited sources:
the ULORIC label (febuxostat contraindicated with azathioprine), the azathioprine label (allopurinol needs a dose
cut; CBC weekly in month 1, twice monthly in months 2-3, monthly after), plus the pack's documented slack days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers import shipped_pack

from service.record import LabResult, MedicationUse, PatientRecord
from service.rules import evaluate

PACK = shipped_pack()
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def use(ref, concept, status="active", draft=False, selected=False, days_ago=None, rid=True):
    return MedicationUse(
        reference=ref,
        resource_type=ref.split("/")[0],
        resource_id=ref.split("/")[1] if rid else None,
        status=status,
        concepts=frozenset({concept} if concept else ()),
        label=f"{concept} label",
        evidence="RxNorm code test",
        start=NOW - timedelta(days=days_ago) if days_ago is not None else None,
        is_draft=draft,
        is_selected=selected,
    )


def cbc(days_ago, status="final", analytes=("wbc", "platelets")):
    when = NOW - timedelta(days=days_ago)
    return [LabResult(a, "x", 5.0, "10*9/L", when, status) for a in analytes]


def found(hook, drafts=(), meds=(), labs=(), only=("DDI-", "MON-01")):
    """(rule, variant, indicator) of the findings of the rules whose ids start with one of `only`."""
    record = PatientRecord("p1", hook, NOW, drafts=list(drafts), medications=list(meds), labs=list(labs))
    return sorted(
        (rule.id, finding.variant, finding.indicator or rule.indicator_for(finding.variant))
        for rule, finding in evaluate(PACK, record)
        if rule.id.startswith(only)
    )


RECENT_CBC = cbc(1)


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


class TestCbcSchedule:
    @pytest.mark.parametrize(
        ("therapy_day", "cbc_days_ago", "overdue"),
        [
            (14, 9, False),
            (14, 10, True),  # weekly in month 1: 7 days + 2 days slack
            (28, 10, True),
            (60, 18, False),
            (60, 19, True),  # twice monthly in months 2-3: 14 + 4
            (90, 19, True),
            (200, 37, False),
            (200, 38, True),  # monthly after month 3: 30 + 7
        ],
    )
    def test_label_schedule_with_documented_slack(self, therapy_day, cbc_days_ago, overdue):
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=therapy_day)]
        expected = [("MON-01", "overdue", "warning")] if overdue else []
        assert found("patient-view", meds=meds, labs=cbc(cbc_days_ago)) == expected

    def test_therapy_start_is_the_earliest_order_on_file(self):
        meds = [
            use("MedicationRequest/new", "azathioprine", days_ago=10),
            use("MedicationRequest/old", "azathioprine", "completed", days_ago=500),
        ]
        assert found("patient-view", meds=meds, labs=cbc(20)) == []  # monthly phase, not weekly

    def test_a_count_needs_white_cells_and_platelets_on_the_same_day(self):
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=200)]
        labs = cbc(3, analytes=("wbc",)) + cbc(4, analytes=("platelets",)) + cbc(60)
        assert found("patient-view", meds=meds, labs=labs) == [("MON-01", "overdue", "warning")]

    @pytest.mark.parametrize("status", ["preliminary", "registered", "cancelled", "entered-in-error"])
    def test_results_that_are_not_final_do_not_count(self, status):
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=200)]
        assert found("patient-view", meds=meds, labs=cbc(2, status=status)) == [("MON-01", "none-on-file", "warning")]

    def test_future_dated_results_do_not_count(self):
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=200)]
        assert found("patient-view", meds=meds, labs=cbc(-5)) == [("MON-01", "none-on-file", "warning")]

    def test_unknown_start_assumes_the_monthly_interval(self):
        meds = [use("MedicationRequest/a", "azathioprine")]
        assert found("patient-view", meds=meds, labs=cbc(37)) == []
        assert found("patient-view", meds=meds, labs=cbc(38)) == [("MON-01", "overdue", "warning")]

    def test_stopped_azathioprine_is_not_monitored_on_patient_view(self):
        meds = [use("MedicationRequest/a", "azathioprine", "stopped", days_ago=200)]
        assert found("patient-view", meds=meds) == []

    @pytest.mark.parametrize(("cbc_days_ago", "card"), [(9, False), (10, True), (None, True)])
    def test_new_start_needs_a_count_within_the_first_weekly_window(self, cbc_days_ago, card):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        labs = cbc(cbc_days_ago) if cbc_days_ago is not None else []
        assert found("order-select", drafts, labs=labs) == ([("MON-01", "new-start", "warning")] if card else [])

    def test_recent_course_makes_a_draft_a_continuation_not_a_new_start(self):
        """new_start_gap_days (90, package default): an order started 60 days ago continues the course."""
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        meds = [use("MedicationRequest/old", "azathioprine", "completed", days_ago=60)]
        assert found("order-select", drafts, meds, labs=cbc(15)) == []  # day 60: every 14 days + 4 slack
        assert found("order-select", drafts, meds, labs=cbc(19)) == [("MON-01", "overdue", "warning")]

    def test_a_course_that_ended_long_ago_makes_the_draft_a_new_start(self):
        drafts = [use("MedicationRequest/d", "azathioprine", "draft", True, True)]
        meds = [use("MedicationRequest/old", "azathioprine", "completed", days_ago=200)]
        assert found("order-select", drafts, meds, labs=cbc(20)) == [("MON-01", "new-start", "warning")]

    def test_order_hooks_check_monitoring_only_when_azathioprine_is_ordered(self):
        drafts = [use("MedicationRequest/l", None, "draft", True, True)]  # a drug outside the pack
        meds = [use("MedicationRequest/a", "azathioprine", days_ago=200)]
        assert found("order-select", drafts, meds, labs=cbc(60)) == []


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
