"""The CDS services: their catalogue and the pipeline one hook call runs through."""

from service.hooks.catalogue import SERVICES, Service
from service.hooks.pipeline import HookPipeline

__all__ = ["SERVICES", "HookPipeline", "Service"]
