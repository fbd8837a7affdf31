"""Slow clients cannot stop the service (issue 13, finding 1): gunicorn threads, and a deadline per request that
frees a thread held by a client sending one header byte a second."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest
from helpers import free_port, running_serve

pytestmark = pytest.mark.xdist_group("serve")  # starts a server process: kept off the other workers' CPU


class SlowClients:
    """`count` connections that send a request line and then one header byte a second, reconnecting when cut."""

    def __init__(self, base: str, count: int):
        parts = urlsplit(base)
        self._address = (parts.hostname, parts.port)
        self._stop = threading.Event()
        for _ in range(count):
            threading.Thread(target=self._trickle, daemon=True).start()

    def _trickle(self) -> None:
        while not self._stop.is_set():
            try:
                with socket.create_connection(self._address) as connection:
                    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                    while not self._stop.is_set():
                        connection.sendall(b"X")
                        time.sleep(1)
            except OSError:
                time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()


def slowest_health_check(base: str, seconds: float) -> float:
    worst, end = 0.0, time.monotonic() + seconds
    with httpx.Client(timeout=8) as http:
        while time.monotonic() < end:
            started = time.monotonic()
            assert http.get(base + "/healthz").status_code == 200
            worst = max(worst, time.monotonic() - started)
            time.sleep(0.1)
    return worst


def test_slow_clients_fewer_than_the_threads_do_not_delay_anyone(tmp_path):
    with running_serve(tmp_path, workers=1, AZA_CDS_THREADS="4") as (base, _server):
        clients = SlowClients(base, 3)
        time.sleep(1.5)
        try:
            assert slowest_health_check(base, 3) < 1.0  # a sync worker was held by the first of them
        finally:
            clients.stop()


def test_a_thread_held_by_a_slow_client_is_freed_at_the_request_deadline(tmp_path):
    env = {"AZA_CDS_THREADS": "2", "AZA_CDS_REQUEST_TIMEOUT_SECONDS": "1.5"}
    with running_serve(tmp_path, workers=1, **env) as (base, _server):
        clients = SlowClients(base, 2)  # every thread held, until the deadline cuts them off
        time.sleep(0.5)
        try:
            with httpx.Client(timeout=8) as http:
                started = time.monotonic()
                assert http.get(base + "/healthz").status_code == 200
                assert time.monotonic() - started < 4.0  # waited for a freed thread, not for the slow clients
        finally:
            clients.stop()


def raw_exchange(base: str, data: bytes) -> tuple[int, dict, dict]:
    """Send bytes as they are; the status, headers and JSON body of the answer."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, httpx.Response(200, content=body).json()


def test_requests_the_server_refuses_get_json_with_our_headers_and_no_echo(tmp_path):
    """Issue 13 (8): gunicorn answered these with its own HTML page, without our headers, echoing the request."""
    with running_serve(tmp_path, workers=1, AZA_CDS_MAX_BODY_BYTES="2000") as (base, _server):
        long_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 9000 + b"\r\n\r\n"
        status, headers, body = raw_exchange(base, long_header)
        assert status == 431 and body["error"] == "request_headers_too_large"
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Content-Type"] == "application/json"
        status, headers, body = raw_exchange(base, b"GET /<script>x</script> HTTP/9.9 junk\r\nHost: x\r\n\r\n")
        assert status == 400 and "script" not in str(body) and headers["Cache-Control"] == "no-store"
        chunk = b"x" * 3000
        chunked = (
            b"POST /cds-services/azathioprine-patient-view HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            + b"%x\r\n" % len(chunk)
            + chunk
            + b"\r\n0\r\n\r\n"
        )
        status, _, body = raw_exchange(base, chunked)
        assert status == 413 and body["error"] == "too_large"  # was cut at the limit and answered 400


def test_metrics_can_move_off_the_public_port(tmp_path):
    port = free_port()
    call = {"hook": "patient-view", "hookInstance": "m1", "context": {"patientId": "p", "userId": "Practitioner/a"},
            "prefetch": {"medicationRequests": None, "labs": None}}  # fmt: skip
    serving = running_serve(tmp_path, workers=2, AZA_CDS_METRICS_PORT=str(port))
    with serving as (base, _server), httpx.Client(timeout=5) as http:
        assert http.get(base + "/metrics").status_code == 404
        assert http.post(base + "/cds-services/azathioprine-patient-view", json=call).status_code == 200
        scraped = http.get(f"http://127.0.0.1:{port}/metrics")
    assert scraped.status_code == 200
    assert 'aza_cds_hook_requests_total{hook="patient-view",status="200"}' in scraped.text
