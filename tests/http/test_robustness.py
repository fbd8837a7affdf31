"""Messy data never crashes the service: the FHIR R4 specification's own examples, and mutated fixtures."""

from __future__ import annotations

import copy
import json
import random

import pytest
from helpers import AZATHIOPRINE, FIXTURES, REPO, assert_valid_response, bundle, hook_request, med_request, post_json

from service.replay import load_fixture

EXAMPLES = REPO / "fixtures" / "fhir" / "r4-examples"


def examples(prefix: str) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(EXAMPLES.glob(f"{prefix}*.json"))]


ORDERS = examples("MedicationRequest")
STATEMENTS = examples("MedicationStatement")
MEDICATIONS = examples("Medication-")
OBSERVATIONS = examples("Observation")


def full_prefetch() -> dict:
    return {
        "patient": examples("Patient-")[0],
        "medicationRequests": bundle(ORDERS + MEDICATIONS),
        "medicationStatements": bundle(STATEMENTS),
        "labs": bundle(OBSERVATIONS),
        "conditions": bundle(examples("Condition")),
        "allergies": bundle(examples("AllergyIntolerance")),
    }


def test_the_examples_are_there():
    assert len(ORDERS) >= 30 and len(STATEMENTS) >= 5 and len(OBSERVATIONS) >= 50


def test_every_example_order_as_a_draft_on_order_sign(client):
    drafts = [dict(order, status="draft") for order in ORDERS] + [med_request("aza", AZATHIOPRINE, status="draft")]
    response = post_json(
        client, "/cds-services/azathioprine-order-sign", hook_request("order-sign", full_prefetch(), drafts=drafts)
    )
    assert response.status_code == 200, response.get_json()
    assert_valid_response(response.get_json())


@pytest.mark.parametrize("order", ORDERS + STATEMENTS, ids=lambda r: f"{r['resourceType']}-{r['id']}")
def test_each_example_medication_selected_and_on_file(client, order):
    draft = dict(order, resourceType="MedicationRequest", status="draft", id="sel")
    prefetch = full_prefetch() | {"medicationRequests": bundle([order, med_request("aza", AZATHIOPRINE), *MEDICATIONS])}
    body = hook_request("order-select", prefetch, drafts=[draft], selections=["MedicationRequest/sel"])
    response = post_json(client, "/cds-services/azathioprine-order-select", body)
    assert response.status_code == 200, response.get_json()
    assert_valid_response(response.get_json())


JUNK = [None, "", "x", [], {}, [None], {"coding": "no"}, 0, -1, 1e308, True, "2026-99-99", "../../etc", "<b>x</b>",
        "a\u0000b", "\u0000", "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"]  # fmt: skip


def mutate(document, rng: random.Random, count: int):
    """Replace `count` random values anywhere inside the prefetch and draft orders with junk."""
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((*path, key))
                walk(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                paths.append((*path, index))
                walk(value, (*path, index))

    for root in ("prefetch", "context"):
        walk(document.get(root, {}), (root,))
    for path in rng.sample(paths, min(count, len(paths))):
        target = document
        try:
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = copy.deepcopy(rng.choice(JUNK))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this branch
    return document


SMALL_FIXTURES = sorted(FIXTURES.glob("*.json")) + sorted((FIXTURES / "rules").glob("*.json"))


@pytest.mark.parametrize("path", SMALL_FIXTURES, ids=lambda p: p.stem)
def test_mutated_fixtures_never_get_a_500(client, path):
    fixture = load_fixture(path)
    rng = random.Random(path.stem)  # deterministic per fixture
    for _ in range(15):
        body = mutate(copy.deepcopy(fixture["request"]), rng, count=rng.randint(1, 6))
        response = post_json(client, f"/cds-services/{fixture['service']}", body)
        assert response.status_code in (200, 400, 412), (response.status_code, response.get_json())
        if response.status_code == 200:
            assert_valid_response(response.get_json())
        else:
            assert response.get_json()["message"]


def test_fast_and_readable_validators_agree(client):
    """jsonschema-rs accepts on the hot path (and in the tests' response checks), python-jsonschema explains
    refusals: they must judge requests and responses alike."""
    from service.protocol.validation import _fast, request_validator, validator

    rng = random.Random("agree")
    checked = 0
    for path in SMALL_FIXTURES:
        fixture = load_fixture(path)
        hook = fixture["request"]["hook"]
        fast, slow = _fast(f"request:{hook}"), request_validator(hook)
        for attempt in range(8):
            body = fixture["request"] if attempt == 0 else mutate(copy.deepcopy(fixture["request"]), rng, 3)
            assert fast.is_valid(body) == slow.is_valid(body), (path.stem, attempt)
            checked += 1
        answer = post_json(client, f"/cds-services/{fixture['service']}", fixture["request"]).get_json()
        for attempt in range(4):
            response = answer if attempt == 0 else mutate_cards(copy.deepcopy(answer), rng)
            assert _fast("response").is_valid(response) == validator("response").is_valid(response), path.stem
            checked += 1
    assert checked > 700


def mutate_cards(response: dict, rng: random.Random) -> dict:
    """Replace one random value inside the cards with junk (a response that may no longer be valid)."""
    return mutate({"prefetch": response}, rng, 1)["prefetch"]
