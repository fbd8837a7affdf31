"""The normalised patient record that rules read: typed, small, and free of FHIR's many shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.record.daily_dose import DailyDose

# Statuses under which a medication may still be taken. "unknown" counts: missing an interaction is worse than
# showing one for a medication whose status the EHR did not know.
ACTIVE_STATUSES = frozenset({"active", "on-hold", "intended", "unknown"})
# Statuses of a draft order that is being removed rather than placed (order-sign on revised orders).
WITHDRAWN_STATUSES = frozenset({"cancelled", "entered-in-error", "stopped", "completed", "revoked"})
# Statuses of medications on file that were never taken: not read as use, and not asked for by the prefetch.
NEVER_TAKEN_STATUSES = frozenset({"cancelled", "draft", "entered-in-error", "not-taken"})
# Condition clinical statuses that count as current (as does no status at all, which older FHIR versions allow).
CURRENT_CONDITION_STATUSES = ("active", "recurrence", "relapse")
# Result statuses that count as a result (preliminary and cancelled ones do not).
COUNTABLE = ("final", "amended", "corrected")


@dataclass(slots=True)  # built many times per call: a frozen dataclass's __init__ costs ~5x more
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
    dose: DailyDose = DailyDose()  # read_medication computes it, or says why it cannot
    reasons: frozenset[str] = frozenset()  # concepts named in reasonCode (the indication)
    supply_end: datetime | None = None  # when the supply runs out (validity or supply x repeats), when known
    prior: str | None = None  # the order this one renews (priorPrescription), "MedicationRequest/<id>"
    draft_position: int | None = None  # a draft's entry in draftOrders (its position: ids may repeat)

    def has(self, concept: str) -> bool:
        return concept in self.concepts

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(slots=True)
class LabResult:
    analyte: str  # pack concept id, e.g. "wbc"
    code: str  # the LOINC code it came with
    value: float | None  # in the analyte's canonical unit; None when missing or in an unknown unit
    unit: str  # the canonical unit
    effective: datetime | None
    status: str
    text: str = ""  # a qualitative result ("Positive", "Not detected"), lower-cased
    high: float | None = None  # the top of the result's own reference range, in the canonical unit
    low: float | None = None  # the bottom of it


@dataclass(frozen=True, slots=True)
class Measurement:
    """A countable result (final, amended or corrected) with a value and a date: what `latest` and `series` give
    the rules, so that none of them has to ask again whether the value or the date is there."""

    analyte: str
    value: float
    unit: str
    effective: datetime
    code: str = ""
    high: float | None = None
    low: float | None = None


@dataclass(slots=True)
class CodedEntry:
    """A Condition, AllergyIntolerance or Immunization reduced to the pack concepts it matches and its status."""

    concepts: frozenset[str]
    text: str
    status: str  # clinicalStatus code (Condition, AllergyIntolerance) or status (Immunization)
    verification: str = ""
    when: datetime | None = None  # onset, or occurrence for an Immunization
    ended: bool = False  # an abatement or end is recorded
    code_label: str = ""  # the coding that matched ("SNOMED 34000006"); empty when recognised by name
    history: frozenset[str] = frozenset()  # concepts the name gives as history ("Past pregnancy history of ...")
    current: frozenset[str] = frozenset()  # concepts it counts as current for (conditions: set by the builder)

    @property
    def is_current(self) -> bool:
        return is_current_status(self.status, self.verification, self.ended)


def is_current_status(status: str, verification: str, ended: bool) -> bool:
    """A condition or allergy by its status only: active (or no status, as older FHIR versions and encounter
    diagnoses allow), not refuted, no abatement."""
    refuted = verification in ("refuted", "entered-in-error")
    return not refuted and not ended and (status == "" or status in CURRENT_CONDITION_STATUSES)


@dataclass(frozen=True)
class Phenotype:
    gene: str  # "TPMT" or "NUDT15"
    value: str  # CPIC term: Normal/Intermediate/Possible Intermediate/Poor Metabolizer, Indeterminate
    evidence: str  # the result it came from: "Observation/id (date)"
    method: str = ""  # how it was read, in the pack's words: "reported phenotype", "genotype *1/*3A", ...
    note: str = ""  # why a genotype is Indeterminate (an allele CPIC does not list, or of uncertain function)
    conflict: str = ""  # other results for the gene that read differently
    from_activity: bool = False  # read from an enzyme activity measurement (unreliable after a transfusion)


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
    immunizations: list[CodedEntry] = field(default_factory=list)
    phenotypes: dict[str, Phenotype] = field(default_factory=dict)
    has_pgx_result: bool = False  # any TPMT or NUDT15 result, even one whose phenotype could not be read
    pgx_uninterpretable: dict[str, str] = field(default_factory=dict)  # gene -> results on file that say nothing clear
    birth_date: datetime | None = None
    gender: str | None = None
    unreadable_drafts: list[str] = field(default_factory=list)
    medication_problems: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # prefetch key -> why it could not be had
    truncated: dict[str, str] = field(default_factory=dict)  # prefetch key -> what part is missing
    read_back_to: dict[str, str] = field(default_factory=dict)  # prefetch key -> oldest day read, when short
    deceased: datetime | bool | None = None  # Patient.deceased[x]: a date, True, or None (alive or not recorded)
    restart_gap_days: int = 90  # the pack's gap after which taking a drug again is a restart (see therapy.py)
    therapies: dict = field(default_factory=dict, repr=False, compare=False)  # cache of therapy.therapy_of
    _latest: dict[str, Measurement] | None = field(default=None, repr=False, compare=False)
    _series: dict[str, list[Measurement]] | None = field(default=None, repr=False, compare=False)
    _active: tuple[int, list[MedicationUse]] | None = field(default=None, repr=False, compare=False)
    _in_scope: tuple[int, list[MedicationUse]] | None = field(default=None, repr=False, compare=False)
    _concepts: tuple[tuple[int, int], frozenset[str]] | None = field(default=None, repr=False, compare=False)

    @property
    def drafts_in_scope(self) -> list[MedicationUse]:
        """The orders the hook asks about: order-select's selections, or every draft for order-sign (cached like
        `active_medications`; rules read it many times)."""
        if self._in_scope is None or self._in_scope[0] != len(self.drafts):
            selected = [draft for draft in self.drafts if draft.is_selected or self.hook != "order-select"]
            self._in_scope = (len(self.drafts), selected)
        return self._in_scope[1]

    @property
    def active_medications(self) -> list[MedicationUse]:
        """Cached once the medication list is complete (the builder reads medications before anything uses this)."""
        if self._active is None or self._active[0] != len(self.medications):
            self._active = (len(self.medications), [use for use in self.medications if use.is_active])
        return self._active[1]

    @property
    def medication_concepts(self) -> frozenset[str]:
        """Every concept of a draft or an active medication: a cheap first test for interaction rules."""
        key = (len(self.drafts), len(self.medications))
        if self._concepts is None or self._concepts[0] != key:
            uses = self.drafts + self.active_medications
            self._concepts = (key, frozenset().union(*(use.concepts for use in uses)))
        return self._concepts[1]

    def involves(self, concept: str) -> bool:
        return any(use.has(concept) for use in self.drafts_in_scope + self.active_medications)

    def latest(self, analyte: str) -> Measurement | None:
        """The most recent countable result with a value (none dated in the future)."""
        if self._latest is None:
            cutoff = self.now + timedelta(days=1)
            latest: dict[str, Measurement] = {}
            for r in self.labs:
                if r.status not in COUNTABLE or r.value is None or r.effective is None or r.effective > cutoff:
                    continue
                known = latest.get(r.analyte)
                if known is None or r.effective > known.effective:
                    latest[r.analyte] = _measurement(r, r.value, r.effective)
            self._latest = latest  # rules run after the record is built, so the labs no longer change
        return self._latest.get(analyte)

    def series(self, analyte: str) -> list[Measurement]:
        """Countable results of one analyte with a non-zero value and a date, oldest first."""
        if self._series is None:
            grouped: dict[str, list[Measurement]] = {}
            for r in self.labs:
                if r.value and r.effective and r.status in COUNTABLE:
                    grouped.setdefault(r.analyte, []).append(_measurement(r, r.value, r.effective))
            self._series = {name: sorted(found, key=lambda m: m.effective) for name, found in grouped.items()}
        return self._series.get(analyte, [])

    def has_condition(self, concepts: set[str] | frozenset[str]) -> bool:
        return any(entry.current & concepts for entry in self.conditions)

    def condition_entry(self, concepts: set[str] | frozenset[str]) -> CodedEntry | None:
        """The most recent current condition entry for any of `concepts`."""
        found = [entry for entry in self.conditions if entry.current & concepts]
        return max(found, key=lambda e: e.when or datetime.min.replace(tzinfo=self.now.tzinfo), default=None)

    @property
    def age_years(self) -> int | None:
        if not self.birth_date:
            return None
        born = self.birth_date.date()
        today = self.now.date()
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _measurement(result: LabResult, value: float, effective: datetime) -> Measurement:
    return Measurement(result.analyte, value, result.unit, effective, result.code, result.high, result.low)
