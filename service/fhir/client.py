"""Calls back to the EHR's FHIR server for data missing from prefetch: allow-listed, bounded, no redirects."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import orjson

from service.errors import PatientDataError
from service.fhir.deadline import DeadlineTransport, within_deadline
from service.fhir.values import as_list

Enough = Callable[[dict], bool]  # sees each page (a searchset Bundle); True when the rest is not needed


class FetchError(PatientDataError):
    """A call-back that could not be made or did not succeed; the message is safe to show the client. `refused`:
    the server answered that it will not run this search (a parameter it does not support, a URL too long)."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


REFUSALS = frozenset({400, 414, 422, 501})  # statuses that refuse the search itself, not the caller or the moment


class FhirClient:
    """Shared per worker. `session()` opens the call-backs of one hook call."""

    def __init__(
        self,
        allowlist: tuple[str, ...],
        allow_loopback_http: bool = False,
        observe=None,
        budget_seconds: float = 2.0,
        max_pages: int = 10,
        max_response_bytes: int = 10_000_000,
        transport: httpx.BaseTransport | None = None,
    ):
        self.allowlist = tuple(urlsplit(prefix) for prefix in allowlist)
        self.allow_loopback_http = allow_loopback_http
        self._observe = observe or (lambda seconds, ok: None)  # metrics: latency and success of each call-back
        self.budget_seconds = budget_seconds
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes
        self._transport = transport  # None: httpx's own (sockets, TLS); tests pass an httpx.MockTransport
        self._client: httpx.Client | None = None
        self.refused_searches: set[str] = set()  # prefetch keys whose narrow search a server refused (logged once)

    @property
    def _http(self) -> httpx.Client:
        # Made on first use: most hook calls never call back, and a worker forked from the master makes its own.
        if self._client is None:
            self._client = httpx.Client(
                follow_redirects=False,
                headers={"Accept": "application/fhir+json"},
                transport=self._transport or DeadlineTransport(),
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),  # keeps none: calls share nothing
            )
        return self._client

    def is_allowed(self, url: str) -> bool:
        """https (plain http only to loopback in developer mode), scheme, host and port equal to an allow-list
        entry, and the path under its path, segment by segment. A path that a client could rewrite before sending
        (dot segments, encoded slashes or backslashes) is never allowed."""
        try:
            target = urlsplit(url)
            target.port  # noqa: B018 - a port out of range or not a number raises
        except ValueError:
            return False
        if not target.hostname or target.username or target.password or not _plain_path(target.path):
            return False
        if target.scheme != "https" and not (
            target.scheme == "http" and self.allow_loopback_http and _loopback(target)
        ):
            return False
        return any(_same_origin(target, prefix) and _under(target.path, prefix.path) for prefix in self.allowlist)

    def session(self, base_url: str | None, access_token: str | None) -> FhirSession:
        if not base_url:
            raise FetchError("the request has no fhirServer to fetch it from")
        if not self.is_allowed(base_url):
            raise FetchError("its fhirServer is not in AZA_CDS_FHIR_ALLOWLIST")
        return FhirSession(self, base_url.rstrip("/") + "/", access_token)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def post_form(self, url: str, form: dict[str, str], auth: httpx.Auth | None = None) -> tuple[int, bytes]:
        """A form POST (the SMART token request) within the call-backs' limits: the time budget, the response
        size, no redirects, no cookies kept."""
        deadline = time.monotonic() + self.budget_seconds
        body = bytearray()
        try:
            with (
                within_deadline(deadline),
                self._http.stream(
                    "POST",
                    url,
                    data=form,
                    auth=auth,
                    timeout=self.budget_seconds,
                    headers={"Accept": "application/json"},
                ) as response,  # fmt: skip
            ):
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes or time.monotonic() > deadline:
                        raise FetchError("the answer was too large or too late")
        except httpx.HTTPError:
            raise FetchError("the server could not be reached") from None
        return response.status_code, bytes(body)

    def get_json(self, url: str, headers: dict[str, str], deadline: float) -> dict:
        started = time.monotonic()
        try:
            document = self._get_json(url, headers, deadline)
        except FetchError:
            self._observe(time.monotonic() - started, False)
            raise
        self._observe(time.monotonic() - started, True)
        return document

    def _get_json(self, url: str, headers: dict[str, str], deadline: float) -> dict:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("the FHIR server did not answer in time")
        try:
            with (
                within_deadline(deadline),
                self._http.stream("GET", url, headers=headers, timeout=remaining) as response,
            ):
                if response.status_code != 200:
                    code = response.status_code
                    raise FetchError(f"the FHIR server answered HTTP {code}", refused=code in REFUSALS)
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_response_bytes:
                        raise FetchError("the FHIR server's answer was larger than AZA_CDS_FHIR_MAX_RESPONSE_BYTES")
                    if time.monotonic() > deadline:
                        raise FetchError("the FHIR server did not answer in time")
        except httpx.TimeoutException:
            raise FetchError("the FHIR server did not answer in time") from None
        except httpx.HTTPError:
            raise FetchError("the FHIR server could not be reached") from None
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise FetchError("the FHIR server's answer was not JSON") from None
        if not isinstance(document, dict):
            raise FetchError("the FHIR server's answer was not a FHIR resource")
        return document


