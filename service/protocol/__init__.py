"""The CDS Hooks 2.0 protocol: JSON Schemas for requests, responses, discovery and feedback, and request models."""

from service.protocol.call import HookCall, InvalidCall
from service.protocol.validation import SchemaViolation, check, check_request, compile_hot_path, validator

__all__ = ["HookCall", "InvalidCall", "SchemaViolation", "check", "check_request", "compile_hot_path", "validator"]
