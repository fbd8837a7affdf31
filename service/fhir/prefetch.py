"""Patient data for one hook call, from prefetch or, when missing, from the EHR's FHIR server.

Each prefetch key is in one of four states (CDS Hooks 2.0): a resource or Bundle (used, following `next`
pages), `null` (no data), an OperationOutcome (the EHR failed: fetch it ourselves), or absent (fetch it
ourselves). Keys are read lazily, so a call that turns out not to involve azathioprine fetches nothing more.

A key whose template sorts results newest first has a look-back: once its pages reach further back than that, the
rest is older than any rule reads and is not fetched. When paging stops short of it, `truncated` says how far back
the results go (`read_back_to`), so that the cards can say which checks saw less than they look at.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.errors import PatientDataError
from service.fhir.client import FetchError, FhirClient, FhirSession, unpack
from service.fhir.values import as_dict, as_list

log = logging.getLogger("aza_cds")
TOKEN = re.compile(r"\{\{\s*([A-Za-z.]+)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


@dataclass(frozen=True)
class PrefetchKey:
    name: str
    template: str
    required: bool  # no usable data -> 412 when a rule needs it
    horizon_days: int | None = None  # the rules read its results back this far (and no further)
    newest_first: bool = False  # the template sorts newest first, so paging can stop at the horizon
    latest_only: bool = False  # the rules read only the newest result (within the horizon): one page holds it
    fallback: str | None = None  # a broader search, for a server that refuses this one (it asks for a superset)


class LookBack:
    """Pages of results, newest first, read until they reach back past `since` (a "YYYY-MM-DD" day).

    Reading stops early only when the server said it sorted (its `self` link carries `_sort`, as FHIR asks servers
    to echo the parameters they used) and no page contradicts it; otherwise every page is read. `latest_only`: the
    rules read the newest usable result only (a final value), so the first page that holds one is enough."""

    def __init__(self, since: str | None, latest_only: bool = False):
        self.since = since
        self.latest_only = latest_only
        self.oldest: str | None = None
        self.in_order = True
        self.sorted_by_server = False
        self.usable = False

    def add(self, page: dict) -> bool:
        """Take one searchset page; True once the results read cover the look-back."""
        if not self.sorted_by_server:
            self.sorted_by_server = "_sort=" in _self_link(page)
        for resource in unpack(page)[0]:
            day = result_day(resource)
            if not day:
                continue
            if self.oldest is not None and day > self.oldest:
                self.in_order = False
            self.oldest = day if self.oldest is None else min(self.oldest, day)
            self.usable = self.usable or _usable(resource)
        return self.covered

    @property
    def covered(self) -> bool:
        if not (self.sorted_by_server and self.in_order and self.oldest is not None):
            return False
        if self.latest_only:
            return self.usable
        return self.since is not None and self.oldest < self.since  # no horizon: every page is read


def _self_link(page: dict) -> str:
    links = as_list(page.get("link"))
    url = next((link.get("url") for link in links if isinstance(link, dict) and link.get("relation") == "self"), "")
    return url if isinstance(url, str) else ""


def _usable(result: dict) -> bool:
    """A result with a number that counts (final, amended or corrected), as the dose rules need of a weight."""
    quantity = as_dict(result.get("valueQuantity"))
    value = quantity.get("value")
    counts = result.get("status") in ("final", "amended", "corrected")
    return counts and isinstance(value, int | float) and not isinstance(value, bool) and value > 0


SETTING_FOR = {"labs": "AZA_CDS_PREFETCH_LABS=by-category", "conditions": "AZA_CDS_PREFETCH_CONDITIONS=all"}


def _say_once(client: FhirClient, key: str, error: FetchError) -> None:
    """Log a refused search once per client (per worker), which then asks the broader one from the start: the
    operator needs to hear it once, and the server need not refuse it at every call."""
    client.refused_searches.add(key)
    setting = f"; {SETTING_FOR[key]} asks for it from the start" if key in SETTING_FOR else ""
    log.warning("the FHIR server refused the '%s' search (%s): its broader search is used from now on%s",
                key, error, setting)  # fmt: skip


def horizon_start(now: datetime, days: int | None) -> str | None:
    """The first day of a horizon ("YYYY-MM-DD"), or None when there is none (every result is read). Two days early:
    days are compared as written, in whatever time zone, and a rule's window may end a day short of its start
    (a creatinine baseline of 365 days before a result 90 days old)."""
    return (now - timedelta(days=days + 2)).date().isoformat() if days else None


def result_day(resource: dict) -> str:
    """The day of a result or an immunization ("YYYY-MM-DD", what `_sort=date` orders by), or "" when it has none."""
    when = (
        resource.get("effectiveDateTime")
        or resource.get("effectiveInstant")
        or resource.get("occurrenceDateTime")
        or resource.get("date")  # an STU3 Immunization
    )
    if not when and isinstance(resource.get("effectivePeriod"), dict):
        when = resource["effectivePeriod"].get("start")
    when = when or resource.get("issued")
    return when[:10] if isinstance(when, str) else ""


class DataUnavailable(PatientDataError):
    """Required data could be had neither from prefetch nor from the FHIR server (answered with 412)."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def render_template(template: str, context: Mapping, user_id: object = None) -> str:
    """Fill `{{context.x}}` and `{{userPractitionerId}}`-style tokens; FetchError when one has no value."""

    def value(match: re.Match) -> str:
        token = match.group(1)
        if token.startswith("context."):
            found = context.get(token.removeprefix("context."))
            if isinstance(found, str | int) and not isinstance(found, bool) and str(found):
                return str(found)
        elif token in USER_TOKENS and isinstance(user_id, str):
            kind, _, ident = user_id.partition("/")
            if kind == USER_TOKENS[token] and ident:
                return ident
        raise FetchError(f"its template needs {token}, which the request does not give")

    return TOKEN.sub(value, template)


