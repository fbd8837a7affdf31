"""The three CDS services aza-cds offers; their prefetch templates come from the knowledge pack (templates.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from service.fhir import PrefetchKey

USAGE = (
    "Send the declared prefetch, or a fhirServer that this deployment allows in AZA_CDS_FHIR_ALLOWLIST. "
    "Without medication orders or lab results the service answers 412."
)


@dataclass(frozen=True)
class Service:
    id: str
    hook: str
    title: str
    description: str

    def discovery(self, prefetch: Mapping[str, PrefetchKey]) -> dict:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {key.name: key.template for key in prefetch.values()},
            "usageRequirements": USAGE,
        }


SERVICES = {
    service.id: service
    for service in (
        Service(
            id="azathioprine-patient-view",
            hook="patient-view",
            title="Azathioprine safety review",
            description="For patients on azathioprine: contraindicated combinations and overdue blood-count "
            "monitoring, checked when the chart is opened.",
        ),
        Service(
            id="azathioprine-order-select",
            hook="order-select",
            title="Azathioprine order check (on selection)",
            description="Checks selected medication orders against azathioprine: interactions with febuxostat "
            "and allopurinol in both directions, and blood-count monitoring when azathioprine is ordered.",
        ),
        Service(
            id="azathioprine-order-sign",
            hook="order-sign",
            title="Azathioprine order check (before signing)",
            description="Checks every draft medication order against azathioprine before signing: "
            "interactions in both directions and blood-count monitoring.",
        ),
    )
}
