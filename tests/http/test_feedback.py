"""POST /cds-services/{id}/feedback: validated, stored, idempotent, nothing lost under concurrency."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import post_json, running_serve
from sqlalchemy import text

from service.http.state import state_of
from service.store import SqlFeedbackStore, open_database


@pytest.fixture
def app(make_app):
    """These tests are about the database, so the app stores in one (conftest's `app` stores in memory)."""
    return make_app()


URL = "/cds-services/azathioprine-order-select/feedback"


def item(outcome="overridden", **extra):
    base = {"card": str(uuid.uuid4()), "outcome": outcome, "outcomeTimestamp": "2026-11-29T10:05:31Z"}
    return base | extra


def stored_count(app) -> int:
    return state_of(app).storage.feedback.count()


def test_accepted_and_overridden_feedback_is_stored(app, client):
    body = {
        "feedback": [
            item("accepted", acceptedSuggestions=[{"id": str(uuid.uuid4())}]),
            item(
                overrideReason={
                    "reason": {
                        "system": "urn:aza-cds:override-reason",
                        "code": "specialist-approved",
                        "display": "Specialist-directed combination",
                    },
                    "userComment": "per rheum",
                }
            ),
            item(),  # sandbox "Dismiss": no reason at all
            item(overrideReason={"reason": {"code": "other-drug-stopped", "system": "urn:aza-cds:override-reason"}}),
        ]
    }
    response = post_json(client, URL, body)
    assert response.status_code == 200
    assert response.get_json() == {"stored": 4, "duplicates": 0}
    assert stored_count(app) == 4


def test_each_feedback_post_leaves_one_log_line(client, caplog):
    post_json(client, URL, {"feedback": [item(), item()]})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("feedback ")]
    assert lines == ["feedback service=azathioprine-order-select items=2 stored=2 duplicates=0 iss=- jti=-"]


def test_repeated_feedback_is_stored_once(app, client):
    body = {"feedback": [item()]}
    assert post_json(client, URL, body).get_json() == {"stored": 1, "duplicates": 0}
    assert post_json(client, URL, body).get_json() == {"stored": 0, "duplicates": 1}
    assert stored_count(app) == 1


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({}, "$"),
        ({"feedback": []}, "$.feedback"),
        ({"feedback": [item("accepted")]}, "$.feedback[0]"),
        ({"feedback": [item(outcome="ignored")]}, "$.feedback[0].outcome"),
        ({"feedback": [item(outcomeTimestamp="yesterday")]}, "$.feedback[0].outcomeTimestamp"),
        ({"feedback": [item(outcomeTimestamp="2026-13-45T99:00:00Z")]}, "$.feedback[0].outcomeTimestamp"),
        (
            {"feedback": [item(overrideReason={"reason": {"display": "no code"}})]},
            "$.feedback[0].overrideReason.reason",
        ),
        ({"feedback": [item(outcomeTimestamp="9999-12-31T23:59:59-01:00")]}, "$.feedback[0].outcomeTimestamp"),
        ({"feedback": [item(outcomeTimestamp="0001-01-01T00:00:00+01:00")]}, "$.feedback[0].outcomeTimestamp"),
        ({"feedback": [item(card="a\u0000b")]}, "$.feedback[0].card"),
        ({"feedback": [item(overrideReason={"userComment": "x\u0000y"})]}, "$.feedback[0].overrideReason.userComment"),
        (
            {"feedback": [item(overrideReason={"reason": {"code": "c\u0000"}})]},
            "$.feedback[0].overrideReason.reason.code",
        ),
    ],
    ids=[
        "no-feedback",
        "empty-list",
        "accepted-without-suggestions",
        "bad-outcome",
        "timestamp-text",
        "timestamp-impossible",
        "reason-without-code",
        "timestamp-past-year-9999-in-utc",
        "timestamp-before-year-1-in-utc",
        "nul-in-card",
        "nul-in-comment",
        "nul-in-reason-code",
    ],
)
def test_invalid_feedback_is_400_with_path_and_nothing_stored(app, client, body, path):
    response = post_json(client, URL, body)
    assert response.status_code == 400
    assert response.get_json()["path"] == path
    assert stored_count(app) == 0


def test_a_batch_with_one_bad_item_stores_nothing(app, client):
    response = post_json(client, URL, {"feedback": [item(), item(outcome="bad")]})
    assert response.status_code == 400 and stored_count(app) == 0