class PatientData:
    """Resolves prefetch keys on demand and remembers what could not be had, and why."""

    def __init__(self, call, keys: Mapping[str, PrefetchKey], client: FhirClient | None, now: datetime):
        self._call = call
        self._keys = keys
        self._client = client
        self._now = now
        self._session: FhirSession | None = None
        self._cache: dict[str, list[dict]] = {}
        self.unavailable: dict[str, str] = {}
        self.truncated: dict[str, str] = {}
        self.read_back_to: dict[str, str] = {}  # key -> the oldest day read, when paging stopped short of its horizon

    def since(self, key: str) -> str | None:
        return horizon_start(self._now, self._keys[key].horizon_days)

    def resources(self, key: str) -> list[dict]:
        if key not in self._cache:
            self._cache[key] = self._load(self._keys[key])
        return self._cache[key]

    def _load(self, key: PrefetchKey) -> list[dict]:
        prefetch = self._call.prefetch
        if key.name in prefetch and prefetch[key.name] is None:
            return []
        sent = prefetch.get(key.name)
        look_back = LookBack(self.since(key.name), key.latest_only) if key.newest_first else None
        if isinstance(sent, dict) and sent.get("resourceType") != "OperationOutcome":
            resources, next_url = unpack(sent)
            if next_url and not (look_back and look_back.add(sent)):
                resources += self._follow(key, next_url, look_back)
            return resources
        why = "the EHR sent an OperationOutcome instead" if isinstance(sent, dict) else "it was not prefetched"
        refused_before = self._client is not None and key.name in self._client.refused_searches
        try:
            if refused_before:  # this server refused the narrow search at an earlier call: go straight to the broad
                raise FetchError("it refused this search before", refused=True)
            resources, note = self._search(key.template, look_back)
        except FetchError as error:
            if not (error.refused and key.fallback):
                return self._give_up(key, f"{why} and {error}")
            if not refused_before and self._client is not None:
                _say_once(self._client, key.name, error)
            try:  # a server that does not run the narrow search (e.g. no `_sort`): ask for more, read all of it
                resources, note = self._search(key.fallback, None)
            except FetchError as second:
                return self._give_up(key, f"{why}, {error}, and its broader search: {second}")
            look_back = None
        if note:
            self._note_short(key, note, look_back)
        return resources

    def _search(self, template: str, look_back: LookBack | None) -> tuple[list[dict], str | None]:
        relative = render_template(template, self._call.context, self._call.context.get("userId"))
        return self._open_session().search(relative, enough=look_back.add if look_back else None)

    def _follow(self, key: PrefetchKey, next_url: str, look_back: LookBack | None) -> list[dict]:
        try:
            resources, note = self._open_session().read_pages(
                next_url, pages_done=1, enough=look_back.add if look_back else None
            )
        except FetchError as error:
            note, resources = f"only the first page was sent and the next could not be fetched: {error}", []
        if note:
            self._note_short(key, note, look_back)
        return resources

    def _note_short(self, key: PrefetchKey, note: str, look_back: LookBack | None) -> None:
        """Pages were left unread: say so, and how far back the results that were read go."""
        if look_back and look_back.in_order and look_back.oldest:
            self.read_back_to[key.name] = look_back.oldest
            note += f"; results were read back to {look_back.oldest} only, not to {look_back.since}"
        self.truncated[key.name] = note

    def _open_session(self) -> FhirSession:
        if self._client is None:
            raise FetchError("call-backs to the FHIR server are switched off")
        if self._session is None:
            self._session = self._client.session(self._call.fhir_server, self._call.access_token)
        return self._session

    def _give_up(self, key: PrefetchKey, reason: str) -> list[dict]:
        if key.required:
            raise DataUnavailable(key.name, reason)
        self.unavailable[key.name] = reason
        return []
