"""A FHIR server in memory, holding one patient's resources and answering the searches our prefetch templates make.

It implements the query subset CDS Hooks 2.0 recommends for templates (a patient reference, token equality with
`,` for "or", `_sort` by date, `_count` with `next` pages) and refuses anything else, so a template that strays
from the subset fails the tests. `aza-cds burden` and `aza-cds bench` use it to build what an EHR would send; tests
use it as the FHIR server behind call-backs (`transport()`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import httpx
import orjson

from service.errors import PatientDataError
from service.fhir.prefetch import render_template, result_day

# Search parameter -> where it looks, per the FHIR R4 search parameter definitions (token parameters only).
TOKENS = {
    "code": ("code",),
    "category": ("category",),
    "clinical-status": ("clinicalStatus",),
    "status": ("status",),
}


class UnsupportedSearch(PatientDataError, ValueError):
    """A search outside the subset this server (and CDS Hooks 2.0's recommendation) supports."""


class InMemoryFhirServer:
    def __init__(
        self, patient: dict, resources: list[dict], base_url: str = "https://ehr.example/fhir", honours_sort=True
    ):
        self.patient = patient
        self.honours_sort = honours_sort  # False: answers `_sort` in store order, as some servers do
        self.resources = resources
        self.base_url = base_url.rstrip("/")
        self.requests: list[str] = []  # the URLs asked for, for tests that count call-backs
        self.bytes_served = 0  # the size of the JSON answered through `transport()`

    def prefetch(self, templates: dict[str, str], context: dict, whole: bool = False) -> dict:
        """Each template's first page, as an EHR fills prefetch (a Bundle with a `next` link when there is more);
        `whole`: every page in one Bundle, as an EHR that does not paginate sends it."""
        return {key: self.get(render_template(template, context), whole) for key, template in templates.items()}

    def get(self, relative_url: str, whole: bool = False) -> dict | None:
        """A read (`Patient/<id>`) or a search (`Type?params`): the resource, or a searchset Bundle page."""
        path, _, query = relative_url.partition("?")
        if "/" in path:
            kind, _, ident = path.partition("/")
            return self.patient if kind == "Patient" and ident == self.patient.get("id") else None
        params = [(name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != "_offset"]
        offset = int(dict(parse_qsl(query)).get("_offset", "0"))
        found = self._search(path, params)
        count = len(found) if whole else int(dict(params).get("_count", len(found) or 1))
        page = found[offset : offset + count]
        applied = [(name, value) for name, value in params if name != "_sort" or self.honours_sort]
        self_url = f"{self.base_url}/{path}?{urlencode([*applied, ('_offset', str(offset))])}"
        links = [{"relation": "self", "url": self_url}]
        bundle: dict[str, object] = {"resourceType": "Bundle", "type": "searchset", "total": len(found), "link": links}
        bundle["entry"] = [
            {"fullUrl": f"{self.base_url}/{r['resourceType']}/{r.get('id')}", "resource": r} for r in page
        ]
        if offset + count < len(found):
            following = urlencode([*params, ("_offset", str(offset + count))])
            links.append({"relation": "next", "url": f"{self.base_url}/{path}?{following}"})
        return bundle

    def transport(self) -> httpx.MockTransport:
        """An httpx transport that answers GETs under `base_url` from this server (for FhirClient in tests)."""

        def handle(request: httpx.Request) -> httpx.Response:
            url = str(request.url)
            self.requests.append(url)
            relative = url.removeprefix(self.base_url + "/")
            document = self.get(relative)
            body = orjson.dumps(document or {"resourceType": "OperationOutcome"})
            self.bytes_served += len(body)
            headers = {"Content-Type": "application/fhir+json"}
            return httpx.Response(200 if document else 404, content=body, headers=headers)

        return httpx.MockTransport(handle)

    def _search(self, kind: str, params: list[tuple[str, str]]) -> list[dict]:
        found = [r for r in self.resources if r.get("resourceType") == kind]
        order = None
        for name, value in params:
            if name == "patient":  # one patient's server: all of its resources are that patient's
                found = found if value == self.patient.get("id") else []
            elif name in TOKENS:
                wanted = {_token(part) for part in value.split(",")}
                found = [r for r in found if _matches(r, TOKENS[name], wanted)]
            elif name == "_sort" and value in ("date", "-date"):
                order = value if self.honours_sort else None
            elif name != "_count":
                raise UnsupportedSearch(f"search parameter {name!r} is outside the supported subset")
        if order:  # by effective[x] (occurrence for immunizations), as `_sort=date` does; undated ones last
            dated = sorted((r for r in found if _sort_day(r)), key=_sort_day, reverse=order.startswith("-"))
            found = dated + [r for r in found if not _sort_day(r)]
        return found


def _sort_day(resource: dict) -> str:
    """What `_sort=date` orders by: effective[x] or occurrence[x], not `issued`."""
    return result_day({key: value for key, value in resource.items() if key != "issued"})


def _token(text: str) -> tuple[str | None, str]:
    system, bar, code = text.rpartition("|")
    return (system if bar else None), code


def _matches(resource: dict, fields: tuple[str, ...], wanted: set[tuple[str | None, str]]) -> bool:
    """A token match: a plain code (`status`) or a coding of a CodeableConcept, by `system|code` or by code alone."""
    for field in fields:
        value = resource.get(field)
        if isinstance(value, str):
            if (None, value) in wanted:
                return True
            continue
        for concept in value if isinstance(value, list) else [value]:
            codings = concept.get("coding") if isinstance(concept, dict) else None
            for coding in codings if isinstance(codings, list) else ():
                code = coding.get("code")
                if (None, code) in wanted or (coding.get("system"), code) in wanted:
                    return True
    return False
