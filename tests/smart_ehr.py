"""A stub EHR for the SMART launch tests: its SMART configuration, token endpoint and FHIR server behind one
httpx.MockTransport, so that no socket is opened."""

from __future__ import annotations

import httpx
from helpers import AZATHIOPRINE, bundle, cbc, med_request

ISS = "https://ehr.example/fhir"
PUBLIC = "https://cds.example"
TOKEN = "secret-access-token-7f3a"
PATIENT = "pt-smart-77"


class StubEhr:
    """The EHR's SMART configuration, token endpoint and FHIR server. `v2`: publish .well-known (else only the
    CapabilityStatement, as v1 servers may); `fail`: a path prefix answered with HTTP 500."""

    def __init__(self, v2: bool = True):
        self.v2 = v2
        self.fail: str = ""
        self.token_status = 200
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if self.fail and path.startswith(self.fail):
            return httpx.Response(500, json={"resourceType": "OperationOutcome"})
        if path == "/fhir/.well-known/smart-configuration":
            if not self.v2:
                return httpx.Response(404)
            return httpx.Response(200, json={"authorization_endpoint": "https://auth.example/authorize",
                                             "token_endpoint": "https://auth.example/token",
                                             "capabilities": ["launch-ehr", "permission-v2"]})  # fmt: skip
        if path == "/fhir/metadata":
            uris = [{"url": "authorize", "valueUri": "https://auth.example/authorize"},
                    {"url": "token", "valueUri": "https://auth.example/token"}]  # fmt: skip
            security = {"extension": [{"url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                       "extension": uris}]}  # fmt: skip
            return httpx.Response(200, json={"resourceType": "CapabilityStatement", "rest": [{"security": security}]})
        if path == "/token":
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"error": "invalid_grant"})
            return httpx.Response(200, json={"access_token": TOKEN, "token_type": "Bearer", "patient": PATIENT,
                                             "scope": "launch patient/Observation.rs"})  # fmt: skip
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401)
        return httpx.Response(200, json=self.fhir(path, request.url.query.decode()))

    def fhir(self, path: str, query: str) -> dict:
        if path == f"/fhir/Patient/{PATIENT}":
            return {"resourceType": "Patient", "id": PATIENT, "birthDate": "1970-01-01"}
        if path == "/fhir/MedicationRequest":
            return bundle([med_request("a1", AZATHIOPRINE, authored="2026-03-01")])
        if path == "/fhir/Observation" and "6690-2" in query:  # the labs search names the WBC code
            return bundle(cbc("2026-11-20"))
        return bundle([])