def test_feedback_during_a_database_outage_is_503_and_stored_on_retry(app, client):
    item = {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-29T10:00:00Z"}
    path = "/cds-services/azathioprine-order-select/feedback"
    database = state_of(app).storage.engine
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE feedback RENAME TO feedback_away"))
    response = post_json(client, path, {"feedback": [item]})
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE feedback_away RENAME TO feedback"))
    assert post_json(client, path, {"feedback": [item]}).status_code == 200
    with database.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM feedback")).scalar_one() == 1


def test_feedback_for_an_unknown_service_is_404(client):
    assert post_json(client, "/cds-services/nope/feedback", {"feedback": [item()]}).status_code == 404


def test_concurrent_writers_sharing_one_database_lose_nothing(make_app):
    """Two app instances (as two gunicorn workers would be) write to the same SQLite file at once."""
    apps = [make_app(), make_app()]
    items = [item() for _ in range(120)]

    def send(index):
        client = apps[index % 2].test_client()
        batch = {"feedback": [items[index], items[(index + 1) % len(items)]]}  # every item sent twice overall
        return post_json(client, URL, batch).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(len(items))))
    assert statuses == [200] * len(items)
    assert stored_count(apps[0]) == len(items)


def test_store_refuses_unsupported_databases(tmp_path):
    class FakeDialect:
        name = "oracle"

    class FakeEngine:
        dialect = FakeDialect()

    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        SqlFeedbackStore(FakeEngine())
    assert open_database(f"sqlite:///{tmp_path}/x/db.sqlite3").dialect.name == "sqlite"


def test_several_workers_and_a_killed_one_lose_nothing(tmp_path):
    """Three gunicorn workers share one SQLite file; eight clients post at once while a worker is SIGKILLed.
    A client resends whatever was not acknowledged (feedback is idempotent), and every item ends up stored once."""
    import os
    import signal
    import time
    from pathlib import Path

    import httpx

    items = [item() for _ in range(1500)]
    batches = [items[i : i + 5] for i in range(0, len(items), 5)]
    acknowledged = []
    # One client for all threads: a client per post would spend ~30 ms building a TLS context it never uses.
    with running_serve(tmp_path, workers=3) as (base, server), httpx.Client(timeout=5) as http:
        url = f"{base}/cds-services/azathioprine-order-sign/feedback"

        def send(batch):
            for attempt in range(20):
                try:
                    if http.post(url, json={"feedback": batch}).status_code == 200:
                        acknowledged.append(1)
                        return True
                except httpx.TransportError:
                    time.sleep(0.05 * (attempt + 1))  # the worker died with the request: send it again
            return False

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = pool.map(send, batches)
            time.sleep(0.05)  # well inside the ~300 batches
            children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
            os.kill(int(children[0]), signal.SIGKILL)  # a worker dies mid-run
            acknowledged_at_kill = len(acknowledged)
            assert all(results)
    assert acknowledged_at_kill < len(batches)  # the kill happened while clients were still posting
    store = SqlFeedbackStore(open_database(f"sqlite:///{tmp_path}/aza-cds.sqlite3"))
    assert store.count() == len(items)


FEEDBACK_JUNK = [
    *(None, "", "x", [], {}, 0, -1, 1e308, True, "\u0000", "a\u0000b", "\u0007\u001f", "x" * 5000),
    *("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2026-02-30T00:00:00Z"),
]


def test_mutated_feedback_is_stored_or_refused_never_a_5xx(app, client):
    """Issue 13 (6): extreme timestamps gave 500, NUL characters 503 'database unavailable' on PostgreSQL."""
    import random

    rng = random.Random("feedback-fuzz")
    for _ in range(300):
        body = {"feedback": [item(overrideReason={"reason": {"code": "c", "display": "d"}, "userComment": "n"})]}
        entry = body["feedback"][0]
        reason = entry["overrideReason"]["reason"]
        targets = [(entry, "card"), (entry, "outcomeTimestamp"), (entry["overrideReason"], "userComment")]
        targets += [(reason, "code"), (reason, "display")]
        for target, key in rng.sample(targets, rng.randint(1, 3)):
            target[key] = rng.choice(FEEDBACK_JUNK)
        response = post_json(client, URL, body)
        assert response.status_code in (200, 400), (response.status_code, body)


def test_overlapping_batches_in_another_order_do_not_deadlock(app, make_app):
    """Independent check of issue 13: the same items posted at once in reverse order deadlocked on PostgreSQL, and
    one client got 503 'database unavailable'. Rows are now written in key order."""
    items = [item() for _ in range(30)]
    clients = [make_app().test_client() for _ in range(2)]  # two app instances sharing the database
    for _ in range(5):
        bodies = [{"feedback": items}, {"feedback": list(reversed(items))}]
        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(
                pool.map(lambda pair: post_json(pair[0], URL, pair[1]).status_code, zip(clients, bodies, strict=True))
            )
        assert statuses == [200, 200]
    assert stored_count(app) == 30


def test_an_item_repeated_within_one_batch_is_stored_once(app, client):
    once = item()
    assert post_json(client, URL, {"feedback": [once, once]}).get_json() == {"stored": 1, "duplicates": 1}
