"""/metrics: Prometheus text, counts per hook/status and rule/indicator, and totals across gunicorn workers."""

from __future__ import annotations

import json
import re

import httpx
from helpers import FIXTURES, post_json, running_serve

from service.replay import load_fixture

CASE = FIXTURES / "order-select-azathioprine-while-on-febuxostat.json"  # DDI-01 critical + PREC-05 info


def sample(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))  # exposition sorts labels
    match = re.search(rf"^{name}{{{re.escape(wanted)}}} ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_calls_cards_and_refusals(app):
    client = app.test_client()
    fixture = load_fixture(CASE)
    for _ in range(3):
        post_json(client, "/cds-services/azathioprine-order-select", fixture["request"])
    post_json(
        client,
        "/cds-services/azathioprine-patient-view",
        load_fixture(FIXTURES / "sandbox-captured-patient-view.json")["request"],
    )  # 412
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    assert sample(text, "aza_cds_hook_requests_total", hook="order-select", status="200") == 3
    assert sample(text, "aza_cds_hook_requests_total", hook="patient-view", status="412") == 1
    assert sample(text, "aza_cds_cards_total", rule="DDI-01", indicator="critical") == 3
    assert sample(text, "aza_cds_hook_seconds_count", hook="order-select", status="200") == 3
    assert sample(text, "aza_cds_hook_seconds_count", hook="patient-view", status="412") == 1


def test_auth_failures_are_counted(make_app, tmp_path):
    trust = tmp_path / "trust.json"
    trust.write_text(
        json.dumps({"issuers": [{"iss": "https://ehr.example.org", "jwks_url": "https://ehr.example.org/k"}]})
    )
    client = make_app(auth="required", trust_file=str(trust), public_url="http://localhost").test_client()
    client.get("/cds-services")
    client.get("/cds-services", headers={"Authorization": "Bearer nonsense"})
    assert "aza_cds_auth_failures_total 2.0" in client.get("/metrics").get_data(as_text=True)


def test_totals_add_up_across_gunicorn_workers(tmp_path):
    with running_serve(tmp_path, workers=2) as (base, _server):
        body = load_fixture(CASE)["request"]
        with httpx.Client() as http:  # separate connections spread over both workers
            for _ in range(12):
                http.post(f"{base}/cds-services/azathioprine-order-select", json=body, headers={"Connection": "close"})
        text = httpx.get(base + "/metrics").text
    assert sample(text, "aza_cds_hook_requests_total", hook="order-select", status="200") == 12
    assert sample(text, "aza_cds_cards_total", rule="DDI-01", indicator="critical") == 12
