"""The prefetch templates, derived from the knowledge pack: ask the EHR for what the rules read, and no more.

An EHR pays for every prefetch twice (its search, then our parse), and a 20-year record holds thousands of lab
results that no rule reads. So:

- `labs`: results by the LOINC codes of the pack's lab concepts (panel codes too: a panel sent as one Observation
  with components), codes without their system, newest first, a page at a time; paging stops once the rules'
  look-back is covered. Sites whose labs carry only local codes set AZA_CDS_PREFETCH_LABS=by-category: every
  laboratory result, unsorted, as before.
- `weights`: body weights by code, newest first, until a page holds a usable one: the rules read the newest.
- `genomics`: TPMT and NUDT15 results and Genomics Reporting variants and implications by code, every one (a
  genotype holds for life; no look-back).
- medication orders and statements: every status but those of something never taken (the reader ignores those).
- `immunizations`: those given, newest first, back to the live-vaccine rule's look-back.
- `conditions`: all of them by default. US Core requires a clinical status on problem-list items only, and an
  encounter diagnosis without one counts as current (the reader's "if in doubt, include"), so a status search would
  drop data the rules read; AZA_CDS_PREFETCH_CONDITIONS=current asks for the current statuses only, for EHRs that
  record a clinical status on every condition.

Each narrowed key has a broader search (`fallback`) for a server that refuses the narrow one (an unsupported
parameter, a URL too long): the service then asks for more and reads all of it, and logs once per worker.

Only CDS Hooks 2.0 tokens (`{{context.patientId}}`) and the query subset it recommends: token equality (comma = or),
`_sort`, `_count`.
"""

from __future__ import annotations

from dataclasses import replace

from service.fhir import PrefetchKey
from service.knowledge import KnowledgePack
from service.record.model import CURRENT_CONDITION_STATUSES, NEVER_TAKEN_STATUSES
from service.rules import lookbacks

PAGE_SIZE = {"labs": 100, "weights": 5, "genomics": 100, "immunizations": 20}  # results per page asked for (`_count`)
LATEST_ONLY = {"weights"}  # the dose rules read the newest weight only (rules/dosing.py: weight)

# Every status of each resource (FHIR R4 value sets); the templates ask for those a medication was or is taken under.
MEDICATION_REQUEST_STATUSES = (
    "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown",
)  # fmt: skip
MEDICATION_STATEMENT_STATUSES = (
    "active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown", "not-taken",
)  # fmt: skip


def prefetch_keys(pack: KnowledgePack, labs: str = "by-code", conditions: str = "all") -> dict[str, PrefetchKey]:
    """The prefetch keys every service declares, with how far back their newest-first results need reading."""
    horizons = {search: max(by_rule.values()) for search, by_rule in lookbacks(pack).items()}
    patient = "patient={{context.patientId}}"
    keys = [
        PrefetchKey("patient", "Patient/{{context.patientId}}", required=False),
        PrefetchKey(
            "medicationRequests",
            f"MedicationRequest?{patient}&status={_taken(MEDICATION_REQUEST_STATUSES)}",
            required=True,
            fallback=f"MedicationRequest?{patient}",
        ),
        PrefetchKey(
            "medicationStatements",
            f"MedicationStatement?{patient}&status={_taken(MEDICATION_STATEMENT_STATUSES)}",
            required=False,
            fallback=f"MedicationStatement?{patient}",
        ),
        _labs(pack, patient, labs, horizons.get("labs")),
        _by_code(pack, "weights", patient, horizons.get("weights")),
        replace(_by_code(pack, "genomics", patient, None), fallback=f"Observation?{patient}&category=laboratory"),
        PrefetchKey(
            "conditions",
            f"Condition?{patient}" + _condition_filter(conditions),
            required=False,
            fallback=f"Condition?{patient}" if conditions == "current" else None,
        ),
        PrefetchKey("allergies", f"AllergyIntolerance?{patient}", required=False),
        PrefetchKey(
            "immunizations",
            f"Immunization?{patient}&status=completed&_sort=-date&_count={PAGE_SIZE['immunizations']}",
            required=False,
            horizon_days=horizons.get("immunizations"),
            newest_first=True,
            fallback=f"Immunization?{patient}",
        ),
    ]
    return {key.name: key for key in keys}


def _labs(pack: KnowledgePack, patient: str, mode: str, horizon: int | None) -> PrefetchKey:
    every_result = f"Observation?{patient}&category=laboratory"
    if mode == "by-category":
        return PrefetchKey("labs", every_result, required=True, horizon_days=horizon)
    return replace(_by_code(pack, "labs", patient, horizon, required=True), fallback=every_result)


def _by_code(pack: KnowledgePack, search: str, patient: str, horizon: int | None, required=False) -> PrefetchKey:
    # By code alone, whatever the system: the reader accepts LOINC's OID and other spellings of a system, and a
    # genomic result's code under another system (the IG's ballot code systems) still names the result.
    codes = ",".join(dict.fromkeys(code.code for code in pack.observation_codes(search)))
    newest_first = horizon is not None
    order = "&_sort=-date" if newest_first else ""
    unpaged = f"Observation?{patient}&code={codes}"
    template = f"{unpaged}{order}&_count={PAGE_SIZE[search]}"
    latest_only = search in LATEST_ONLY
    return PrefetchKey(search, template, required, horizon, newest_first, latest_only, fallback=unpaged)


def _condition_filter(mode: str) -> str:
    return f"&clinical-status={','.join(CURRENT_CONDITION_STATUSES)}" if mode == "current" else ""


def _taken(statuses: tuple[str, ...]) -> str:
    return ",".join(status for status in statuses if status not in NEVER_TAKEN_STATUSES)
