"""A validated CDS Hooks request, as the rest of the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from service.errors import RequestError


class InvalidCall(RequestError, ValueError):
    """The request is well-formed JSON but breaks the hook's contract; `path` locates the problem."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


@dataclass(frozen=True)
class HookCall:
    service_id: str
    hook: str
    hook_instance: str
    context: dict
    prefetch: dict
    fhir_server: str | None
    access_token: str | None

    @classmethod
    def from_request(cls, service_id: str, hook: str, body: dict) -> HookCall:
        """Build from a body that already passed the JSON Schema; check what the schema cannot."""
        if body["hook"] != hook:
            raise InvalidCall(f"this service handles {hook!r}, not {body['hook']!r}", "$.hook")
        authorization = body.get("fhirAuthorization") or {}
        call = cls(
            service_id=service_id,
            hook=hook,
            hook_instance=body["hookInstance"],
            context=body["context"],
            prefetch=body.get("prefetch") or {},
            fhir_server=body.get("fhirServer"),
            access_token=authorization.get("access_token"),
        )
        call._check_selections()
        if call.fhir_server is not None:
            check_base_url(call.fhir_server, "$.fhirServer")
        return call

    @property
    def patient_id(self) -> str:
        return self.context["patientId"]

    @property
    def draft_entries(self) -> list:
        bundle = self.context.get("draftOrders")
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        return entries if isinstance(entries, list) else []

    def draft_at(self, position: int, reference: str) -> dict | None:
        """The draft resource at `position` in draftOrders when it is `reference` ("Type/id"): what an update
        suggestion starts from."""
        entries = self.draft_entries
        entry = entries[position] if 0 <= position < len(entries) else None
        resource = entry.get("resource") if isinstance(entry, dict) else None
        return resource if isinstance(resource, dict) and _reference(resource) == reference else None

    def resource_count(self) -> int:
        """Resources in the draft orders and the prefetch (Bundle entries count one each)."""
        values = [*self.prefetch.values(), self.context.get("draftOrders")]
        return sum(
            len(v["entry"]) if isinstance(v, dict) and isinstance(v.get("entry"), list) else 1 for v in values if v
        )

    @property
    def selections(self) -> frozenset[str]:
        return frozenset(self.context.get("selections") or ())

    def _check_selections(self) -> None:
        drafted = {_reference(entry.get("resource")) for entry in self.draft_entries if isinstance(entry, dict)}
        for index, selection in enumerate(self.context.get("selections") or ()):
            if selection not in drafted:
                raise InvalidCall(
                    f"selection {selection!r} does not name a resource in draftOrders",
                    f"$.context.selections[{index}]",
                )


def check_base_url(url: str, path: str) -> None:
    """A FHIR base URL: absolute http(s), a host, a valid port, no credentials, query, fragment or dot segments
    (which would make the allow-list compare one URL and the call-back fetch another)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise InvalidCall(f"fhirServer is not a valid URL: {error}", path) from None
    if port == 0 or "\\" in url:
        raise InvalidCall("fhirServer is not a valid URL: port 0 or a backslash", path)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCall("fhirServer must be an absolute http(s) URL with a host", path)
    if "@" in parts.netloc:
        raise InvalidCall("fhirServer must not carry credentials", path)
    if "?" in url or "#" in url:
        raise InvalidCall("fhirServer must be a base URL, without a query or a fragment", path)
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        raise InvalidCall("fhirServer must not contain '.' or '..' path segments", path)


def _reference(resource: object) -> str | None:
    if isinstance(resource, dict) and isinstance(resource.get("id"), str):
        return f"{resource.get('resourceType')}/{resource['id']}"
    return None
