"""The CDS Hooks JSON Schemas, compiled once, and the first error of a document as a JSON path."""

from __future__ import annotations

from functools import cache
from importlib import resources

import jsonschema_rs
import orjson
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from service.errors import RequestError

SCHEMAS = ("request", "response", "discovery", "feedback")


class SchemaViolation(RequestError, ValueError):
    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


@cache
def validator(name: str) -> Draft202012Validator:
    schema = orjson.loads(resources.files("service.protocol").joinpath(f"schemas/{name}.schema.json").read_bytes())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


CONTEXT_SCHEMAS = {
    "patient-view": "patientViewContext",
    "order-select": "orderSelectContext",
    "order-sign": "orderSignContext",
}


@cache
def request_validator(hook: str) -> Draft202012Validator:
    """The request schema with the hook's context schema in place of the `allOf`/`if` branches (about twice as
    fast, since every call validates against the service's own hook)."""
    schema = dict(_object(validator("request").schema))
    schema.pop("allOf")
    schema["properties"] = schema["properties"] | {"context": {"$ref": f"#/$defs/{CONTEXT_SCHEMAS[hook]}"}}
    return Draft202012Validator(schema)


@cache
def _fast(key: str) -> jsonschema_rs.Draft202012Validator:
    """The same schema in jsonschema-rs: ~200x faster, used to accept valid documents on the hot path."""
    schema = (
        request_validator(key.removeprefix("request:")).schema if key.startswith("request:") else validator(key).schema
    )
    return jsonschema_rs.Draft202012Validator(_object(schema))


def _object(schema: object) -> dict:
    """Our schemas are JSON objects (a JSON Schema may also be a boolean; none of ours is)."""
    if not isinstance(schema, dict):
        raise TypeError("a CDS Hooks schema must be a JSON object")
    return schema


def compile_hot_path(hooks: tuple[str, ...] = tuple(CONTEXT_SCHEMAS)) -> None:
    """Compile the validators every call uses now, not on a worker's first call (about 50 ms each): `serve` builds
    the app before forking, so its workers start with them."""
    for hook in hooks:
        _fast(f"request:{hook}")
    _fast("feedback")


def check_request(hook: str, document: object) -> None:
    if _fast(f"request:{hook}").is_valid(document):
        return
    _explain(request_validator(hook), document)


def check(name: str, document: object) -> None:
    """Raise SchemaViolation with the most relevant error and its path, e.g. `$.context.patientId`."""
    if _fast(name).is_valid(document):
        return
    _explain(validator(name), document)


MESSAGE_CHARACTERS = 300  # the validator's message quotes the refused value: cut, so an answer echoes little


def _explain(slow: Draft202012Validator, document: object) -> None:
    """python-jsonschema picks the most relevant error and its path for the 400 answer."""
    try:
        error = best_match(slow.iter_errors(document))
    except RecursionError:  # describing a value nested ~1000 deep exceeds Python's stack; orjson allowed the depth
        raise SchemaViolation("the document is nested too deeply to be a CDS Hooks request", "$") from None
    if error is not None:
        message = error.message
        message = message if len(message) <= MESSAGE_CHARACTERS else message[:MESSAGE_CHARACTERS] + "..."
        raise SchemaViolation(message, json_path(error.absolute_path))
    raise SchemaViolation("the document does not match the schema", "$")  # the validators disagree: refuse


def json_path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path
