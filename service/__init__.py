"""aza-cds: a CDS Hooks 2.0 service for patients on azathioprine."""

from service.app import create_app

__all__ = ["create_app"]
