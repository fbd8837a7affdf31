"""One hook call, top to bottom: gather patient data -> normalise into a record -> evaluate rules -> render cards."""

from __future__ import annotations

from datetime import UTC, datetime

from service.fhir import FhirClient, PatientData
from service.hooks.templates import prefetch_keys
from service.knowledge import KnowledgePack
from service.protocol.call import HookCall
from service.record import PatientRecord, RecordBuilder
from service.render import render_cards
from service.rules import CardPolicy, evaluate
from service.terminology import Terminology


class HookPipeline:
    """Everything a hook call needs, built once per worker from the knowledge pack and the prefetch settings."""

    def __init__(
        self,
        pack: KnowledgePack,
        fhir_client: FhirClient | None,
        policy: CardPolicy | None = None,
        lab_prefetch: str = "by-code",
        condition_prefetch: str = "all",
        timeline_url: str = "",
    ):
        self.pack = pack
        self.fhir_client = fhir_client
        self.policy = policy or CardPolicy()
        self.prefetch = prefetch_keys(pack, lab_prefetch, condition_prefetch)
        self._builder = RecordBuilder(pack, Terminology(pack))
        self.timeline_url = timeline_url  # the SMART launch URL cards link to; empty: no such links

    def run(self, call: HookCall, now: datetime | None = None) -> list[dict]:
        """The cards for one call; raises DataUnavailable (-> 412) when required data cannot be had."""
        now = now or datetime.now(UTC)
        record = self.record(call, now)
        findings = evaluate(self.pack, record, self.policy)
        return render_cards(self.pack, findings, call.patient_id, call.draft_at, self.timeline_url)

    def record(self, call: HookCall, now: datetime) -> PatientRecord:
        """The patient record of a call: its prefetch, and what the FHIR server gives for the keys it lacks (the
        monitoring timeline reads the same record the rules do)."""
        data = PatientData(call, self.prefetch, self.fhir_client, now)
        return self._builder.build(call, data, now)
