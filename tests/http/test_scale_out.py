"""Two replicas sharing one PostgreSQL behind a real load balancer (HAProxy), started here (issue 13, scale-out).

Runs in the PostgreSQL pass of `.ci/run` (which installs HAProxy when it is missing); skipped elsewhere.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from helpers import free_port, running_serves

from service.auth.client import TokenSigner, new_client
from service.store import SqlFeedbackStore, open_database

pytestmark = [
    pytest.mark.xdist_group("serve"),
    pytest.mark.skipif(not os.environ.get("AZA_CDS_TEST_POSTGRES_URL"), reason="needs the PostgreSQL pass"),
    pytest.mark.skipif(not shutil.which("haproxy"), reason="needs haproxy (.ci/run installs it)"),
]
ISS = "https://ehr.example"
FEEDBACK = "/cds-services/azathioprine-order-sign/feedback"
DISCOVERY = "/cds-services"

HAPROXY_CONFIG = """
global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend cds
    bind 127.0.0.1:{port}
    default_backend replicas
frontend stats
    bind 127.0.0.1:{stats_port}
    stats enable
    stats uri /stats
backend replicas
    balance roundrobin
    option httpchk GET /readyz
    default-server inter 200ms fall 2 rise 2
    server a 127.0.0.1:{port_a} check
    server b 127.0.0.1:{port_b} check
"""


@pytest.fixture
def balanced(tmp_path, database_url):
    """(balancer URL, stats URL, signer, replica URLs and processes), everything stopped afterwards."""
    key_path, trust_path = new_client(ISS, tmp_path / "client")
    signer = TokenSigner(key_path, ISS, TokenSigner.kid_of(trust_path))
    port, stats_port = free_port(), free_port()
    balancer = f"http://127.0.0.1:{port}"
    env = {
        "AZA_CDS_AUTH": "required", "AZA_CDS_TRUST_FILE": str(trust_path), "AZA_CDS_PUBLIC_URL": balancer,
        "AZA_CDS_DATABASE_URL": database_url, "AZA_CDS_AUDIT_FLUSH_SECONDS": "0.05",
    }  # fmt: skip
    with running_serves([tmp_path / "a", tmp_path / "b"], workers=2, **env) as replicas:
        ports = [int(base.rsplit(":", 1)[1]) for base, _ in replicas]
        config = tmp_path / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=port, stats_port=stats_port, port_a=ports[0], port_b=ports[1]))
        proxy = subprocess.Popen(["haproxy", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(lambda: _status(f"http://127.0.0.1:{stats_port}/stats;csv") == {"a": "UP", "b": "UP"})
            yield balancer, f"http://127.0.0.1:{stats_port}/stats;csv", signer, replicas
        finally:
            proxy.terminate()
            proxy.wait(timeout=5)


def test_a_token_used_on_one_replica_is_refused_by_the_other(balanced):
    balancer, _stats, signer, [(base_a, _), (base_b, _)] = balanced
    bearer = {"Authorization": f"Bearer {signer.token(balancer + DISCOVERY)}"}  # audience: the balancer's URL
    with httpx.Client(timeout=5) as http:
        assert http.get(base_a + DISCOVERY, headers=bearer).status_code == 200
        assert http.get(base_b + DISCOVERY, headers=bearer).status_code == 401
        assert http.get(balancer + DISCOVERY, headers=bearer).status_code == 401


def test_feedback_through_the_balancer_survives_a_killed_replica_stored_once(balanced, database_url):
    balancer, stats, signer, [(_, replica_a), _] = balanced
    items = [
        {"card": str(uuid.uuid4()), "outcome": "overridden", "outcomeTimestamp": "2026-11-29T10:05:31Z"}
        for _ in range(400)
    ]
    batches = [items[i : i + 4] for i in range(0, len(items), 4)]
    acknowledged: list[int] = []

    with httpx.Client(timeout=5) as http:

        def send(batch) -> bool:
            for attempt in range(20):  # what an EHR does with feedback that was not acknowledged
                headers = {"Authorization": f"Bearer {signer.token(balancer + FEEDBACK)}"}
                try:
                    if http.post(balancer + FEEDBACK, json={"feedback": batch}, headers=headers).status_code == 200:
                        acknowledged.append(1)
                        return True
                except httpx.TransportError:
                    pass
                time.sleep(0.05 * (attempt + 1))
            return False

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = pool.map(send, batches)
            _wait_for(lambda: len(acknowledged) >= 10)
            os.kill(replica_a.pid, signal.SIGKILL)  # the master: its workers lose their parent and stop
            acknowledged_at_kill = len(acknowledged)
            assert all(results)
        _wait_for(lambda: _status(stats).get("a") == "DOWN")  # the health check took the dead replica out
        assert _status(stats)["b"] == "UP"
    assert acknowledged_at_kill < len(batches)  # the kill came while feedback was still being posted
    store = SqlFeedbackStore(open_database(database_url))
    assert store.count() == len(items)  # all stored, each once (feedback is idempotent)


def _status(stats_url: str) -> dict[str, str]:
    try:
        rows = httpx.get(stats_url, timeout=2).text.splitlines()
    except httpx.HTTPError:
        return {}
    header = rows[0].lstrip("# ").split(",")
    found = {}
    for row in rows[1:]:
        values = dict(zip(header, row.split(","), strict=False))
        if values.get("pxname") == "replicas" and values.get("svname") in ("a", "b"):
            found[values["svname"]] = values["status"].split()[0]
    return found


def _wait_for(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
