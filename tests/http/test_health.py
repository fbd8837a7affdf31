"""/healthz and /readyz: no token needed, readiness follows the database."""

from __future__ import annotations

import pytest

from service.http.state import state_of


@pytest.fixture
def app(make_app):
    """These tests are about the database, so the app stores in one (conftest's `app` stores in memory)."""
    return make_app()


def test_health_needs_no_token_even_when_auth_is_required(make_app, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(
        '{"issuers": [{"iss": "https://ehr.example.org", "jwks": {"keys": [{"kty": "EC", "crv": "P-384", '
        '"kid": "k", "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB", '
        '"y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy"}]}}]}'
    )
    client = make_app(auth="required", trust_file=str(trust), public_url="http://localhost").test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"
    assert client.get("/cds-services").status_code == 401  # the services themselves still need a token


def test_not_ready_while_the_database_is_gone_and_ready_again_after(app, monkeypatch):
    def broken():
        raise OSError("database down")

    monkeypatch.setattr(state_of(app).storage.engine, "connect", broken)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["database"] == "unreachable"
    monkeypatch.undo()  # the database is back
    assert app.test_client().get("/readyz").status_code == 200
