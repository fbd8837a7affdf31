"""JWT authentication of EHR calls: a negative matrix with keys generated here, positives for ES384 and RS384, the
CDS Hooks sandbox's own recorded tokens (clock frozen at their iat), replay across app instances, key fetching."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from helpers import REPO, hook_request
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import select, text

from service.auth import AuthError, TokenVerifier, TrustStore
from service.config import ConfigError
from service.http.state import state_of
from service.store.db import open_database
from service.store.models import token_ids
from service.store.token_ids import SqlTokenIdStore

ISS = "https://ehr.example.org/fhir"
JKU = "https://ehr.example.org/jwks"
BASE = "http://localhost"
SERVICE = "/cds-services/azathioprine-patient-view"
SANDBOX = REPO / "tests" / "vectors" / "sandbox"


def jwk(public_key, kid: str, algorithm) -> dict:
    return json.loads(algorithm.to_jwk(public_key)) | {"kid": kid, "use": "sig"}


@pytest.fixture(scope="module")
def keys():
    es = ec.generate_private_key(ec.SECP384R1())
    rs = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "es": es,
        "rs": rs,
        "jwks": {"keys": [jwk(es.public_key(), "es-1", ECAlgorithm), jwk(rs.public_key(), "rs-1", RSAAlgorithm)]},
    }


@pytest.fixture
def trust_file(tmp_path, keys):
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"issuers": [{"iss": ISS, "jwks": keys["jwks"]}]}))  # inline keys only: no fetch
    return path


@pytest.fixture
def secured(make_app, trust_file):
    return make_app(auth="required", trust_file=str(trust_file), public_url="http://localhost")


def token(keys, path=SERVICE, key="es", header=None, **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISS, "aud": BASE + path, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())} | claims
    payload = {name: value for name, value in payload.items() if value is not None}
    algorithm, kid = ("ES384", "es-1") if key == "es" else ("RS384", "rs-1")
    return jwt.encode(payload, keys[key], algorithm=algorithm, headers={"kid": kid, "typ": "JWT", **(header or {})})


def call(client, bearer: str | None, path=SERVICE):
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    if path == "/cds-services":
        return client.get(path, headers=headers)
    body = hook_request("patient-view", {"medicationRequests": {"resourceType": "Bundle", "type": "searchset"}})
    if path.endswith("/feedback"):
        body = {"feedback": [{"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-11-29T10:00:00Z"}]}
    return client.post(path, data=json.dumps(body), content_type="application/json", headers=headers)


def assert_refused(response):
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.get_json() == {"error": "unauthorized", "message": "A valid bearer token is required."}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with_public_key(keys) -> str:
    """The classic algorithm-confusion attack: HMAC keyed with the public key's PEM."""
    pem = (
        keys["es"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    now = int(time.time())
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "es-1"}).encode())
    body = b64(json.dumps({"iss": ISS, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": "x"}).encode())
    signature = b64(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


# case -> (token maker, the reason the server logs; the client only ever sees the same 401)
NEGATIVES = {
    "no-token": lambda keys: None,
    "malformed": lambda keys: "not.a.jwt",
    "alg-none": lambda keys: jwt.encode(
        {"iss": ISS, "aud": BASE + SERVICE, "iat": int(time.time()), "exp": int(time.time()) + 300, "jti": "n"},
        None,
        algorithm="none",
        headers={"kid": "es-1"},
    ),
    "hs256-with-public-key": hs256_with_public_key,
    "aud-is-base-url": lambda keys: token(keys, aud=BASE),
    "aud-is-discovery-url": lambda keys: token(keys, aud=BASE + "/cds-services"),
    "aud-is-feedback-url": lambda keys: token(keys, aud=BASE + SERVICE + "/feedback"),
    "expired": lambda keys: token(keys, iat=int(time.time()) - 1000, exp=int(time.time()) - 700),
    "iat-in-future": lambda keys: token(keys, iat=int(time.time()) + 600, exp=int(time.time()) + 800),
    "lifetime-over-5-minutes": lambda keys: token(keys, exp=int(time.time()) + 600),
    "nbf-in-future": lambda keys: token(keys, nbf=int(time.time()) + 600),
    "missing-jti": lambda keys: token(keys, jti=None),
    "missing-exp": lambda keys: token(keys, exp=None),
    "unknown-kid": lambda keys: token(keys, header={"kid": "nobody"}),
    "unknown-iss": lambda keys: token(keys, iss="https://evil.example.com"),
    "jku-not-allowed": lambda keys: token(keys, header={"jku": "https://evil.example.com/jwks"}),
    "tampered-signature": lambda keys: token(keys)[:-4] + "AAAA",
    "es384-header-on-the-rsa-key": lambda keys: token(keys, header={"kid": "rs-1"}),
    "tampered-payload": lambda keys: ".".join(
        [token(keys).split(".")[0], b64(b'{"iss":"x"}'), token(keys).split(".")[2]]
    ),
    "tampered-claims-same-issuer": lambda keys: swap_claims(token(keys), {"jti": "another"}),
    "crit-header": lambda keys: token(keys, header={"crit": ["exp"]}),
    "unencoded-payload": lambda keys: token(keys, header={"b64": False}),
    "junk-after-the-signature": lambda keys: token(keys) + "!!",  # base64 decoders skip it; RFC 7515 does not
    "jti-with-a-nul": lambda keys: token(keys, jti="a\u0000b"),
    "jti-longer-than-stored": lambda keys: token(keys, jti="j" * 300),
}


def swap_claims(bearer: str, changes: dict) -> str:
    """The same header and signature over claims that were changed after signing."""
    head, body, signature = bearer.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) | changes
    return f"{head}.{b64(json.dumps(claims).encode())}.{signature}"


REASONS = {
    "no-token": "no bearer token",
    "malformed": "malformed token",
    "alg-none": "algorithm 'none'",
    "hs256-with-public-key": "algorithm 'HS256'",
    "aud-is-base-url": "Audience",
    "aud-is-discovery-url": "Audience",
    "aud-is-feedback-url": "Audience",
    "expired": "expired",
    "iat-in-future": "iat is in the future",
    "lifetime-over-5-minutes": "more than 300 s",
    "nbf-in-future": "nbf",
    "missing-jti": '"jti"',
    "missing-exp": '"exp"',
    "unknown-kid": "no key 'nobody'",
    "unknown-iss": "not trusted",
    "jku-not-allowed": "jku",
    "tampered-signature": "Signature verification failed",
    "tampered-payload": "not trusted",
    "es384-header-on-the-rsa-key": "token refused",
    "tampered-claims-same-issuer": "Signature verification failed",
    "crit-header": "header extensions",
    "unencoded-payload": "malformed token",  # the raw payload is not base64url: refused before the header check
    "junk-after-the-signature": "malformed token",
    "jti-with-a-nul": "jti must be",
    "jti-longer-than-stored": "jti must be",
}


def test_attacker_supplied_header_values_are_cut_in_logs(secured, keys, caplog):
    for bearer in (token(keys, header={"kid": "k" * 8000}), token(keys, iss="https://" + "e" * 8000)):
        with caplog.at_level("WARNING", logger="aza_cds"):
            assert_refused(call(secured.test_client(), bearer))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auth refused")]
    assert len(lines) == 2 and all(len(line) < 400 for line in lines)


def test_required_auth_takes_its_audience_from_configuration_only(make_app, trust_file, keys):
    """Issue 13 (7): without AZA_CDS_PUBLIC_URL the audience followed the Host header, so a token minted for another
    deployment was accepted. Now the service refuses to start without it (developer mode excepted)."""
    with pytest.raises(ConfigError, match="AZA_CDS_PUBLIC_URL"):
        make_app(auth="required", trust_file=str(trust_file))
    app = make_app(auth="required", trust_file=str(trust_file), public_url="https://cds.example.org")
    other = token(keys, aud="https://other.example.org" + SERVICE)
    response = app.test_client().get(SERVICE.rsplit("/", 1)[0], headers={"Authorization": f"Bearer {other}",
                                                                          "Host": "other.example.org",
                                                                          "X-Forwarded-Proto": "https"})  # fmt: skip
    assert response.status_code == 401


@pytest.mark.parametrize("case", NEGATIVES, ids=list(NEGATIVES))
def test_refused_tokens_get_401_without_detail(secured, keys, case, caplog):
    with caplog.at_level("WARNING", logger="aza_cds"):
        assert_refused(call(secured.test_client(), NEGATIVES[case](keys)))
    assert REASONS[case] in caplog.text


@pytest.mark.parametrize("path", ["/cds-services", SERVICE, SERVICE + "/feedback"])
def test_es384_token_for_the_exact_url_is_accepted(secured, keys, path):
    response = call(secured.test_client(), token(keys, path=path), path)
    assert response.status_code == 200, response.get_json()


def test_rs384_with_epic_style_claims_is_accepted(secured, keys):
    now = int(time.time())
    bearer = token(keys, key="rs", sub="epic-client-id", nbf=now - 300, client_id="x", epic_extra={"a": 1})
    assert call(secured.test_client(), bearer).status_code == 200


def test_an_audience_list_holding_the_url_is_accepted(secured, keys):
    assert call(secured.test_client(), token(keys, aud=[BASE + SERVICE, "https://other"])).status_code == 200


def test_replay_store_forgets_ids_an_hour_past_expiry(tmp_path, monkeypatch, database_url):
    monkeypatch.setattr("service.store.token_ids.CLEANUP_EVERY", 3)
    engine = open_database(database_url or f"sqlite:///{tmp_path}/tokens.db")
    store = SqlTokenIdStore(engine)
    now = time.time()
    assert store.first_use("iss", "old", now - 3700) and store.first_use("iss", "recent", now - 100)
    assert not store.first_use("iss", "recent", now - 100)  # third insert: a repeat, and the clean-up runs
    with engine.connect() as connection:
        kept = {row.jti for row in connection.execute(select(token_ids))}
    assert kept == {"recent"}
    assert store.first_use("iss", "old", now + 60)  # forgotten, so accepted again (it would be expired by then)


def test_a_database_outage_answers_503_so_the_ehr_can_retry(secured, keys):
    with state_of(secured).storage.engine.begin() as connection:
        connection.execute(text("DROP TABLE token_ids"))  # the jti of the call cannot be recorded
    for path in (SERVICE, "/cds-services/azathioprine-patient-view/feedback"):
        response = call(secured.test_client(), token(keys, path=path), path=path)
        assert response.status_code == 503 and response.headers["Retry-After"] == "5"
        assert response.get_json()["error"] == "database_unavailable"


def test_an_unreachable_database_answers_503_too(secured, keys, monkeypatch):
    engine = state_of(secured).storage.engine
    engine.dispose()  # no connection left in the pool: the next call must connect, and that fails

    def refuse(*_args, **_kwargs):
        raise engine.dialect.loaded_dbapi.OperationalError("connection refused")

    monkeypatch.setattr(engine.pool, "_creator", refuse)
    response = call(secured.test_client(), token(keys))
    assert response.status_code == 503 and response.get_json()["error"] == "database_unavailable"


def test_replayed_jti_is_refused(secured, keys):
    bearer = token(keys)
    client = secured.test_client()
    assert call(client, bearer).status_code == 200
    assert_refused(call(client, bearer))


def test_replay_is_refused_across_two_instances_sharing_a_database(make_app, trust_file, keys):
    first = make_app(auth="required", trust_file=str(trust_file), public_url="http://localhost")
    second = make_app(
        auth="required", trust_file=str(trust_file), public_url="http://localhost"
    )  # same data dir: same SQLite database
    bearer = token(keys)
    assert call(first.test_client(), bearer).status_code == 200
    assert_refused(call(second.test_client(), bearer))


def test_public_url_sets_the_expected_audience(make_app, trust_file, keys):
    app = make_app(auth="required", trust_file=str(trust_file), public_url="https://cds.example.org/")
    assert call(app.test_client(), token(keys, aud="https://cds.example.org" + SERVICE)).status_code == 200
    assert_refused(call(app.test_client(), token(keys)))  # the internal URL is not the audience


def test_preflight_needs_no_token(secured):
    response = secured.test_client().options(
        SERVICE, headers={"Origin": "http://127.0.0.1:8080", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 200


def test_no_token_or_jwt_in_logs(secured, keys, caplog):
    bearer = token(keys)
    with caplog.at_level("INFO", logger="aza_cds"):
        call(secured.test_client(), bearer)
        call(secured.test_client(), bearer)  # replay: refused and logged
        call(secured.test_client(), hs256_with_public_key(keys))
    assert "auth refused" in caplog.text and f"iss={ISS} jti=" in caplog.text  # the hook line names the token
    for part in bearer.split("."):
        assert part not in caplog.text


class MemoryReplays:
    def __init__(self):
        self.seen = set()

    def first_use(self, iss, jti, expires_at):
        new = (iss, jti) not in self.seen
        self.seen.add((iss, jti))
        return new


def sandbox_requests():
    lines = [json.loads(line) for line in (SANDBOX / "captured-requests.jsonl").read_text().splitlines()]
    return [line for line in lines if "Authorization" in line["headers"]]


@pytest.mark.parametrize("captured", sandbox_requests(), ids=lambda c: f"{c['method']} {c['path']}")
def test_the_sandbox_tokens_verify_in_developer_trust(captured):
    """Genuine third-party vectors: each verifies against the shipped developer trust file at its own iat."""
    bearer = captured["headers"]["Authorization"].split()[1]
    issued = jwt.decode(bearer, options={"verify_signature": False})["iat"]
    trust = TrustStore.from_files([REPO / "service" / "auth" / "dev-trust.json"])
    verifier = TokenVerifier(trust, MemoryReplays(), clock=lambda: issued + 5)
    verified = verifier.verify(f"Bearer {bearer}", "http://127.0.0.1:3001" + captured["path"])
    assert verified.iss == "https://sandbox.cds-hooks.org"
    with pytest.raises(AuthError):  # and a day later it has expired
        TokenVerifier(trust, MemoryReplays(), clock=lambda: issued + 86400).verify(
            f"Bearer {bearer}", "http://127.0.0.1:3001" + captured["path"]
        )


class TestFetchedKeys:
    """Keys from jwks_url or an allowed jku: fetched once, refreshed for an unknown kid, at most once a minute."""

    def make(self, keys, tmp_path, served):
        calls = []

        def fetch(url):
            calls.append(url)
            return served[url]

        path = tmp_path / "trust.json"
        path.write_text(json.dumps({"issuers": [{"iss": ISS, "jwks_url": JKU, "jku": [JKU]}]}))
        trust = TrustStore.from_files([path], fetch=fetch)
        return TokenVerifier(trust, MemoryReplays()), calls

    def test_fetched_once_then_cached(self, keys, tmp_path):
        verifier, calls = self.make(keys, tmp_path, {JKU: keys["jwks"]})
        for _ in range(3):
            verifier.verify(f"Bearer {token(keys)}", BASE + SERVICE)
        assert calls == [JKU]

    def test_unknown_kid_refreshes_but_is_rate_limited(self, keys, tmp_path):
        verifier, calls = self.make(keys, tmp_path, {JKU: {"keys": []}})
        for _ in range(5):
            with pytest.raises(AuthError):
                verifier.verify(f"Bearer {token(keys)}", BASE + SERVICE)
        assert calls == [JKU]  # one fetch, not five

    def test_unknown_issuer_and_foreign_jku_are_refused_before_any_fetch(self, keys, tmp_path):
        verifier, calls = self.make(keys, tmp_path, {JKU: keys["jwks"]})
        for bearer in (token(keys, iss="https://evil.example.com"), token(keys, header={"jku": "https://evil/jwks"})):
            with pytest.raises(AuthError):
                verifier.verify(f"Bearer {bearer}", BASE + SERVICE)
        assert calls == []


JUNK = [None, 1, "x", [], {}, True, "none", "HS256", "ES256", "PS384", {"a": 1}, ["a"], 1e308, -1, "rs-1", ISS, JKU]


def test_mutated_tokens_are_refused_never_a_500(secured, keys):
    """Junk in any header field or claim, cut signatures, non-JSON segments: always a clean 401."""
    rng = random.Random(2026)
    client = secured.test_client()
    for _ in range(300):
        head, body, signature = token(keys, key=rng.choice(["es", "rs"])).split(".")
        kind = rng.randrange(4)
        if kind == 0:
            header = json.loads(base64.urlsafe_b64decode(head + "=="))
            header[rng.choice(["alg", "kid", "typ", "jku", "crit"])] = rng.choice(JUNK)
            head = b64(json.dumps(header).encode())
        elif kind == 1:
            claims = json.loads(base64.urlsafe_b64decode(body + "=="))
            claims[rng.choice(["iss", "aud", "exp", "iat", "jti", "nbf"])] = rng.choice(JUNK)
            body = b64(json.dumps(claims).encode())
        elif kind == 2:
            signature = signature[: rng.randrange(len(signature))]
        else:
            head = b64(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        assert call(client, f"{head}.{body}.{signature}").status_code == 401


def test_every_algorithm_a_trust_file_may_name_has_a_verifier():
    from service.auth.verify import ALGORITHMS

    schema = json.loads((REPO / "service" / "auth" / "trust.schema.json").read_text())
    named = schema["properties"]["issuers"]["items"]["properties"]["algorithms"]["items"]["enum"]
    assert set(named) <= set(ALGORITHMS) and not {"none", "HS256"} & set(named)
