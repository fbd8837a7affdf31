"""The aza-cds command: knowledge check, replay in-process and over HTTP, serve under gunicorn."""

from __future__ import annotations

import json
import shutil
import threading

import httpx
import pytest
from helpers import FIXTURES, free_port, running_serve, running_serves
from werkzeug.serving import make_server

from service.cli import main

FIXTURE_COUNT = len(list(FIXTURES.rglob("*.json")))


def test_knowledge_check(capsys):
    assert main(["knowledge", "check"]) == 0
    assert "is valid" in capsys.readouterr().out


def test_knowledge_check_fails_on_a_broken_pack(tmp_path, monkeypatch, capsys):
    broken = tmp_path / "cards"
    shutil.copytree(FIXTURES.parents[1] / "cards", broken)
    (broken / "rules" / "monitoring.json").write_text("{}")
    monkeypatch.setenv("AZA_CDS_KNOWLEDGE_DIR", str(broken))
    assert main(["knowledge", "check"]) == 1
    assert "monitoring.json" in capsys.readouterr().out


def test_replay_check_passes_on_the_shipped_fixtures(capsys):
    assert main(["replay", "--check", str(FIXTURES)]) == 0
    output = capsys.readouterr()
    assert "[CRITICAL] Azathioprine with febuxostat is contraindicated" in output.out
    assert "suggestion: Cancel the draft azathioprine order" in output.out
    assert f"0 of {FIXTURE_COUNT} fixtures differ or could not be read" in output.err


def test_replay_check_fails_and_names_the_difference(tmp_path, capsys):
    fixture = json.loads((FIXTURES / "order-select-azathioprine-while-on-febuxostat.json").read_text())
    fixture["expected"]["cards"] = [{"rule": "DDI-02", "indicator": "warning"}]
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(fixture))
    assert main(["replay", "--check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "missing card DDI-02 (warning)" in out and "unexpected card DDI-01 (critical)" in out


def test_replay_json_lines(capsys):
    assert main(["replay", "--json", str(FIXTURES / "patient-view-cbc-overdue-monthly-phase.json")]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["status"] == 200 and line["body"]["cards"][0]["source"]["topic"]["code"] == "MON-01"


@pytest.fixture
def running_service(make_app):
    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_replay_against_a_url_gives_the_same_outcomes(running_service, capsys):
    assert main(["replay", "--check", "--url", running_service, str(FIXTURES)]) == 0
    assert f"0 of {FIXTURE_COUNT} fixtures differ or could not be read" in capsys.readouterr().err


def test_serve_runs_gunicorn_on_embedded_defaults(tmp_path):
    with running_serve(tmp_path) as (base, _server):
        response = httpx.get(f"{base}/cds-services", timeout=5)
        assert response.status_code == 200 and len(response.json()["services"]) == 3
        feedback = httpx.post(
            f"{base}/cds-services/azathioprine-order-sign/feedback",
            json={"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-29T10:00:00Z"}]},
        )
        assert feedback.json() == {"stored": 1, "duplicates": 0}


def test_replay_reports_files_that_are_not_fixtures(tmp_path, capsys):
    (tmp_path / "patient.json").write_text('{"resourceType": "Patient", "id": "x"}')
    (tmp_path / "broken.json").write_text("{")
    assert main(["replay", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "patient.json: not a replayable fixture: it has no 'service'" in err
    assert "broken.json: not a replayable fixture" in err


def test_replay_signs_each_call_for_a_service_that_requires_tokens(make_app, tmp_path, capsys):
    """An integrator's flow: make a client key and trust file, run the service trusting it, replay with signing."""
    assert main(["trust", "new-client", "--iss", "https://integrator.example", "--out", str(tmp_path / "client")]) == 0
    kid = capsys.readouterr().out.split("kid:")[1].strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"  # the URL the integrator calls is the service's public URL (token audience)
    app = make_app(auth="required", trust_file=str(tmp_path / "client" / "trust.json"), public_url=url)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fixtures = [str(FIXTURES / "order-select-azathioprine-while-on-febuxostat.json")]
        assert main(["replay", "--check", "--url", url, *fixtures]) == 1  # unsigned: 401
        assert "HTTP 401" in capsys.readouterr().out
        signed = ["--sign-key", str(tmp_path / "client" / "client-key.pem"), "--iss", "https://integrator.example"]
        assert main(["replay", "--check", "--url", url, *signed, "--kid", kid, *fixtures]) == 0
    finally:
        server.shutdown()


def test_the_master_freezes_what_it_loaded_before_forking_workers():
    import gc

    from service.serve import _before_fork

    gc.unfreeze()
    _before_fork(None, None)
    try:
        assert gc.get_freeze_count() > 10_000  # the app, its pack and libraries: out of the collector's scans
    finally:
        gc.unfreeze()


def test_two_instances_on_one_machine_share_no_socket_and_leave_no_folder(tmp_path):
    """Each instance has its own port and metrics folder, opens no control socket another instance could take over,
    and removes its metrics folder when it stops."""
    machine = {name: tmp_path / name for name in ("home", "runtime", "tmp")}
    for folder in machine.values():
        folder.mkdir()
    environment = {
        "HOME": str(machine["home"]),
        "XDG_RUNTIME_DIR": str(machine["runtime"]),
        "TMPDIR": str(machine["tmp"]),
    }
    with running_serves([tmp_path / "a", tmp_path / "b"], **environment) as [(first, _), (second, _)]:
        assert first != second
        assert httpx.get(f"{first}/healthz").status_code == httpx.get(f"{second}/healthz").status_code == 200
        assert len(list(machine["tmp"].glob("aza-cds-metrics-*"))) == 2
        sockets = [path for path in tmp_path.rglob("*") if path.is_socket()]
        assert sockets == []  # gunicorn's default control socket ($XDG_RUNTIME_DIR/gunicorn.ctl) is not opened
    assert list(machine["tmp"].glob("aza-cds-metrics-*")) == []


def test_make_run_takes_a_port(monkeypatch):
    import subprocess

    def planned(*args, **env):
        result = subprocess.run(
            ["make", "--no-print-directory", "-n", "run", *args],
            cwd=FIXTURES.parents[1],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        return result.stdout.splitlines()[-1]

    import os

    # not the settings under test, nor those of a `make test` this runs inside
    unset = ("PORT", "AZA_CDS_PORT", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    environment = {key: value for key, value in os.environ.items() if key not in unset}
    assert planned("PORT=8180", **environment).endswith("aza-cds serve --dev --port 8180")
    assert planned(**environment, AZA_CDS_PORT="8181").endswith("aza-cds serve --dev --port 8181")
    assert planned(**environment).endswith("aza-cds serve --dev --port 8080")


def test_new_client_keeps_an_existing_key_unless_forced(tmp_path, capsys):
    folder = tmp_path / "client"
    assert main(["trust", "new-client", "--iss", "https://integrator.example", "--out", str(folder)]) == 0
    key, trust = (folder / "client-key.pem").read_bytes(), (folder / "trust.json").read_bytes()
    capsys.readouterr()
    assert main(["trust", "new-client", "--iss", "https://integrator.example", "--out", str(folder)]) == 1
    refusal = capsys.readouterr().err
    assert "already exist" in refusal and "--force" in refusal
    assert (folder / "client-key.pem").read_bytes() == key and (folder / "trust.json").read_bytes() == trust
    assert main(["trust", "new-client", "--iss", "https://integrator.example", "--out", str(folder), "--force"]) == 0
    assert (folder / "client-key.pem").read_bytes() != key
