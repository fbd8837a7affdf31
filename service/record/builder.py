"""Normalise one hook call's FHIR data into a PatientRecord.

Medication data is read first; everything else only when azathioprine is involved, so that the many calls
about other patients cost little and fetch nothing more.
"""

from __future__ import annotations

from datetime import datetime

from service.fhir import PatientData
from service.fhir.values import as_text
from service.knowledge import KnowledgePack
from service.protocol.call import HookCall
from service.record.clinical import current_concepts, read_coded_entries, read_observations
from service.record.dates import parse_fhir_datetime
from service.record.genomics import GenomicsReader
from service.record.medications import (
    MEDICATION_TYPES,
    MedicationIndex,
    NoMedicationYet,
    Unreadable,
    read_medication,
)
from service.record.model import NEVER_TAKEN_STATUSES, WITHDRAWN_STATUSES, PatientRecord
from service.terminology import Terminology

MEDICATION_KEYS = ("medicationRequests", "medicationStatements")
RESULT_KEYS = ("labs", "weights")  # read as lab values, each back to its horizon
GENOMIC_KEYS = ("genomics", "labs", "weights")  # read for TPMT/NUDT15 results, at any age (broad labs hold them too)


class RecordBuilder:
    def __init__(self, pack: KnowledgePack, terminology: Terminology):
        self._pack = pack
        self._terminology = terminology
        self._genomics = GenomicsReader(pack)

    def build(self, call: HookCall, data: PatientData, now: datetime) -> PatientRecord:
        record = PatientRecord(
            patient_id=call.patient_id, hook=call.hook, now=now, restart_gap_days=self._pack.restart_gap_days
        )
        drafts = self._draft_resources(call, record)
        on_file = [resource for key in MEDICATION_KEYS for resource in data.resources(key)]
        index = MedicationIndex.from_resources([resource for _, resource in drafts] + on_file)
        self._read_drafts(call, drafts, index, record, now)
        self._read_medications(on_file, index, record, now)
        if any(record.involves(concept) for concept in self._pack.focus_drugs):
            self._read_clinical_data(data, record)
        record.unavailable.update(data.unavailable)
        record.truncated.update(data.truncated)
        record.read_back_to.update(data.read_back_to)
        return record

    def _draft_resources(self, call: HookCall, record: PatientRecord) -> list[tuple[int, dict]]:
        """(position in draftOrders, resource) of each entry that is a FHIR resource."""
        resources = []
        for position, entry in enumerate(call.draft_entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                resources.append((position, resource))
            else:
                record.unreadable_drafts.append(self._pack.phrase("record-draft-not-a-resource", position=position + 1))
        return resources

    def _read_drafts(self, call: HookCall, drafts: list[tuple[int, dict]], index: MedicationIndex, record, now):
        for position, resource in drafts:
            if (
                resource["resourceType"] not in MEDICATION_TYPES
                or as_text(resource.get("status")) in WITHDRAWN_STATUSES
            ):
                continue  # other order types are not ours; withdrawn drafts are being removed
            reference = f"{resource['resourceType']}/{resource.get('id')}"
            try:
                selected = reference in call.selections
                use = read_medication(
                    resource, index, self._terminology, now, self._pack.phrase, is_draft=True, is_selected=selected
                )
            except NoMedicationYet:
                continue  # a draft still being filled in: nothing to check yet, and nothing wrong with the data
            except Unreadable as problem:
                record.unreadable_drafts.append(str(problem))
                continue
            if use is not None:  # (None only for on-file medications the pack does not know)
                use.draft_position = position  # which entry an update suggestion changes (ids need not be unique)
                record.drafts.append(use)

    def _read_medications(self, resources: list[dict], index: MedicationIndex, record: PatientRecord, now) -> None:
        drafted = {draft.reference for draft in record.drafts}
        for resource in resources:
            if (
                resource["resourceType"] not in MEDICATION_TYPES
                or as_text(resource.get("status")) in NEVER_TAKEN_STATUSES
            ):
                continue  # cancelled before use, a pending order, an error, or not taken: none of them is a use
            try:
                use = read_medication(resource, index, self._terminology, now, self._pack.phrase, known_only=True)
            except Unreadable as problem:
                record.medication_problems.append(str(problem))
                continue
            if use and use.reference not in drafted:
                record.medications.append(use)

    def _read_clinical_data(self, data: PatientData, record: PatientRecord) -> None:
        terms = self._terminology
        record.labs = [
            result
            for key in RESULT_KEYS
            for result in read_observations(
                _of_type(data.resources(key), "Observation"), terms, self._pack, data.since(key)
            )
        ]
        genomics = self._genomics.read(o for key in GENOMIC_KEYS for o in _of_type(data.resources(key), "Observation"))
        record.phenotypes, record.has_pgx_result = genomics.phenotypes, genomics.has_result
        record.pgx_uninterpretable = genomics.uninterpretable
        conditions = _of_type(data.resources("conditions"), "Condition")
        record.conditions = read_coded_entries(conditions, terms, current_only=True)
        for entry in record.conditions:
            entry.current = current_concepts(entry, self._pack, record.now)
        allergies = _of_type(data.resources("allergies"), "AllergyIntolerance")
        record.allergies = read_coded_entries(allergies, terms, current_only=True)
        immunizations = _of_type(data.resources("immunizations"), "Immunization")
        record.immunizations = read_coded_entries(immunizations, terms, code_field="vaccineCode")
        patient = next(iter(_of_type(data.resources("patient"), "Patient")), {})
        record.birth_date = parse_fhir_datetime(patient.get("birthDate"))
        record.gender = as_text(patient.get("gender")) or None
        record.deceased = _deceased(patient, record.now)


def _deceased(patient: dict, now: datetime) -> datetime | bool | None:
    """Patient.deceasedDateTime on or before now, or deceasedBoolean true; None otherwise."""
    died = parse_fhir_datetime(patient.get("deceasedDateTime"))
    if died:
        return died if died <= now else None
    return True if patient.get("deceasedBoolean") is True else None


def _of_type(resources: list[dict], resource_type: str) -> list[dict]:
    return [resource for resource in resources if resource.get("resourceType") == resource_type]
