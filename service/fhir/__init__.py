"""FHIR data gathering: prefetch states and call-backs to the EHR's FHIR server."""

from service.fhir.client import FetchError, FhirClient, FhirSession, unpack
from service.fhir.prefetch import DataUnavailable, PatientData, PrefetchKey, render_template

__all__ = [
    "DataUnavailable",
    "FetchError",
    "FhirClient",
    "FhirSession",
    "PatientData",
    "PrefetchKey",
    "render_template",
    "unpack",
]
