"""Schedules on record literals: the azathioprine label's CBC schedule (weekly in month 1, twice monthly in months
2-3, monthly after) with the pack's documented slack days; liver tests (BSR); an INR after a change on a coumarin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rule_records import NOW, PACK, cbc, found, use

from service.record import CodedEntry, LabResult, PatientRecord
from service.rules import evaluate


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


def liver(days_ago, value=30.0, analyte="alt", high=None, hours=0):
    when = NOW - timedelta(days=days_ago) + timedelta(hours=hours)
    return LabResult(analyte, "x", value, "U/L", when, "final", high=high)


def mon02(labs=(), therapy_day=200, conditions=()):
    """MON-02's findings on patient-view for a patient on azathioprine since `therapy_day` days."""
    record = PatientRecord("p1", "patient-view", NOW, medications=[use("MedicationRequest/a", "azathioprine",
                           days_ago=therapy_day)], labs=list(labs), conditions=list(conditions))  # fmt: skip
    return [(f.variant, f.values) for r, f in evaluate(PACK, record) if r.id == "MON-02"]


class TestLiverTests:
    """BSR: ALT or AST with each blood count in months 1 to 3, then every 3 months (the pack: 91 days, 14 of slack)."""

    @pytest.mark.parametrize(
        ("therapy_day", "days_ago", "overdue"),
        [(14, 9, False), (14, 10, True), (60, 18, False), (60, 19, True), (200, 105, False), (200, 106, True)],
    )
    def test_the_phase_sets_the_interval(self, therapy_day, days_ago, overdue):
        found = mon02([liver(days_ago)], therapy_day)
        assert found == ([("overdue", found[0][1])] if overdue else [])
        if overdue:
            assert found[0][1]["days_since"] == str(days_ago)

    def test_no_liver_test_in_the_look_back_is_said(self):
        assert [variant for variant, _ in mon02([liver(400)])] == ["none-on-file"]

    def test_a_liver_test_dated_later_today_counts_as_a_cbc_does(self):
        """A result stamped a few hours ahead (another time zone's clock) counts, up to a day ahead, as for MON-01;
        before the schedules were one mechanism, MON-02 alone ignored it."""
        assert mon02([liver(0, hours=6)]) == []
        assert [variant for variant, _ in mon02([liver(0, hours=30)])] == ["none-on-file"]

    def test_the_last_liver_test_is_the_latest_day_a_result_gives(self):
        """Days are calendar dates as each result gives them (its own offset), as for a CBC: an AST dated the day
        after an ALT is the later test even when its instant is earlier."""
        from datetime import datetime, timezone

        later_day = (NOW - timedelta(days=105)).date()  # 91 days and 14 of slack after month 3: just in time
        alt = datetime.combine(later_day - timedelta(days=1), datetime.min.time(), timezone(timedelta(hours=-5)))
        ast = datetime.combine(later_day, datetime.min.time(), timezone(timedelta(hours=9)))
        results = [
            LabResult("alt", "x", 30.0, "U/L", alt + timedelta(hours=23, minutes=30), "final"),  # 04:30 UTC next day
            LabResult("ast", "x", 30.0, "U/L", ast + timedelta(hours=2), "final"),  # 17:00 UTC the day before
        ]
        assert mon02(results) == []

    def test_jaundice_with_raised_liver_tests_is_a_card_of_its_own(self):
        jaundice = CodedEntry(frozenset({"jaundice"}), "Jaundice", "active", current=frozenset({"jaundice"}))
        raised = mon02([liver(1, 150.0)], conditions=[jaundice])
        assert [variant for variant, _ in raised] == ["raised-with-jaundice"]
        # bilirubin counts above its own reference range only; ALT and AST also above the fixed 100 U/L
        assert mon02([liver(1), liver(1, 30.0, "bilirubin", high=21.0)], conditions=[jaundice])[0][0] == (
            "raised-with-jaundice"
        )
        assert mon02([liver(1), liver(1, 30.0, "bilirubin")], conditions=[jaundice]) == []
        assert mon02([liver(1, 150.0)]) == []  # raised without jaundice: MON-03's business


def inr(days_ago, value=2.4, hours=0):
    return LabResult("inr", "x", value, "{INR}", NOW - timedelta(days=days_ago) + timedelta(hours=hours), "final")


def mon05(labs=(), aza_days_ago=None):
    """MON-05 on order-select: azathioprine drafted beside active warfarin (continuing an order of `aza_days_ago`
    days, at the same dose, when given)."""
    draft = use("MedicationRequest/d", "azathioprine", "draft", True, True, days_ago=0)
    meds = [use("MedicationRequest/w", "warfarin", days_ago=300)]
    if aza_days_ago is not None:
        meds.append(use("MedicationRequest/a", "azathioprine", days_ago=aza_days_ago))
    record = PatientRecord("p1", "order-select", NOW, drafts=[draft], medications=meds, labs=list(labs))
    return [(r, f) for r, f in evaluate(PACK, record) if r.id == "MON-05"]


class TestInrAfterAChange:
    """Azathioprine weakens coumarin anticoagulation: an INR within a week of starting or changing it (the pack)."""

    def test_a_start_beside_warfarin_without_a_recent_inr_asks_for_one(self):
        from service.render import render_cards

        ((rule, finding),) = mon05()
        assert finding.variant == "none-on-file" and finding.values["other_drug"] == "warfarin"
        (card,) = render_cards(PACK, [(rule, finding)], "p1")
        assert "last INR: none in the last 90 days" in card["detail"]
        ((rule, finding),) = mon05([inr(10)])
        (card,) = render_cards(PACK, [(rule, finding)], "p1")
        assert f"last INR: 2.4 on {(NOW - timedelta(days=10)).date()}" in card["detail"]
        assert card["summary"] == "Azathioprine change with warfarin: no INR in the last 7 days, check it"

    def test_a_recent_inr_or_an_unchanged_renewal_is_quiet(self):
        assert mon05([inr(3)]) == []
        assert mon05(aza_days_ago=20) == []  # a renewal at the same dose is not a change

    def test_the_week_is_counted_in_calendar_days_as_for_the_other_schedules(self):
        """An INR from 8 calendar days ago is not within the week, however few hours past 7 days it is; before the
        schedules were one mechanism, MON-05 alone counted elapsed days and called it recent."""
        assert mon05([inr(7)]) == []
        assert [f.variant for _, f in mon05([inr(8, hours=6)])] == ["overdue"]
