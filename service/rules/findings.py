"""What a rule found: the input of card rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.record import MedicationUse

SEVERITY = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class DoseChange:
    """A suggested new daily dose for a draft MedicationRequest: rendering finds the draft in the request by its
    position (and checks its reference), so the record and the findings carry no FHIR resource."""

    draft_reference: str  # "MedicationRequest/<id>"
    draft_position: int  # its entry in draftOrders: two drafts may carry one id
    daily_mg: float  # the draft's daily dose now
    factor: float  # the new dose as a fraction of it

    @classmethod
    def of(cls, use: MedicationUse, factor: float | None) -> DoseChange | None:
        """For a draft MedicationRequest with an id and a computed dose, when there is a factor to apply."""
        daily = use.dose.high
        position = use.draft_position
        if not factor or daily is None or position is None or use.resource_type != "MedicationRequest":
            return None
        return cls(use.reference, position, daily, factor) if use.resource_id else None


@dataclass(frozen=True)
class Finding:
    rule_id: str
    variant: str  # which card text of the rule applies
    values: dict[str, str] = field(default_factory=dict)  # template fields; EHR text is escaped when rendered
    phrases: dict[str, str] = field(default_factory=dict)  # placeholder -> pack phrase template to fill first
    items: tuple[str, ...] = ()  # EHR-derived lines, rendered as a bullet list into {problems}
    basis: tuple[str, ...] = ()  # how the data behind the finding was identified, shown under the detail
    draft_reference: str | None = None  # the draft order a "delete-draft" suggestion would remove
    indicator: str | None = None  # overrides the rule's indicator when set
    dose_change: DoseChange | None = None  # what an "update-dose" suggestion would do
    focus: str = ""  # the analyte the finding is about (concept id), for the timeline link's appContext

    def sort_key(self, rule) -> int:
        return SEVERITY[self.indicator or rule.indicator_for(self.variant)]
