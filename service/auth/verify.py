"""Verify the bearer JWT of an EHR call (CDS Hooks 2.0 + best practices). Every refusal is one AuthError whose
reason goes to the server log only; the client always gets the same 401.

Time claims are checked here against an injectable clock (60 s skew), not inside PyJWT, so that recorded third-party
tokens can be verified in tests with the clock frozen at their `iat`."""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt
import orjson
from jwt.algorithms import Algorithm, get_default_algorithms

from service.auth.trust import KeyNotFound, TrustStore
from service.errors import RequestError

if TYPE_CHECKING:
    from service.store import TokenIdStore

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
BASE64URL = re.compile(r"[A-Za-z0-9_-]*")  # an empty signature is refused with its algorithm ("none")
MAX_JTI = 256  # the replay store's column: longer ids are refused, never cut (two tokens would collide)
PRINTABLE_ID = re.compile(rf"[^\x00-\x20\x7f-\x9f]{{1,{MAX_JTI}}}")  # no control characters or spaces
SHOWN_CHARACTERS = 80  # attacker-controlled values in messages and logs are cut to this


def shown(value: object) -> str:
    """A value from a token, for an error message or a log line: repr, cut short."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "..."


CLOCK_SKEW_SECONDS = 60
MAX_LIFETIME_SECONDS = 300
REFUSED_ALGORITHMS = {"none", "HS256", "HS384", "HS512"}
ALGORITHMS: dict[str, Algorithm] = get_default_algorithms()  # PyJWT's, with cryptography: RS*, PS*, ES*
KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA"}  # algorithm family -> JWK kty it needs


class AuthError(RequestError):
    """A refused token; `str(error)` is the reason for the server log (never sent to the client)."""


@dataclass(frozen=True)
class Verified:
    iss: str
    jti: str
    sub: str | None


class TokenVerifier:
    def __init__(self, trust: TrustStore, token_ids: TokenIdStore, clock: Callable[[], float] = time.time):
        self._trust = trust
        self._token_ids = token_ids
        self._clock = clock

    def verify(self, authorization: str | None, audience: str) -> Verified:
        token = _bearer(authorization)
        header, unverified = _peek(token)
        fields = (unverified.get("iss"), header.get("alg"), header.get("kid"), header.get("jku", ""))
        if not all(isinstance(field, str) for field in fields):
            raise AuthError("iss, alg, kid and jku must be strings")
        issuer = self._trust.issuers.get(unverified["iss"])  # refused before any key is fetched
        if issuer is None:
            raise AuthError(f"issuer {shown(unverified.get('iss'))} is not trusted")
        algorithm, kid, jku = header.get("alg"), header.get("kid"), header.get("jku")
        if algorithm in REFUSED_ALGORITHMS or algorithm not in issuer.algorithms:
            raise AuthError(f"algorithm {shown(algorithm)} is not accepted for {issuer.iss}")
        if header.get("typ", "JWT") != "JWT" or not isinstance(kid, str) or not kid:
            raise AuthError("header must carry typ JWT and a kid")
        if jku is not None and jku not in issuer.jku:  # a string, checked above
            raise AuthError(f"jku {shown(jku)} is not allowed for {issuer.iss}")
        if "crit" in header or header.get("b64", True) is not True:
            raise AuthError("header extensions (crit, b64) are not supported")  # RFC 7515 4.1.11, RFC 7797
        try:
            key = self._trust.key_for(issuer, kid, jku)
            if KEY_TYPES[algorithm[:2]] != key.key_type:
                raise AuthError(f"token refused: {algorithm} does not fit the {key.key_type} key {shown(kid)}")
            _check_signature(token, ALGORITHMS[algorithm], key.key)
        except (KeyNotFound, jwt.PyJWTError, TypeError, ValueError, binascii.Error) as error:
            raise AuthError(f"token refused: {error}") from None
        claims = _claims(unverified, issuer.iss, audience)
        self._check_times(claims)
        jti = claims["jti"]
        if not isinstance(jti, str) or not PRINTABLE_ID.fullmatch(jti):
            raise AuthError(
                f"jti must be 1 to {MAX_JTI} characters without spaces or control characters"
            )  # stored whole, compared whole
        if not self._token_ids.first_use(issuer.iss, jti, float(claims["exp"])):
            raise AuthError(f"jti {shown(jti)} was already used")
        sub = claims.get("sub")
        return Verified(iss=issuer.iss, jti=claims["jti"], sub=sub if isinstance(sub, str) else None)

    def _check_times(self, claims: dict) -> None:
        now = self._clock()
        issued, expires = claims["iat"], claims["exp"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (issued, expires)):
            raise AuthError("iat and exp must be numbers")
        if issued > now + CLOCK_SKEW_SECONDS:
            raise AuthError("iat is in the future")
        if expires - issued > MAX_LIFETIME_SECONDS:
            raise AuthError(f"token lives {expires - issued:.0f} s, more than {MAX_LIFETIME_SECONDS} s")
        if expires < now - CLOCK_SKEW_SECONDS:
            raise AuthError("token expired")
        not_before = claims.get("nbf")
        if isinstance(not_before, int | float) and not_before > now + CLOCK_SKEW_SECONDS:
            raise AuthError("token not valid yet (nbf)")


def _peek(token: str) -> tuple[dict, dict]:
    """Header and claims before verification, only to choose the issuer and key (the signature is checked next).
    Every part must be strict base64url (RFC 7515): Python's decoder skips other characters, so "sig!!" would
    otherwise verify as "sig"."""
    parts = token.split(".")
    if len(parts) != 3 or not all(BASE64URL.fullmatch(part) and len(part) % 4 != 1 for part in parts):
        raise AuthError("malformed token")
    try:
        header, body, _ = parts
        values = [orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))) for part in (header, body)]
    except (ValueError, binascii.Error):  # also orjson.JSONDecodeError, a ValueError
        raise AuthError("malformed token") from None
    if not all(isinstance(value, dict) for value in values):
        raise AuthError("malformed token")
    return values[0], values[1]


def _check_signature(token: str, algorithm: Algorithm, key) -> None:
    """The JWS signature over the token's first two parts, by PyJWT's implementation of the algorithm (what
    PyJWS.decode does after parsing; the header and claims were parsed once already, by `_peek`)."""
    signing_input, _, signature = token.rpartition(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    if not algorithm.verify(signing_input.encode(), algorithm.prepare_key(key), raw):
        raise AuthError("token refused: Signature verification failed")


def _claims(claims: dict, issuer: str, audience: str) -> dict:
    """The verified claims: required ones present, `iss` the trusted issuer, `aud` the URL called (or in a list)."""
    for name in REQUIRED_CLAIMS:
        if name not in claims:
            raise AuthError(f'token is missing the "{name}" claim')
    if claims["iss"] != issuer:
        raise AuthError("issuer changed between header check and verification")
    aud = claims["aud"]
    if aud != audience and not (isinstance(aud, list) and audience in aud):
        raise AuthError(f"Audience doesn't match: expected {audience}")
    return claims


def _bearer(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("no bearer token")
    return token.strip()
