"""Who may call: the trust file (`AZA_CDS_TRUST_FILE`) and the signing keys of each trusted issuer.

Keys come inline (`jwks`), from a file (`jwks_file`) or from URLs (`jwks_url`, or a token's `jku` when the issuer
lists it). Fetched key sets are cached and refreshed when a token names an unknown `kid`, at most once a minute per
URL, so a stream of bogus tokens cannot make us hammer anyone.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import httpx
from jsonschema import Draft202012Validator
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from service.errors import RequestError, SetupError

DEFAULT_ALGORITHMS = ("ES384", "RS384")
REFRESH_INTERVAL_SECONDS = 60.0
FETCH_TIMEOUT_SECONDS = 2.0
MAX_JWKS_BYTES = 256_000


class TrustError(SetupError, ValueError):
    """The trust file cannot be used; the message says why (shown at start-up)."""


class KeyNotFound(RequestError):
    """No key for this issuer and kid, even after a refresh; the message is for the server log only."""


Fetcher = Callable[[str], dict]


def fetch_jwks(url: str) -> dict:
    """GET a JWK Set over https, bounded in time and size, without following redirects."""
    with httpx.Client(follow_redirects=False, timeout=FETCH_TIMEOUT_SECONDS) as client:
        response = client.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200 or len(response.content) > MAX_JWKS_BYTES:
        raise KeyNotFound(f"key set at {url} answered HTTP {response.status_code}")
    return response.json()


@dataclass
class Issuer:
    iss: str
    algorithms: tuple[str, ...]
    static_keys: dict[str, PyJWK]
    urls: tuple[str, ...]  # jwks_url first, then allowed jku
    jku: frozenset[str]


@dataclass
class TrustStore:
    issuers: dict[str, Issuer]
    fetch: Fetcher = fetch_jwks
    _cache: dict[str, dict[str, PyJWK]] = field(default_factory=dict)
    _fetched_at: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_files(cls, paths: list[Path], fetch: Fetcher = fetch_jwks) -> TrustStore:
        issuers: dict[str, Issuer] = {}
        for path in paths:
            for issuer in _read_trust_file(path):
                issuers[issuer.iss] = issuer
        return cls(issuers, fetch)

    def key_for(self, issuer: Issuer, kid: str, jku: str | None) -> PyJWK:
        if kid in issuer.static_keys:
            return issuer.static_keys[kid]
        urls = [jku] if jku else list(issuer.urls)
        for url in urls:
            key = self._cached(url, kid)
            if key:
                return key
        raise KeyNotFound(f"no key {kid[:80]!r} for issuer {issuer.iss!r}")  # kid comes from the token: cut

    def _cached(self, url: str, kid: str) -> PyJWK | None:
        with self._lock:
            keys = self._cache.get(url, {})
            if kid in keys:
                return keys[kid]
            if time.monotonic() - self._fetched_at.get(url, -REFRESH_INTERVAL_SECONDS) < REFRESH_INTERVAL_SECONDS:
                return None  # refreshed less than a minute ago: do not fetch again for an unknown kid
            self._fetched_at[url] = time.monotonic()
        try:
            keys = _keys(self.fetch(url))
        except (httpx.HTTPError, KeyNotFound, ValueError, PyJWKError, PyJWKSetError):
            return None
        with self._lock:
            self._cache[url] = keys
        return keys.get(kid)


def _read_trust_file(path: Path) -> list[Issuer]:
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise TrustError(f"cannot read trust file {path}: {error}") from None
    schema = json.loads(resources.files("service.auth").joinpath("trust.schema.json").read_text())
    errors = [
        f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in Draft202012Validator(schema).iter_errors(document)
    ]
    if errors:
        raise TrustError(f"trust file {path} is invalid: " + "; ".join(errors))
    return [_issuer(entry, path.parent) for entry in document["issuers"]]


def _issuer(entry: dict, folder: Path) -> Issuer:
    keys: dict[str, PyJWK] = {}
    try:
        if "jwks" in entry:
            keys |= _keys(entry["jwks"])
        if "jwks_file" in entry:
            keys |= _keys(json.loads((folder / entry["jwks_file"]).read_text()))
    except (OSError, ValueError, PyJWKError, PyJWKSetError) as error:
        raise TrustError(f"keys of issuer {entry['iss']!r} cannot be read: {error}") from None
    urls = tuple(filter(None, [entry.get("jwks_url"), *entry.get("jku", ())]))
    return Issuer(
        iss=entry["iss"],
        algorithms=tuple(entry.get("algorithms", DEFAULT_ALGORITHMS)),
        static_keys=keys,
        urls=urls,
        jku=frozenset(entry.get("jku", ())),
    )


def _keys(jwks: dict) -> dict[str, PyJWK]:
    """Signing keys by kid; keys without a kid cannot be chosen by a token and are skipped."""
    found = {}
    for key in PyJWKSet.from_dict(jwks).keys:
        if key.key_id and key.public_key_use in (None, "sig"):
            found[key.key_id] = key
    return found
