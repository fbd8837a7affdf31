"""Patient data for one hook call, from prefetch or, when missing, from the EHR's FHIR server.

Each prefetch key is in one of four states (CDS Hooks 2.0): a resource or Bundle (used, following `next`
pages), `null` (no data), an OperationOutcome (the EHR failed: fetch it ourselves), or absent (fetch it
ourselves). Keys are read lazily, so a call that turns out not to involve azathioprine fetches nothing more.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from service.fhir.client import FetchError, FhirClient, FhirSession, unpack

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


class DataUnavailable(Exception):
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

    def __init__(self, call, keys: Mapping[str, PrefetchKey], client: FhirClient | None):
        self._call = call
        self._keys = keys
        self._client = client
        self._session: FhirSession | None = None
        self._cache: dict[str, list[dict]] = {}
        self.unavailable: dict[str, str] = {}
        self.truncated: dict[str, str] = {}

    def resources(self, key: str) -> list[dict]:
        if key not in self._cache:
            self._cache[key] = self._load(self._keys[key])
        return self._cache[key]

    def _load(self, key: PrefetchKey) -> list[dict]:
        prefetch = self._call.prefetch
        if key.name in prefetch and prefetch[key.name] is None:
            return []
        sent = prefetch.get(key.name)
        if isinstance(sent, dict) and sent.get("resourceType") != "OperationOutcome":
            resources, next_url = unpack(sent)
            if next_url:
                resources += self._follow(key, next_url)
            return resources
        why = "the EHR sent an OperationOutcome instead" if isinstance(sent, dict) else "it was not prefetched"
        try:
            resources, note = self._open_session().search(
                render_template(key.template, self._call.context, self._call.context.get("userId"))
            )
        except FetchError as error:
            return self._give_up(key, f"{why} and {error}")
        if note:
            self.truncated[key.name] = note
        return resources

    def _follow(self, key: PrefetchKey, next_url: str) -> list[dict]:
        try:
            resources, note = self._open_session().read_pages(next_url, pages_done=1)
        except FetchError as error:
            self.truncated[key.name] = f"only the first page was sent and the next could not be fetched: {error}"
            return []
        if note:
            self.truncated[key.name] = note
        return resources

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
