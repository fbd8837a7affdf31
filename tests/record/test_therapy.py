"""Therapy continuity (record/therapy.py): new start, restart, renewal and dose change, from orders, supply,
repeats, priorPrescription and statements. The 90-day restart gap is the pack's (manifest `therapy`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.record.daily_dose import DailyDose
from service.record.model import MedicationUse
from service.record.therapy import DOSE_CHANGE, NEW_START, ONGOING, RENEWAL, RESTART, continuity

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
GAP = 90


def use(ref, status="active", days_ago=None, mg=None, supply_days_left=None, prior=None, draft=False):
    return MedicationUse(
        reference=ref,
        resource_type="MedicationRequest",
        resource_id=ref.split("/")[1],
        status=status,
        concepts=frozenset({"azathioprine"}),
        label="azathioprine",
        evidence="test",
        start=NOW - timedelta(days=days_ago) if days_ago is not None else None,
        is_draft=draft,
        dose=DailyDose(high=mg, low=mg) if mg else DailyDose(problem="none"),
        supply_end=NOW + timedelta(days=supply_days_left) if supply_days_left is not None else None,
        prior=prior,
    )


def draft(mg=100, prior=None):
    return use("MedicationRequest/draft", "draft", days_ago=0, mg=mg, prior=prior, draft=True)


def test_no_earlier_use_is_a_new_start():
    assert continuity(draft(), [], NOW, GAP).state == NEW_START


def test_an_active_order_at_the_same_dose_is_renewed():
    therapy = continuity(draft(), [use("MedicationRequest/a", days_ago=400, mg=100)], NOW, GAP)
    assert therapy.state == RENEWAL and therapy.since == NOW - timedelta(days=400)


def test_another_daily_dose_is_a_dose_change():
    assert continuity(draft(150), [use("MedicationRequest/a", days_ago=400, mg=100)], NOW, GAP).state == DOSE_CHANGE


def test_an_unknown_dose_on_either_side_is_not_called_a_change():
    assert continuity(draft(None), [use("MedicationRequest/a", days_ago=400, mg=100)], NOW, GAP).state == RENEWAL


@pytest.mark.parametrize(("left", "state"), [(60, RENEWAL), (-80, RENEWAL), (-100, RESTART)])
def test_a_completed_order_counts_while_its_supply_runs_and_for_the_gap_after(left, state):
    on_file = [use("MedicationRequest/a", "completed", days_ago=200, supply_days_left=left)]
    assert continuity(draft(), on_file, NOW, GAP).state == state


def test_a_completed_order_without_supply_lasted_until_the_next_order():
    on_file = [use("MedicationRequest/old", "completed", days_ago=300), use("MedicationRequest/new", days_ago=20)]
    therapy = continuity(None, on_file, NOW, GAP)
    assert therapy.state == ONGOING and therapy.since == NOW - timedelta(days=300)


def test_use_that_ended_long_ago_makes_a_restart_and_the_course_starts_again():
    on_file = [use("MedicationRequest/a", "stopped", days_ago=400)]
    therapy = continuity(draft(), on_file, NOW, GAP)
    assert therapy.state == RESTART and therapy.since == NOW


def test_a_named_prior_prescription_is_a_renewal_even_without_supply_dates():
    on_file = [use("MedicationRequest/a", "completed", days_ago=200, mg=100)]
    therapy = continuity(draft(prior="MedicationRequest/a"), on_file, NOW, GAP)
    assert therapy.state == RENEWAL and therapy.previous.reference == "MedicationRequest/a"


def test_a_named_prior_that_was_stopped_long_ago_is_a_restart():
    on_file = [use("MedicationRequest/a", "stopped", days_ago=400)]
    assert continuity(draft(prior="MedicationRequest/a"), on_file, NOW, GAP).state == RESTART


def test_a_prior_the_ehr_did_not_send_is_taken_at_its_word():
    assert continuity(draft(prior="MedicationRequest/elsewhere"), [], NOW, GAP).state == RENEWAL


def test_an_active_statement_without_a_date_keeps_the_course_open_but_its_start_unknown():
    on_file = [use("MedicationStatement/s")]
    therapy = continuity(draft(), on_file, NOW, GAP)
    assert therapy.state == RENEWAL and therapy.since is None
