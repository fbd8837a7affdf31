"""Every request fixture gives its expected outcome, and every 200 answer is strictly valid CDS Hooks 2.0."""

from __future__ import annotations

import json

import pytest
from helpers import FIXTURES, REPO, assert_valid_response, card_keys, post_json

from service.replay import load_fixture

FIXTURE_PATHS = sorted(FIXTURES.rglob("*.json"))


def test_there_are_fixtures_for_every_hook():
    services = {load_fixture(path)["service"] for path in FIXTURE_PATHS}
    assert services == {"azathioprine-patient-view", "azathioprine-order-select", "azathioprine-order-sign"}


@pytest.mark.parametrize("path", FIXTURE_PATHS, ids=lambda path: path.stem)
def test_fixture_outcome(client, path):
    fixture = load_fixture(path)
    response = post_json(client, f"/cds-services/{fixture['service']}", fixture["request"])
    expected = fixture["expected"]
    assert response.status_code == expected["status"], response.get_json()
    body = response.get_json()
    if response.status_code == 200:
        assert_valid_response(body)
        assert card_keys(body) == sorted((card["rule"], card["indicator"]) for card in expected["cards"])
    else:
        assert body["error"] and body["message"]


def test_sandbox_fixtures_are_the_captured_requests_unchanged():
    """The two sandbox fixtures must stay genuine third-party vectors."""
    lines = (REPO / "tests" / "vectors" / "sandbox" / "captured-requests.jsonl").read_text().splitlines()
    captured = [json.loads(line) for line in lines]
    bodies = [item["body"] for item in captured if item["method"] == "POST" and "hook" in (item["body"] or {})]
    for name in ("sandbox-captured-patient-view", "sandbox-captured-order-sign"):
        assert load_fixture(FIXTURES / f"{name}.json")["request"] in bodies
