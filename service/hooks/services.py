"""The three CDS services aza-cds offers, with the prefetch templates for the data their rules read."""

from __future__ import annotations

from dataclasses import dataclass

from service.fhir import PrefetchKey

# Only 2.0-valid tokens: root-level primitive context fields. No FHIRPath (3.0 ballot), no draft-order ids.
PREFETCH = {
    key.name: key
    for key in (
        PrefetchKey("patient", "Patient/{{context.patientId}}", required=False),
        PrefetchKey("medicationRequests", "MedicationRequest?patient={{context.patientId}}", required=True),
        PrefetchKey("medicationStatements", "MedicationStatement?patient={{context.patientId}}", required=False),
        PrefetchKey("labs", "Observation?patient={{context.patientId}}&category=laboratory", required=True),
        PrefetchKey(
            "weights", "Observation?patient={{context.patientId}}&code=http://loinc.org|29463-7", required=False
        ),
        PrefetchKey("conditions", "Condition?patient={{context.patientId}}", required=False),
        PrefetchKey("allergies", "AllergyIntolerance?patient={{context.patientId}}", required=False),
        PrefetchKey("immunizations", "Immunization?patient={{context.patientId}}", required=False),
    )
}

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

    def discovery(self) -> dict:
        return {
            "hook": self.hook,
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "prefetch": {key.name: key.template for key in PREFETCH.values()},
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
