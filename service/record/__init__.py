"""The normalised patient record and its builder from FHIR data."""

from service.record.builder import RecordBuilder
from service.record.model import CodedEntry, LabResult, MedicationUse, PatientRecord

__all__ = ["CodedEntry", "LabResult", "MedicationUse", "PatientRecord", "RecordBuilder"]
