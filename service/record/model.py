"""The normalised patient record that rules read: typed, small, and free of FHIR's many shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# Statuses under which a medication may still be taken. "unknown" counts: missing an interaction is worse than
# showing one for a medication whose status the EHR did not know.
ACTIVE_STATUSES = frozenset({"active", "on-hold", "intended", "unknown"})
# Statuses of a draft order that is being removed rather than placed (order-sign on revised orders).
WITHDRAWN_STATUSES = frozenset({"cancelled", "entered-in-error", "stopped", "completed", "revoked"})


@dataclass(frozen=True)
class MedicationUse:
    """One medication order or statement, with the pack concepts it was recognised as."""

    reference: str  # "MedicationRequest/123", or a description when the resource has no id
    resource_type: str
    resource_id: str | None
    status: str
    concepts: frozenset[str]
    label: str  # the EHR's own words for the medication, for card details
    evidence: str  # how the concepts were recognised, shown on cards
    start: datetime | None = None
    is_draft: bool = False
    is_selected: bool = False
    unverified_code: bool = False
    strength_mg: float | None = None

    def has(self, concept: str) -> bool:
        return concept in self.concepts

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class LabResult:
    analyte: str  # pack concept id, e.g. "wbc"
    code: str  # the LOINC code it came with
    value: float | None  # in the analyte's canonical unit; None when missing or in an unknown unit
    unit: str  # the canonical unit
    effective: datetime | None
    status: str


@dataclass(frozen=True)
class CodedEntry:
    """A Condition or AllergyIntolerance reduced to its codes, text and clinical status."""

    codes: frozenset[tuple[str, str]]
    text: str
    clinical_status: str


@dataclass
class PatientRecord:
    patient_id: str
    hook: str
    now: datetime
    drafts: list[MedicationUse] = field(default_factory=list)
    medications: list[MedicationUse] = field(default_factory=list)
    labs: list[LabResult] = field(default_factory=list)
    conditions: list[CodedEntry] = field(default_factory=list)
    allergies: list[CodedEntry] = field(default_factory=list)
    birth_date: str | None = None
    gender: str | None = None
    unreadable_drafts: list[str] = field(default_factory=list)
    medication_problems: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # prefetch key -> why it could not be had
    truncated: dict[str, str] = field(default_factory=dict)  # prefetch key -> what part is missing

    @property
    def drafts_in_scope(self) -> list[MedicationUse]:
        """The orders the hook asks about: order-select's selections, or every draft for order-sign."""
        if self.hook == "order-select":
            return [draft for draft in self.drafts if draft.is_selected]
        return list(self.drafts)

    @property
    def active_medications(self) -> list[MedicationUse]:
        return [use for use in self.medications if use.is_active]

    def involves(self, concept: str) -> bool:
        return any(use.has(concept) for use in self.drafts_in_scope + self.active_medications)
