"""A new rule of a known mechanism is data only: written into a copy of the pack, it passes `aza-cds knowledge
check`, the service asks for what it reads and cards what it finds, with no line of Python added.

The rule is one the pack does not ship: BSR 2017 (as applied by NHS SPS) monitors renal function (creatinine or
eGFR) with the blood counts and liver tests. It reuses MON-02's schedule of liver tests (with each count in the
first three months, then every 3 months), as the guideline does."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

from helpers import AZATHIOPRINE, PACK_DIR, bundle, cbc, hook_request, med_request, observation, post_json

from service.app import create_app
from service.knowledge import check_pack
from service.store import Storage

MON_06 = {
    "id": "MON-06",
    "title": "Renal function with the blood counts",
    "kind": "schedule",
    "hooks": ["patient-view"],
    "drug": "azathioprine",
    "indicator": "info",
    "evidence": [{"source": "bsr-2017", "grade": "S", "supports": "creatinine or eGFR with each blood count"}],
    "parameters": {
        "analytes": {"value": ["creatinine", "egfr"], "source": "bsr-2017"},
        "result_statuses": {"value": ["final", "amended", "corrected"], "source": "aza-cds-default"},
        "phases": {
            "value": [
                {"until_day": 28, "interval_days": 7, "label": "with each weekly blood count in the first month"},
                {"until_day": 90, "interval_days": 14, "label": "with each blood count in months 2 and 3"},
                {"interval_days": 91, "label": "every 3 months after month 3"},
            ],
            "source": "bsr-2017",
        },
        "grace_days": {"value": [2, 4, 14], "source": "aza-cds-default"},
        "lookback_days": {"value": 365, "source": "aza-cds-default"},
    },
    "cards": {
        "overdue": {
            "summary": "Renal function overdue on azathioprine: last creatinine or eGFR {days_since} days ago",
            "detail": "**The last creatinine or eGFR was on {last_date}.** It is due {phase_label}.",
        },
        "none-on-file": {
            "summary": "No creatinine or eGFR in the last {lookback_days} days for a patient on azathioprine",
            "detail": "**No creatinine or eGFR was found{search_scope}.** It is due {phase_label}.",
        },
    },
}
NOW = datetime.now(UTC)


def pack_with_mon_06(tmp_path):
    pack = tmp_path / "cards"
    shutil.copytree(PACK_DIR, pack)
    monitoring = pack / "rules" / "monitoring.json"
    family = json.loads(monitoring.read_text())
    family["rules"].append(MON_06)
    monitoring.write_text(json.dumps(family, indent=2))
    return pack


def day(days_ago: int) -> str:
    return (NOW - timedelta(days=days_ago)).date().isoformat()


def chart(creatinine_days_ago: int | None) -> dict:
    """Azathioprine for 200 days, a CBC and ALT last week; a creatinine when given."""
    labs = cbc(day(7))
    if creatinine_days_ago is not None:
        labs.append(observation("cr", "2160-0", 80, "umol/L", day(creatinine_days_ago)))
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"},
        "medicationRequests": bundle([med_request("a1", AZATHIOPRINE, authored=day(200))]),
        "labs": bundle(labs),
    }
    return hook_request("patient-view", prefetch)


def mon_06_cards(client, creatinine_days_ago):
    body = post_json(client, "/cds-services/azathioprine-patient-view", chart(creatinine_days_ago)).get_json()
    return [card["summary"] for card in body["cards"] if card["source"]["topic"]["code"] == "MON-06"]


def test_a_schedule_rule_added_as_data_passes_the_check_and_makes_its_cards(tmp_path):
    pack = pack_with_mon_06(tmp_path)
    assert check_pack(pack) == []
    settings = {"AZA_CDS_AUTH": "off", "AZA_CDS_KNOWLEDGE_DIR": str(pack)}
    client = create_app(settings, storage=Storage.in_memory()).test_client()
    assert mon_06_cards(client, None) == ["No creatinine or eGFR in the last 365 days for a patient on azathioprine"]
    assert mon_06_cards(client, 120) == ["Renal function overdue on azathioprine: last creatinine or eGFR 120 days ago"]
    assert mon_06_cards(client, 30) == []  # within 3 months and 14 days of slack
    shipped = create_app({"AZA_CDS_AUTH": "off"}, storage=Storage.in_memory()).test_client()
    assert mon_06_cards(shipped, None) == []  # the shipped pack has no such rule
