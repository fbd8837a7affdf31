"""Replay request fixtures in-process or against a running service, show the cards, check expected outcomes.

A fixture is a JSON file: {"title", "service", "request", "expected": {"status", "cards": [{"rule",
"indicator"}]}}. Strings in the request may hold relative dates, `${today-20d}` (a FHIR date) or
`${now-3d}` (a FHIR dateTime), so that fixtures about monitoring intervals never go stale.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

RELATIVE_DATE = re.compile(r"\$\{(today|now)(?:([+-])(\d+)d)?\}")


@dataclass(frozen=True)
class Outcome:
    path: Path
    service: str
    status: int
    body: Any
    problems: tuple[str, ...]  # differences from the fixture's expected outcome


def json_files(paths: list[str]) -> list[Path]:
    """The files named, and the *.json files below the folders named, each folder's in sorted order."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        found += sorted(path.rglob("*.json")) if path.is_dir() else [path]
    return found


def load_fixture(path: Path, now: datetime | None = None) -> dict:
    fixture = orjson.loads(path.read_bytes())
    if not isinstance(fixture, dict):
        raise ValueError("a fixture is a JSON object")
    for key in ("service", "request", "expected"):
        if key not in fixture:
            raise ValueError(f"it has no {key!r}")
    fixture["request"] = expand_dates(fixture["request"], now or datetime.now(UTC))
    return fixture


def expand_dates(value: Any, now: datetime) -> Any:
    if isinstance(value, dict):
        return {key: expand_dates(item, now) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_dates(item, now) for item in value]
    if isinstance(value, str) and "${" in value:
        return RELATIVE_DATE.sub(lambda match: _relative(match, now), value)
    return value


def _relative(match: re.Match, now: datetime) -> str:
    days = int(match.group(3) or 0) * (-1 if match.group(2) == "-" else 1)
    moment = now + timedelta(days=days)
    return moment.date().isoformat() if match.group(1) == "today" else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class InProcess:
    """Sends fixtures to an app built by create_app, storing in memory (a replay keeps nothing)."""

    def __init__(self):
        from service.app import create_app
        from service.store import Storage

        # In-process calls never leave this process, so there is no token to check.
        self._client = create_app({"AZA_CDS_AUTH": "off"}, storage=Storage.in_memory()).test_client()

    def post(self, service: str, request: dict) -> tuple[int, Any]:
        response = self._client.post(
            f"/cds-services/{service}", data=orjson.dumps(request), content_type="application/json"
        )
        return response.status_code, response.get_json(silent=True)


class OverHttp:
    """Sends fixtures to a running service; with a signer, each call carries a fresh JWT for its exact URL."""

    def __init__(self, base_url: str, signer=None):
        self._base = base_url.rstrip("/")
        self._http = httpx.Client(timeout=30)
        self._signer = signer

    def post(self, service: str, request: dict) -> tuple[int, Any]:
        url = f"{self._base}/cds-services/{service}"
        headers = {"Authorization": f"Bearer {self._signer.token(url)}"} if self._signer else {}
        response = self._http.post(url, json=request, headers=headers)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


def replay(path: Path, sender) -> Outcome:
    fixture = load_fixture(path)
    status, body = sender.post(fixture["service"], fixture["request"])
    return Outcome(path, fixture["service"], status, body, tuple(compare(fixture["expected"], status, body)))


def compare(expected: dict, status: int, body: Any) -> list[str]:
    """Differences between the expected status and (rule, indicator) cards and what came back."""
    want_status = expected.get("status", 200)
    if status != want_status:
        return [f"expected HTTP {want_status}, got {status}"]
    if status != 200:
        return []
    want = Counter((card["rule"], card["indicator"]) for card in expected.get("cards", []))
    got = Counter(card_key(card) for card in body.get("cards", []))
    problems = [f"missing card {rule} ({indicator})" for rule, indicator in (want - got).elements()]
    problems += [f"unexpected card {rule} ({indicator})" for rule, indicator in (got - want).elements()]
    return problems


def card_key(card: dict) -> tuple[str, str]:
    return card.get("source", {}).get("topic", {}).get("code", "?"), card.get("indicator", "?")


def print_outcome(outcome: Outcome, check: bool, out=None) -> None:
    out = out or sys.stdout
    verdict = "" if not check else ("  OK" if not outcome.problems else "  DIFFERS")
    print(f"{outcome.path}  {outcome.service}  HTTP {outcome.status}{verdict}", file=out)
    body = outcome.body if isinstance(outcome.body, dict) else {}
    if outcome.status != 200:
        print(f"    {body.get('error', '')}: {body.get('message', outcome.body)}", file=out)
    for card in body.get("cards", []):
        rule, indicator = card_key(card)
        print(f"    [{indicator.upper()}] {card.get('summary')}  ({rule})", file=out)
        for suggestion in card.get("suggestions", []):
            print(f"        suggestion: {suggestion.get('label')}", file=out)
    if check:
        for problem in outcome.problems:
            print(f"    ! {problem}", file=out)
