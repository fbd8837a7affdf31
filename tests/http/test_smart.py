"""The monitoring timeline's SMART EHR launch, end to end against a stub EHR (authorization server and FHIR server
behind one httpx.MockTransport). SMART App Launch: the launch redirects to the authorize endpoint with `launch`,
`state`, PKCE S256 and `aud` = iss; the redirect back is checked against the state, the code is exchanged with the
verifier, and the data is read with the access token. Each failure is a page naming the step, never a traceback."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from helpers import REPO, assert_valid_response, post_json
from smart_ehr import ISS, PATIENT, PUBLIC, TOKEN, StubEhr

from service.store import Storage


@pytest.fixture
def ehr():
    return StubEhr()


@pytest.fixture
def smart_client(make_app, ehr):
    app = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                   public_url=PUBLIC, fhir_allowlist=ISS)  # fmt: skip
    return app.test_client()


def launch(client, iss=ISS, launch_token="xyz-launch"):
    return client.get("/smart/launch", query_string={"iss": iss, "launch": launch_token}, base_url=PUBLIC)


def authorize_query(response) -> dict[str, str]:
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://auth.example/authorize"
    return {name: values[0] for name, values in parse_qs(location.query).items()}


def test_the_launch_sends_the_browser_to_authorize_with_state_pkce_and_read_only_patient_scopes(smart_client):
    query = authorize_query(launch(smart_client))
    assert query["response_type"] == "code" and query["client_id"] == "timeline-app"
    assert query["redirect_uri"] == f"{PUBLIC}/smart/redirect" and query["launch"] == "xyz-launch"
    assert query["aud"] == ISS and query["code_challenge_method"] == "S256" and len(query["state"]) >= 32
    scopes = query["scope"].split()
    assert scopes[0] == "launch" and "patient/Observation.rs" in scopes
    assert all(scope.endswith(".rs") for scope in scopes[1:])  # read and search only


def test_a_v1_server_is_read_from_its_capability_statement_with_v1_scopes(make_app):
    ehr = StubEhr(v2=False)
    client = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                      public_url=PUBLIC, fhir_allowlist=ISS).test_client()  # fmt: skip
    scopes = authorize_query(launch(client))["scope"].split()
    assert "patient/MedicationRequest.read" in scopes and not any(scope.endswith(".rs") for scope in scopes)


def test_the_redirect_back_exchanges_the_code_with_the_verifier_and_draws_the_page(smart_client, ehr, caplog):
    caplog.set_level(logging.DEBUG)
    query = authorize_query(launch(smart_client))
    cookie = next(c for c in smart_client._cookies.values() if c.key == "aza_cds_smart")
    assert cookie.secure and cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/smart/"
    page = smart_client.get("/smart/redirect", query_string={"code": "c-123", "state": query["state"]},
                            base_url=PUBLIC)  # fmt: skip
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in html and "<caption>Tests due</caption>" in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "img-src data:" in csp
    token_request = next(r for r in ehr.requests if r.url.path == "/token")
    form = parse_qs(token_request.content.decode())
    verifier = form["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == query["code_challenge"] and form["code"] == ["c-123"]
    fhir_reads = [
        r for r in ehr.requests if r.url.path.startswith("/fhir/") and "smart-configuration" not in r.url.path
    ]
    assert fhir_reads and all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in fhir_reads)
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name == "aza_cds")  # httpx: WARNING (logs.py)
    assert "smart timeline patient=" in ours
    assert TOKEN not in ours and PATIENT not in ours and "c-123" not in ours
    again = smart_client.get("/smart/redirect", query_string={"code": "c-123", "state": query["state"]},
                             base_url=PUBLIC)  # fmt: skip
    assert again.status_code == 400  # one use: the launch state went with the first redirect
    smart_client.set_cookie(cookie.key, cookie.value, domain=cookie.domain, path="/smart/", secure=True)
    replayed = smart_client.get("/smart/redirect", query_string={"code": "c-123", "state": query["state"]},
                                base_url=PUBLIC)  # fmt: skip
    assert replayed.status_code == 400 and "used already" in replayed.get_data(as_text=True)  # a copied cookie


def error_of(response) -> str:
    assert response.mimetype == "text/html" and "Traceback" not in response.get_data(as_text=True)
    assert 'role="alert"' in response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_an_iss_not_on_the_allow_list_is_refused(smart_client, ehr):
    response = launch(smart_client, iss="https://elsewhere.example/fhir")
    assert response.status_code == 403 and "AZA_CDS_FHIR_ALLOWLIST" in error_of(response)
    assert ehr.requests == []  # nothing was fetched from it
    assert launch(smart_client, launch_token="").status_code == 400


def test_a_wrong_state_is_refused(smart_client):
    authorize_query(launch(smart_client))
    for forged in ("forged", "é-not-ascii", ""):
        response = smart_client.get("/smart/redirect", query_string={"code": "c", "state": forged}, base_url=PUBLIC)
        assert response.status_code == 400 and "does not match a launch" in error_of(response)
        authorize_query(launch(smart_client))  # each attempt used up the launch: start another


def test_a_refused_authorization_and_a_token_error_are_pages(smart_client, ehr):
    query = authorize_query(launch(smart_client))
    response = smart_client.get("/smart/redirect", query_string={"error": "access_denied", "state": query["state"]},
                                base_url=PUBLIC)  # fmt: skip
    assert response.status_code == 400 and "access_denied" in error_of(response)
    ehr.token_status = 400
    query = authorize_query(launch(smart_client))
    response = smart_client.get("/smart/redirect", query_string={"code": "c", "state": query["state"]},
                                base_url=PUBLIC)  # fmt: skip
    assert response.status_code == 502 and "refused the code (HTTP 400)" in error_of(response)


def test_a_fhir_server_error_is_a_page(smart_client, ehr):
    ehr.fail = "/fhir/MedicationRequest"
    query = authorize_query(launch(smart_client))
    response = smart_client.get("/smart/redirect", query_string={"code": "c", "state": query["state"]},
                                base_url=PUBLIC)  # fmt: skip
    text = error_of(response)
    assert response.status_code == 502 and "could not be read from the EHR" in text
    assert "medication orders" in text and "prefetch" not in text


def test_an_unreadable_smart_configuration_is_a_page(smart_client, ehr):
    ehr.fail = "/fhir/"
    response = launch(smart_client)
    assert response.status_code == 502 and "SMART configuration" in error_of(response)


def test_without_a_client_id_there_is_no_app(client):
    assert client.get("/smart/launch", query_string={"iss": ISS, "launch": "x"}).status_code == 404


def test_a_client_id_needs_the_public_url(make_app):
    from service.config import ConfigError

    with pytest.raises(ConfigError, match="AZA_CDS_PUBLIC_URL"):
        make_app(storage=Storage.in_memory(), smart_client_id="timeline-app")


def test_the_token_answer_must_name_a_patient(smart_client, ehr):
    original = ehr.handle

    def without_patient(request):
        if request.url.path == "/token":
            return httpx.Response(200, content=orjson.dumps({"access_token": TOKEN}))
        return original(request)

    ehr.transport.handler = without_patient
    query = authorize_query(launch(smart_client))
    response = smart_client.get("/smart/redirect", query_string={"code": "c", "state": query["state"]},
                                base_url=PUBLIC)  # fmt: skip
    assert response.status_code == 502 and "no patient" in error_of(response)


FIXTURE = REPO / "fixtures" / "requests" / "patient-view-falling-wbc-after-allopurinol.json"


def test_cards_link_to_the_timeline_only_when_the_app_is_configured(make_app, ehr, client):
    from service.replay import load_fixture

    fixture = load_fixture(FIXTURE)
    app = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                   public_url=PUBLIC, fhir_allowlist=ISS)  # fmt: skip
    body = post_json(app.test_client(), f"/cds-services/{fixture['service']}", fixture["request"]).get_json()
    assert_valid_response(body)
    links = {card["source"]["topic"]["code"]: [link for link in card.get("links", []) if link["type"] == "smart"]
             for card in body["cards"]}  # fmt: skip
    launch_url = f"{PUBLIC}/smart/launch"
    assert links["MON-03"] == [{"label": "Open the monitoring timeline", "url": launch_url, "type": "smart",
                                "appContext": '{"rule":"MON-03","analyte":"wbc"}'}]  # fmt: skip
    assert orjson.loads(links["MON-01"][0]["appContext"]) == {"rule": "MON-01", "analyte": "wbc"}
    assert orjson.loads(links["DOSE-04"][0]["appContext"]) == {"rule": "DOSE-04"}
    plain = post_json(client, f"/cds-services/{fixture['service']}", fixture["request"]).get_json()
    assert not [link for card in plain["cards"] for link in card.get("links", []) if link["type"] == "smart"]


def test_the_page_names_the_card_that_opened_it(smart_client, ehr):
    original = ehr.handle

    def with_context(request):
        if request.url.path == "/token":
            context = '{"rule":"MON-03","analyte":"wbc"}'  # as the card's link gave it to the EHR
            answer = {"access_token": TOKEN, "patient": PATIENT, "appContext": context}
            return httpx.Response(200, content=orjson.dumps(answer))
        return original(request)

    ehr.transport.handler = with_context
    query = authorize_query(launch(smart_client))
    page = smart_client.get("/smart/redirect", query_string={"code": "c", "state": query["state"]}, base_url=PUBLIC)
    assert "Opened from the MON-03 card (white blood cell count)." in page.get_data(as_text=True)


def run_launch(client) -> object:
    query = authorize_query(launch(client))
    return client.get("/smart/redirect", query_string={"code": "c-9", "state": query["state"]}, base_url=PUBLIC)


def test_a_confidential_client_authenticates_with_its_secret_or_with_a_signed_assertion(make_app, tmp_path):
    import jwt

    from service.auth.client import new_client

    ehr = StubEhr()
    secret = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                      smart_client_secret="s3cret", public_url=PUBLIC, fhir_allowlist=ISS).test_client()  # fmt: skip
    assert run_launch(secret).status_code == 200
    basic = next(r for r in ehr.requests if r.url.path == "/token").headers["Authorization"]
    assert basic == "Basic " + base64.b64encode(b"timeline-app:s3cret").decode()
    assert secret.get("/smart/jwks.json", base_url=PUBLIC).status_code == 404  # no key to publish

    key_path, _ = new_client("unused", tmp_path)
    ehr = StubEhr()
    keyed = make_app(storage=Storage.in_memory(), fhir_transport=ehr.transport, smart_client_id="timeline-app",
                     smart_client_key=str(key_path), public_url=PUBLIC, fhir_allowlist=ISS).test_client()  # fmt: skip
    (published,) = keyed.get("/smart/jwks.json", base_url=PUBLIC).get_json()["keys"]
    assert published["alg"] == "ES384" and "d" not in published  # the public half only
    assert run_launch(keyed).status_code == 200
    token_request = next(r for r in ehr.requests if r.url.path == "/token")
    form = {name: values[0] for name, values in parse_qs(token_request.content.decode()).items()}
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "Authorization" not in token_request.headers
    claims = jwt.decode(form["client_assertion"], jwt.PyJWK(published).key, algorithms=["ES384"],
                        audience="https://auth.example/token")  # fmt: skip
    assert claims["iss"] == claims["sub"] == "timeline-app" and claims["exp"] - time.time() <= 300
    assert jwt.get_unverified_header(form["client_assertion"])["kid"] == published["kid"]


def test_a_secret_and_a_key_together_are_refused(make_app, tmp_path):
    from service.auth.client import new_client
    from service.config import ConfigError

    key_path, _ = new_client("unused", tmp_path)
    with pytest.raises(ConfigError, match="set one, not both"):
        make_app(storage=Storage.in_memory(), smart_client_id="a", smart_client_secret="s", public_url=PUBLIC,
                 smart_client_key=str(key_path))  # fmt: skip
    (tmp_path / "not-a-key.pem").write_text("hello")
    with pytest.raises(ConfigError, match="AZA_CDS_SMART_CLIENT_KEY"):
        make_app(storage=Storage.in_memory(), smart_client_id="a", public_url=PUBLIC,
                 smart_client_key=str(tmp_path / "not-a-key.pem"))  # fmt: skip
