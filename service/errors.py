"""The service's own exceptions share one base, AzaCdsError, in four families. Code can then tell a foreseen
problem from a bug by its type, and each family has one way out:

    AzaCdsError
    ├── SetupError          the service cannot start as configured; the message names the setting or file
    │     ConfigError (config.py), PackError (knowledge/pack.py), TrustError (auth/trust.py)
    ├── RequestError        the caller's request is refused: a 4xx answer, never a 500
    │     ApiError (http/errors.py: status and JSON body), SchemaViolation (protocol/validation.py),
    │     InvalidCall (protocol/call.py), AuthError (auth/verify.py: 401, reason logged, not sent),
    │     KeyNotFound (auth/trust.py: 401), LaunchRefused (smart/client.py: a SMART launch refused, a page)
    ├── PatientDataError    the patient's data cannot be had or read as the rules need it
    │     DataUnavailable (fhir/prefetch.py: 412), FetchError (fhir/client.py: a call-back failed),
    │     Unreadable and NoMedicationYet (record/medications.py: an info card, or skipped),
    │     UnsupportedSearch (fhir/memory_server.py: the test server refuses a search, as an EHR may),
    │     LaunchFailed (smart/client.py: the EHR's authorization or FHIR server failed a SMART launch, a page)
    └── ToolError           a command-line tool cannot do what was asked; the message is printed
          NotABundle (population.py), ReportError (report.py), TimelineInputError (timeline_request.py)

Families that were ValueErrors before keep ValueError as a second base, so that existing handlers still catch them.
"""

from __future__ import annotations


class AzaCdsError(Exception):
    """Raised on purpose by aza-cds; anything else escaping a request is a bug (500, logged)."""


class SetupError(AzaCdsError):
    """The service cannot start with this configuration, knowledge pack or trust file."""


class RequestError(AzaCdsError):
    """The request is refused; the caller gets a 4xx answer."""


class PatientDataError(AzaCdsError):
    """The patient's data cannot be had, or cannot be read as the rules need it."""


class ToolError(AzaCdsError):
    """A command-line tool cannot do what was asked."""
