"""The CDS services: their catalogue and the pipeline one hook call runs through."""

from service.hooks.pipeline import HookEngine
from service.hooks.services import SERVICES, Service

__all__ = ["SERVICES", "HookEngine", "Service"]
