"""aza-cds: a CDS Hooks 2.0 service for patients on azathioprine."""

from __future__ import annotations


def create_app(config=None, **injected):
    """The application factory (see service.app). Imported lazily so that `aza-cds serve` can prepare the metrics
    folder before prometheus_client is first imported."""
    from service.app import create_app as build

    return build(config, **injected)


__all__ = ["create_app"]
