"""The audit trail and `aza-cds report`: counts come from the cards the test gets and the feedback it sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from helpers import FIXTURES, PACK_DIR, post_json
from sqlalchemy import select, text

from service import report
from service.cli import main
from service.http.state import state_of
from service.replay import load_fixture
from service.store import open_database
from service.store.models import audit, audit_cards


@pytest.fixture
def app(make_app):
    """These tests are about the database, so the app stores in one (conftest's `app` stores in memory)."""
    return make_app()


PACK_VERSION = json.loads((PACK_DIR / "manifest.json").read_text())["version"]

FEBUXOSTAT_CASE = FIXTURES / "order-select-azathioprine-while-on-febuxostat.json"  # DDI-01 critical + PREC-05 info
CBC_CASE = FIXTURES / "patient-view-cbc-overdue-monthly-phase.json"  # MON-01 warning


def cards_of(client, path) -> dict[str, str]:
    fixture = load_fixture(path)
    body = post_json(client, f"/cds-services/{fixture['service']}", fixture["request"]).get_json()
    return {card["source"]["topic"]["code"]: card["uuid"] for card in body["cards"]}


def feedback(client, card: str, outcome: str, **extra):
    item = {"card": card, "outcome": outcome, "outcomeTimestamp": "2026-11-29T10:00:00Z", **extra}
    assert (
        post_json(client, "/cds-services/azathioprine-order-select/feedback", {"feedback": [item]}).status_code == 200
    )


def test_a_failed_audit_write_still_returns_the_advice_and_is_logged(app, caplog):
    with state_of(app).storage.engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_cards"))
        connection.execute(text("DROP TABLE audit"))
    assert set(cards_of(app.test_client(), FEBUXOSTAT_CASE)) == {"DDI-01", "PREC-05"}
    state_of(app).storage.audit.flush()
    assert any(record.getMessage().startswith("audit write failed") for record in caplog.records)


@pytest.fixture
def populated(app):
    client = app.test_client()
    first, second = cards_of(client, FEBUXOSTAT_CASE), cards_of(client, FEBUXOSTAT_CASE)
    cbc = cards_of(client, CBC_CASE)
    reason = {
        "reason": {
            "system": "urn:aza-cds:override-reason",
            "code": "specialist-approved",
            "display": "Specialist-directed combination with a documented plan",
        }
    }
    feedback(client, first["DDI-01"], "overridden", overrideReason=reason)
    feedback(client, first["DDI-01"], "overridden", overrideReason=reason)  # a repeat: stored once
    feedback(client, second["DDI-01"], "overridden")  # dismissed without a reason
    feedback(client, cbc["MON-01"], "accepted", acceptedSuggestions=[{"id": "s1"}])
    state_of(app).storage.audit.flush()  # rows are written in the background, at most 0.2 s later
    return app


def test_every_hook_call_is_audited_without_patient_data(populated):
    engine = state_of(populated).storage.engine
    with engine.connect() as connection:
        calls = connection.execute(select(audit)).mappings().all()
        cards = connection.execute(select(audit_cards)).mappings().all()
    assert len(calls) == 3 and {row["status"] for row in calls} == {200}
    assert all(row["pack_version"] == PACK_VERSION and row["latency_ms"] > 0 for row in calls)
    patient_ids = {load_fixture(p)["request"]["context"]["patientId"] for p in (FEBUXOSTAT_CASE, CBC_CASE)}
    assert not {row["patient_hash"] for row in calls} & patient_ids
    assert sorted(row["rule_id"] for row in cards) == ["DDI-01", "DDI-01", "MON-01", "PREC-05", "PREC-05"]


def test_a_412_is_audited_too(app):
    fixture = load_fixture(FIXTURES / "sandbox-captured-patient-view.json")
    assert (
        post_json(app.test_client(), "/cds-services/azathioprine-patient-view", fixture["request"]).status_code == 412
    )
    state_of(app).storage.audit.flush()
    with state_of(app).storage.engine.connect() as connection:
        assert connection.execute(select(audit.c.status)).scalar_one() == 412


def test_override_report(populated):
    rows = {
        row["rule"]: row
        for row in report.override_report(state_of(populated).storage.engine, datetime.now(UTC) - timedelta(days=30))
    }
    assert rows["DDI-01"] | {"top_reasons": None} == {
        "rule": "DDI-01",
        "shown": 2,
        "accepted": 0,
        "overridden": 2,
        "override_rate": 1.0,
        "top_reasons": None,
    }
    assert rows["DDI-01"]["top_reasons"] == [
        {"reason": "Specialist-directed combination with a documented plan", "count": 1}
    ]
    assert (rows["MON-01"]["accepted"], rows["MON-01"]["override_rate"]) == (1, 0.0)
    assert (rows["PREC-05"]["shown"], rows["PREC-05"]["overridden"]) == (2, 0)
    engine = state_of(populated).storage.engine
    future = report.override_report(engine, datetime.now(UTC) + timedelta(days=1))
    assert future == []


def test_report_command_table_json_and_plot(populated, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AZA_CDS_DATABASE_URL", str(state_of(populated).storage.engine.url))
    assert main(["report", "--since", "30d", "--format", "json", "--plot", str(tmp_path / "rates.png")]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["rules"][0]["rule"] == "DDI-01"  # the noisiest rule first
    assert (tmp_path / "rates.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["report"]) == 0
    assert "DDI-01" in capsys.readouterr().out
    assert main(["report", "--since", "soon"]) == 2


@pytest.mark.parametrize(("text", "hours"), [("30d", 720), ("12h", 12), ("2w", 336)])
def test_since(text, hours):
    now = datetime(2026, 11, 29, tzinfo=UTC)
    assert report.parse_since(text, now) == now - timedelta(hours=hours)


def test_audit_rows_past_retention_are_purged(make_app):
    app = make_app(audit_retention_days="30")
    store, engine = state_of(app).storage.audit, state_of(app).storage.engine
    now = datetime.now(UTC)
    for age, card in ((40, "old-card"), (5, "new-card")):
        row = {
            "at": now - timedelta(days=age),
            "hook_instance": card,
            "service_id": "s",
            "patient_hash": "h",
            "status": 200,
            "latency_ms": 1.0,
            "pack_version": "0.1.0",
        }
        store.record(row, [{"uuid": card, "indicator": "info", "source": {"topic": {"code": "MON-02"}}}])
    store.flush()
    store.purge(now)
    with engine.connect() as connection:
        assert connection.execute(select(audit.c.hook_instance)).scalars().all() == ["new-card"]
        assert connection.execute(select(audit_cards.c.card_uuid)).scalars().all() == ["new-card"]


def test_report_names_a_missing_database_instead_of_creating_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AZA_CDS_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("AZA_CDS_DATABASE_URL", raising=False)
    assert main(["report"]) == 0
    assert "no database at" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()


def test_report_with_no_cards_says_so_and_draws_no_empty_chart(tmp_path, monkeypatch, capsys):
    open_database(f"sqlite:///{tmp_path / 'empty' / 'aza-cds.sqlite3'}").dispose()  # the service ran, no card yet
    monkeypatch.setenv("AZA_CDS_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("AZA_CDS_DATABASE_URL", raising=False)
    chart = tmp_path / "rates.png"
    assert main(["report", "--since", "7d", "--plot", str(chart)]) == 0
    output = capsys.readouterr()
    assert output.out == ""  # no empty table
    assert "no cards were shown since" in output.err and "aza-cds.sqlite3" in output.err
    assert "nothing to plot" in output.err and not chart.exists()
    assert main(["report", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["rules"] == []  # machine-readable output stays JSON


def test_plot_without_matplotlib_names_the_extra(populated, tmp_path, monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def without_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setenv("AZA_CDS_DATABASE_URL", str(state_of(populated).storage.engine.url))
    monkeypatch.setattr(builtins, "__import__", without_matplotlib)
    assert main(["report", "--plot", str(tmp_path / "rates.png")]) == 2
    assert "aza-cds[plot]" in capsys.readouterr().err and not (tmp_path / "rates.png").exists()


def test_report_piped_into_a_reader_that_stops_early_exits_quietly(populated, tmp_path):
    """`aza-cds report --format json | head`: the reader closes the pipe before the report is written."""
    import os
    import subprocess
    import sys

    environment = os.environ | {"AZA_CDS_DATABASE_URL": str(state_of(populated).storage.engine.url)}
    reader, writer = os.pipe()
    os.close(reader)  # nobody will read: the first write fails with EPIPE
    finished = subprocess.run(
        [sys.executable, "-m", "service.cli", "report", "--format", "json"],
        stdout=writer,
        stderr=subprocess.PIPE,
        env=environment,
        text=True,
    )
    os.close(writer)
    assert finished.returncode == 0 and "Traceback" not in finished.stderr and "BrokenPipe" not in finished.stderr