class FhirSession:
    """The call-backs of one hook call: one server, one token, one time budget shared by every request."""

    def __init__(self, client: FhirClient, base_url: str, access_token: str | None):
        self._client = client
        self.base_url = base_url
        self._headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        self._deadline = time.monotonic() + client.budget_seconds

    def search(self, relative_url: str, enough: Enough | None = None) -> tuple[list[dict], str | None]:
        return self.read_pages(urljoin(self.base_url, relative_url), pages_done=0, enough=enough)

    def read_pages(self, url: str, pages_done: int, enough: Enough | None = None) -> tuple[list[dict], str | None]:
        """Resources from `url` and its `next` pages, plus a note when some pages were left unread. `enough(page)`,
        when given, sees each page and says when the rest is not needed. A page after the first that
        fails ends the reading with a note; what was read is kept."""
        resources: list[dict] = []
        first = True
        while True:
            if not (self._client.is_allowed(url) and _within(url, self.base_url)):
                return resources, "a further page lies outside the fhirServer and was not fetched"
            if pages_done >= self._client.max_pages:
                return resources, f"results beyond {self._client.max_pages} pages were not fetched"
            try:
                document = self._client.get_json(url, self._headers, self._deadline)
                if document.get("resourceType") == "OperationOutcome":
                    raise FetchError("the FHIR server answered with an OperationOutcome", refused=True)
            except FetchError as error:
                if first:
                    raise
                return resources, f"page {pages_done + 1} could not be fetched ({error})"
            first = False
            pages_done += 1
            found, next_url = unpack(document)
            resources += found
            if not next_url or (enough and enough(document)):
                return resources, None
            url = urljoin(url, next_url)


def unpack(document: dict) -> tuple[list[dict], str | None]:
    """A searchset Bundle's resources and its `next` link, or a single resource."""
    if document.get("resourceType") != "Bundle":
        return ([document] if isinstance(document.get("resourceType"), str) else []), None
    entries = as_list(document.get("entry"))
    resources = [
        entry["resource"]
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("resource"), dict)
        and isinstance(entry["resource"].get("resourceType"), str)
    ]
    links = as_list(document.get("link"))
    next_url = next(
        (link.get("url") for link in links if isinstance(link, dict) and link.get("relation") == "next"), None
    )
    return resources, next_url if isinstance(next_url, str) and next_url else None


def _loopback(parts) -> bool:
    return parts.hostname in ("localhost", "::1") or parts.hostname.startswith("127.")


def _same_origin(target, prefix) -> bool:
    return (target.scheme, target.hostname, _port(target)) == (prefix.scheme, prefix.hostname, _port(prefix))


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def _plain_path(path: str) -> bool:
    """No dot segments, encoded slashes or backslashes: the URL the allow-list compares is the URL fetched (an HTTP
    client removes dot segments before sending)."""
    decoded = [unquote(segment) for segment in path.split("/")]
    return not any(segment in (".", "..") or "/" in segment or "\\" in segment for segment in decoded)


def _within(url: str, base_url: str) -> bool:
    """Same origin as the fhirServer and under its path (both already checked plain by `is_allowed`)."""
    target, base = urlsplit(url), urlsplit(base_url)
    return _same_origin(target, base) and _under(target.path, base.path)


def _under(path: str, prefix_path: str) -> bool:
    prefix = prefix_path.rstrip("/")
    return not prefix or path.rstrip("/") == prefix or path.startswith(prefix + "/")
