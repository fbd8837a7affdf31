"""The audit store: rows queued by hook calls reach the database in the background, and none is lost to an outage."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from helpers import FIXTURES, post_json
from sqlalchemy import func, select, text

from service.http.state import state_of
from service.replay import load_fixture
from service.store import audit as audit_module
from service.store.models import audit, audit_cards


@pytest.fixture
def app(make_app):
    """These tests are about the database, so the app stores in one (conftest's `app` stores in memory)."""
    return make_app()


FEBUXOSTAT_CASE = FIXTURES / "order-select-azathioprine-while-on-febuxostat.json"  # DDI-01 critical + PREC-05 info


def call_febuxostat_case(app) -> None:
    fixture = load_fixture(FEBUXOSTAT_CASE)
    response = post_json(app.test_client(), f"/cds-services/{fixture['service']}", fixture["request"])
    assert response.status_code == 200 and len(response.get_json()["cards"]) == 2


def counts(app) -> tuple[int, int]:
    with state_of(app).storage.engine.connect() as connection:
        calls = connection.execute(select(func.count()).select_from(audit)).scalar_one()
        cards = connection.execute(select(func.count()).select_from(audit_cards)).scalar_one()
    return calls, cards


def row(hook_instance: str) -> dict:
    return {
        "at": datetime.now(UTC), "hook_instance": hook_instance, "service_id": "s", "patient_hash": "h",
        "status": 200, "latency_ms": 1.0, "pack_version": "0.1.1",
    }  # fmt: skip


def test_rows_reach_the_database_without_anyone_flushing(app):
    call_febuxostat_case(app)
    deadline = time.monotonic() + 5
    while counts(app) != (1, 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert counts(app) == (1, 2)


def test_zero_interval_writes_during_the_call(make_app):
    app = make_app(audit_flush_seconds="0")
    call_febuxostat_case(app)
    assert counts(app) == (1, 2)


def test_an_outage_keeps_the_rows_queued_until_the_database_is_back(app, caplog):
    database, store = state_of(app).storage.engine, state_of(app).storage.audit
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE audit RENAME TO audit_away"))
    call_febuxostat_case(app)  # the cards still go out
    store.flush()
    assert any(r.getMessage().startswith("audit write failed") for r in caplog.records)
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE audit_away RENAME TO audit"))
    store.flush()
    assert counts(app) == (1, 2)


def test_a_long_outage_drops_the_oldest_rows_and_says_so(app, caplog, monkeypatch):
    monkeypatch.setattr(audit_module, "MAX_QUEUED", 2)
    database, store = state_of(app).storage.engine, state_of(app).storage.audit
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE audit RENAME TO audit_away"))
    for name in ("first", "second", "third"):
        store.record(row(name), [])
        store.flush()
    assert "1 dropped" in caplog.records[-1].getMessage()
    with database.begin() as connection:
        connection.execute(text("ALTER TABLE audit_away RENAME TO audit"))
    store.flush()
    with database.connect() as connection:
        assert connection.execute(select(audit.c.hook_instance)).scalars().all() == ["second", "third"]


def test_close_writes_what_is_queued_and_later_rows_go_straight_in(make_app):
    app = make_app(audit_flush_seconds="60")  # the writer would wait a minute
    store = state_of(app).storage.audit
    store.record(row("queued"), [])
    store.close()
    store.record(row("after-close"), [])
    with state_of(app).storage.engine.connect() as connection:
        assert connection.execute(select(audit.c.hook_instance)).scalars().all() == ["queued", "after-close"]


@pytest.mark.parametrize("memory_url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_written_during_the_call(make_app, memory_url):
    app = make_app(database_url=memory_url)  # a writer thread would see another, empty, in-memory database
    call_febuxostat_case(app)
    assert counts(app) == (1, 2)


def test_a_gunicorn_worker_writes_its_queue_as_it_exits(make_app):
    from types import SimpleNamespace

    from service.serve import _worker_exiting

    app = make_app(audit_flush_seconds="60")
    state_of(app).storage.audit.record(row("last-call"), [])
    _worker_exiting(None, SimpleNamespace(app=SimpleNamespace(callable=app)))
    assert counts(app) == (1, 0)


def test_sqlite_writers_take_turns_through_a_file_lock(app, tmp_path):
    """A writer waits for the lock held by another process (here: another descriptor), then writes at once."""
    import fcntl
    import os
    import threading

    from service.store import SqlTokenIdStore

    engine = state_of(app).storage.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the file lock is for SQLite files")
    other_process = os.open(engine.url.database + ".writers", os.O_RDWR | os.O_CREAT)
    fcntl.flock(other_process, fcntl.LOCK_EX)
    results = []
    writer = threading.Thread(target=lambda: results.append(SqlTokenIdStore(engine).first_use("iss", "j1", 1e10)))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive() and not results  # waiting for its turn
    fcntl.flock(other_process, fcntl.LOCK_UN)
    os.close(other_process)
    writer.join(5)
    assert results == [True]


def test_a_row_the_database_refuses_is_dropped_alone_and_the_trail_goes_on(app, caplog):
    """Issue 13 (2): one poison row used to stay at the head of the queue and block every later row."""
    store = state_of(app).storage.audit
    card = {"uuid": "same-uuid", "indicator": "info", "source": {"topic": {"code": "PREC-05"}}}
    store.record(row("first"), [card])
    store.record(row("second"), [card])  # the same card uuid again: the database refuses it (primary key)
    store.record(row("third"), [])
    store.flush()
    with state_of(app).storage.engine.connect() as connection:
        written = sorted(connection.execute(select(audit.c.hook_instance)).scalars())
    assert written == ["first", "third"] and store.poison_rows == 1
    assert any(r.getMessage().startswith("audit row dropped") for r in caplog.records)
    store.record(row("fourth"), [])
    store.flush()
    assert counts(app)[0] == 3  # nothing left queued behind the dropped row


def test_a_nul_character_is_refused_at_the_door_with_its_path(app):
    fixture = load_fixture(FEBUXOSTAT_CASE)
    fixture["request"]["hookInstance"] = "x\u0000y"
    response = post_json(app.test_client(), f"/cds-services/{fixture['service']}", fixture["request"])
    assert response.status_code == 400 and response.get_json()["path"] == "$.hookInstance"


def test_a_nul_that_reaches_the_store_cannot_block_later_rows(app):
    """Defence in depth behind the schema: PostgreSQL cannot store NUL in text and refuses the row as data."""
    store = state_of(app).storage.audit
    store.record(row("x\u0000y"), [])
    store.record(row("after"), [])
    store.flush()
    with state_of(app).storage.engine.connect() as connection:
        written = list(connection.execute(select(audit.c.hook_instance)).scalars())
    assert "after" in written and len(written) == 2 - store.poison_rows
