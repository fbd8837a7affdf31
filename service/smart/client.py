"""The SMART App Launch client of the monitoring timeline (EHR launch, authorization code with PKCE S256).

v2 servers publish `.well-known/smart-configuration`; v1 servers may publish only the OAuth URIs in their
CapabilityStatement, which is read when the first is missing. The FHIR server (`iss`) must be on the call-back
allow-list; discovery, the token request and the data reads share the call-backs' limits (time budget, response
size, no redirects, no cookies) and their transport.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from service.config import ConfigError
from service.errors import PatientDataError, RequestError
from service.fhir import FhirClient
from service.fhir.client import FetchError

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
# Read-only patient scopes for what the rules read, in SMART v2 (.rs) or v1 (.read) form, and the EHR launch.
RESOURCES = ("Patient", "MedicationRequest", "MedicationStatement", "Observation", "Condition", "AllergyIntolerance",
             "Immunization")  # fmt: skip


class LaunchRefused(RequestError):
    """The launch cannot start: a parameter is missing, or the FHIR server is not one this service may call."""


class LaunchFailed(PatientDataError):
    """The EHR's authorization or FHIR server did not give what the app needs; the message says which step."""


class ClientKey:
    """A confidential asymmetric client's key (SMART App Launch client authentication, RFC 7523): it signs a
    short assertion for each token request; its public half is published at /smart/jwks.json for the EHR."""

    ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    def __init__(self, pem: bytes, where: str):
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp384r1":
            self._algorithm, public = "ES384", json.loads(ECAlgorithm.to_jwk(key.public_key()))
        elif isinstance(key, rsa.RSAPrivateKey):
            self._algorithm, public = "RS384", json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        else:
            raise ConfigError(f"{where} must hold an EC P-384 or RSA private key (ES384 or RS384)")
        self._key = key
        self.kid = _thumbprint(public)
        self.jwk = public | {"kid": self.kid, "alg": self._algorithm, "use": "sig", "key_ops": ["verify"]}

    @classmethod
    def from_file(cls, path: Path) -> ClientKey:
        try:
            return cls(path.read_bytes(), f"AZA_CDS_SMART_CLIENT_KEY ({path})")
        except (OSError, ValueError, TypeError) as error:
            raise ConfigError(f"AZA_CDS_SMART_CLIENT_KEY ({path}) cannot be read as a private key: {error}") from None

    def assertion(self, client_id: str, token_url: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": token_url,
            "exp": now + 300,
            "jti": secrets.token_urlsafe(24),
        }
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers={"kid": self.kid, "typ": "JWT"})


def _thumbprint(public: dict) -> str:
    """RFC 7638: the SHA-256 of the key's required members, as the key id."""
    members = ("crv", "kty", "x", "y") if public["kty"] == "EC" else ("e", "kty", "n")
    canonical = json.dumps({name: public[name] for name in members}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


@dataclass(frozen=True)
class SmartConfiguration:
    authorize_url: str
    token_url: str
    v2: bool  # the server declares SMART v2 permissions (scopes as .rs)


@dataclass(frozen=True)
class Grant:
    access_token: str
    patient: str
    app_context: str = ""  # what the card that linked here said (CDS Hooks `appContext`), when the EHR passes it


def pkce_pair() -> tuple[str, str]:
    """A code verifier (RFC 7636: 43-128 unreserved characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def scopes(v2: bool) -> str:
    suffix = "rs" if v2 else "read"
    return " ".join(["launch", *(f"patient/{resource}.{suffix}" for resource in RESOURCES)])


class SmartClient:
    """A public client (PKCE alone), or a confidential one with a secret (HTTP Basic) or a key (a signed assertion)."""

    def __init__(self, fhir: FhirClient, client_id: str, client_secret: str = "", key: ClientKey | None = None):
        self.fhir = fhir
        self.client_id = client_id
        self._secret = client_secret
        self.key = key

    def check_iss(self, iss: str) -> str:
        if not iss or not self.fhir.is_allowed(iss):
            raise LaunchRefused("the FHIR server that launched the app is not in AZA_CDS_FHIR_ALLOWLIST")
        return iss.rstrip("/")

    def discover(self, iss: str) -> SmartConfiguration:
        """The server's authorize and token endpoints (smart-configuration, else the CapabilityStatement)."""
        deadline = time.monotonic() + self.fhir.budget_seconds
        try:
            document = self.fhir.get_json(f"{iss}/.well-known/smart-configuration", {}, deadline)
            authorize, token = document.get("authorization_endpoint"), document.get("token_endpoint")
            v2 = "permission-v2" in (document.get("capabilities") or [])
        except FetchError:
            try:
                authorize, token = _oauth_uris(self.fhir.get_json(f"{iss}/metadata", {}, deadline))
            except FetchError as error:
                raise LaunchFailed(f"the FHIR server's SMART configuration could not be read: {error}") from None
            v2 = False
        if not (self._endpoint(authorize) and self._endpoint(token)):
            raise LaunchFailed("the FHIR server's SMART configuration names no usable authorize and token endpoints")
        assert isinstance(authorize, str) and isinstance(token, str)  # checked by _endpoint
        return SmartConfiguration(authorize, token, v2)

    def authorize_redirect(
        self, config: SmartConfiguration, iss: str, launch: str, redirect_uri: str, state: str, challenge: str
    ) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "launch": launch,
            "scope": scopes(config.v2),
            "state": state,
            "aud": iss,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        joiner = "&" if urlsplit(config.authorize_url).query else "?"
        return f"{config.authorize_url}{joiner}{urlencode(query)}"

    def exchange(self, token_url: str, code: str, verifier: str, redirect_uri: str) -> Grant:
        """The authorization code for an access token and the patient in context."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "code_verifier": verifier, "client_id": self.client_id}  # fmt: skip
        if self.key:
            form |= {"client_assertion_type": ClientKey.ASSERTION_TYPE,
                     "client_assertion": self.key.assertion(self.client_id, token_url)}  # fmt: skip
        auth = httpx.BasicAuth(self.client_id, self._secret) if self._secret else None
        try:
            status, content = self.fhir.post_form(token_url, form, auth)
        except FetchError as error:
            raise LaunchFailed(f"the authorization server's token endpoint failed: {error}") from None
        if status != 200:
            raise LaunchFailed(f"the authorization server refused the code (HTTP {status})")
        try:
            answer = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise LaunchFailed("the authorization server's token answer was not JSON") from None
        token = answer.get("access_token") if isinstance(answer, dict) else None
        patient = answer.get("patient") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token or not isinstance(patient, str) or not patient:
            raise LaunchFailed("the token answer names no access token or no patient in context")
        context = answer.get("appContext")
        return Grant(token, patient, context if isinstance(context, str) else "")

    def _endpoint(self, url: object) -> bool:
        """https (or loopback http in developer mode), absolute, with a host."""
        if not isinstance(url, str):
            return False
        parts = urlsplit(url)
        loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
        return bool(parts.hostname) and (parts.scheme == "https" or (parts.scheme == "http" and loopback and
                                                                     self.fhir.allow_loopback_http))  # fmt: skip


def _oauth_uris(capability: dict) -> tuple[object, object]:
    for rest in capability.get("rest") or []:
        security = rest.get("security") if isinstance(rest, dict) else None
        for extension in (security or {}).get("extension") or []:
            if isinstance(extension, dict) and extension.get("url") == OAUTH_URIS:
                uris = {
                    e.get("url"): e.get("valueUri") for e in extension.get("extension") or [] if isinstance(e, dict)
                }
                return uris.get("authorize"), uris.get("token")
    return None, None
