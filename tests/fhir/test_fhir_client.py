"""FHIR call-backs share nothing between hook calls, keep to one deadline, and fetch only what the allow-list
compared (issue 13, findings 3, 4 and 5)."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import orjson
import pytest
from helpers import bundle

from service.fhir import FetchError, FhirClient

BASE = "https://ehr.example/fhir"


class TricklingServer:
    """Answers every connection with a status line, then one header byte every 0.2 s, for as long as it lasts."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed by close()
                return
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        try:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not self._stop.is_set():
                connection.sendall(b"X")
                time.sleep(0.2)
        except OSError:
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()


def test_a_server_that_trickles_its_headers_is_cut_off_at_the_budget():
    server = TricklingServer()
    client = FhirClient((f"http://127.0.0.1:{server.port}/fhir",), allow_loopback_http=True, budget_seconds=1.0)
    outcome: list[object] = []

    def call_back() -> None:
        started = time.monotonic()
        try:
            client.session(f"http://127.0.0.1:{server.port}/fhir", "token").search("Patient/p1")
        except FetchError as error:
            outcome.append((str(error), time.monotonic() - started))

    worker = threading.Thread(target=call_back, daemon=True)
    worker.start()
    worker.join(timeout=6)
    server.close()
    client.close()
    assert not worker.is_alive(), "the call-back outlived its 1 s budget by more than 5 s"
    message, seconds = outcome[0]
    assert message == "the FHIR server did not answer in time" and seconds < 2.0


def test_no_cookie_set_by_a_fhir_server_is_sent_on_a_later_call_back():
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        headers = {"Set-Cookie": "session=patient-a; Path=/; Domain=ehr.example"}
        return httpx.Response(200, headers=headers, content=orjson.dumps(bundle([])))

    client = FhirClient((BASE,), transport=httpx.MockTransport(answer))
    client.session(BASE, "token-for-patient-a").search("Condition?patient=a")
    client.session(BASE, "token-for-patient-b").search("Condition?patient=b")
    assert seen == [None, None]


@pytest.mark.parametrize(
    "url",
    [
        f"{BASE}/../outside/p2",
        f"{BASE}/%2e%2e/outside/p2",
        f"{BASE}/.%2E/outside",
        f"{BASE}/./Patient",
        f"{BASE}/a%2F..%2F..%2Foutside",
        f"{BASE}/a\\..\\outside",
        "https://ehr.example:99999/fhir/Patient",
        "https://EHR.example/fhir/../fhir-admin",
    ],
)
def test_urls_that_a_client_would_rewrite_are_never_allowed(url):
    assert not FhirClient((BASE,)).is_allowed(url)


@pytest.mark.parametrize(
    "url", [f"{BASE}/Patient/1", "https://EHR.EXAMPLE/fhir/Patient", "https://ehr.example:443/fhir/Observation"]
)
def test_case_and_default_ports_do_not_matter(url):
    assert FhirClient((BASE,)).is_allowed(url)


def test_a_next_link_with_dot_segments_is_not_followed_and_gets_no_token():
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        page = bundle([{"resourceType": "Condition", "id": "c1"}], next_url=f"{BASE}/../outside/p2")
        return httpx.Response(200, content=orjson.dumps(page))

    resources, note = FhirClient((BASE,), transport=httpx.MockTransport(answer)).session(BASE, "t").search("Condition")
    assert [r["id"] for r in resources] == ["c1"] and "outside the fhirServer" in note
    assert requested == [f"{BASE}/Condition"]
