"""The monitoring timeline as a SMART on FHIR app (EHR launch): the client (client.py) and its settings."""

from __future__ import annotations

from dataclasses import dataclass

from service.config import ConfigError, Settings
from service.fhir import FhirClient
from service.smart.client import (
    ClientKey,
    Grant,
    LaunchFailed,
    LaunchRefused,
    SmartClient,
    SmartConfiguration,
    pkce_pair,
)


@dataclass(frozen=True)
class SmartApp:
    client: SmartClient
    launch_url: str  # what the EHR opens, and what cards link to
    redirect_uri: str  # registered with the EHR

    @classmethod
    def from_settings(cls, settings: Settings, fhir: FhirClient) -> SmartApp | None:
        """None unless AZA_CDS_SMART_CLIENT_ID is set (no app, no card links)."""
        if not settings.smart_client_id:
            return None
        if not settings.public_url:
            raise ConfigError(
                "AZA_CDS_SMART_CLIENT_ID needs AZA_CDS_PUBLIC_URL: the EHR launches the monitoring timeline at "
                "<public URL>/smart/launch and sends the browser back to <public URL>/smart/redirect"
            )
        if settings.smart_client_secret and settings.smart_client_key:
            raise ConfigError("AZA_CDS_SMART_CLIENT_SECRET and AZA_CDS_SMART_CLIENT_KEY: set one, not both")
        key = ClientKey.from_file(settings.smart_client_key) if settings.smart_client_key else None
        client = SmartClient(fhir, settings.smart_client_id, settings.smart_client_secret, key)
        base = settings.public_url
        return cls(client, f"{base}/smart/launch", f"{base}/smart/redirect")


__all__ = [
    "ClientKey",
    "Grant",
    "LaunchFailed",
    "LaunchRefused",
    "SmartApp",
    "SmartClient",
    "SmartConfiguration",
    "pkce_pair",
]
