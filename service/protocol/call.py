"""A validated CDS Hooks request, as the rest of the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidCall(ValueError):
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
        return call

    @property
    def patient_id(self) -> str:
        return self.context["patientId"]

    @property
    def draft_entries(self) -> list:
        bundle = self.context.get("draftOrders")
        entries = bundle.get("entry") if isinstance(bundle, dict) else None
        return entries if isinstance(entries, list) else []

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


def _reference(resource: object) -> str | None:
    if isinstance(resource, dict) and isinstance(resource.get("id"), str):
        return f"{resource.get('resourceType')}/{resource['id']}"
    return None
