"""Every error is JSON: 4xx say what was wrong and where; 500 says nothing about internals."""

from __future__ import annotations

import logging

import orjson
from flask import Flask, Response, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from service.errors import RequestError

log = logging.getLogger("aza_cds")


class ApiError(RequestError):
    def __init__(self, status: int, error: str, message: str, headers: dict | None = None, **extra):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = {"error": error, "message": message, **extra}


def json_response(payload: object, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json", headers=headers)


def read_json_object() -> dict:
    """The request body as a JSON object, or ApiError 400, or 413 past MAX_CONTENT_LENGTH. A body without a length
    (chunked) is read one byte past the limit: Werkzeug would cut it at the limit, and the cut JSON would be a 400."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    length = request.content_length
    too_large = ApiError(413, "too_large", f"The request body is larger than {limit} bytes (AZA_CDS_MAX_BODY_BYTES).")
    if limit is not None and length is not None and length > limit:
        raise too_large
    if limit is None:
        raw = request.get_data(cache=False)
    else:  # the server's own stream (chunks decoded), read once: Werkzeug's wrapper would copy it again
        raw = request.environ["wsgi.input"].read(limit + 1 if length is None else length)
        if len(raw) > limit:
            raise too_large
    if not raw or raw.isspace():
        raise ApiError(400, "invalid_request", "The request body is empty; a JSON object is expected.", path="$")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if "depth limit" in str(error).lower():
            raise ApiError(400, "too_deep", "The request JSON is nested deeper than 1024 levels.", path="$") from None
        raise ApiError(400, "malformed_json", f"The request body is not valid JSON: {error}", path="$") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The request body must be a JSON object.", path="$")
    return body


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        # The developer looks here when a client (the sandbox) shows only "no response": the error and where,
        # never the message, which may quote a value from the request.
        where = f" at {error.body['path']}" if "path" in error.body else ""
        log.info("%s %s answered %d %s%s", request.method, request.path, error.status, error.body["error"], where)
        return json_response(error.body, error.status, error.headers)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        name = "too_large" if error.code == 413 else (error.name or "error").lower().replace(" ", "_")
        headers = {key: value for key, value in error.get_headers() if key == "Allow"}  # 405 says what is allowed
        return json_response({"error": name, "message": error.description or error.name}, error.code or 500, headers)

    @app.errorhandler(RecursionError)
    def too_deep(_error: RecursionError):
        # JSON nested close to the parser's 1024 levels can exhaust Python's stack wherever it is walked
        body = {"error": "too_deep", "message": "The request JSON is nested too deeply.", "path": "$"}
        return json_response(body, 400)

    @app.errorhandler(SQLAlchemyError)
    def database_unavailable(error: SQLAlchemyError):
        # e.g. the jti of a token or a feedback item cannot be recorded: nothing was accepted, so the client retries
        log.error("database error on %s %s: %s", request.method, request.path, type(error).__name__)
        body = {"error": "database_unavailable", "message": "The service's database is unavailable; retry shortly."}
        return json_response(body, 503, {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # The traceback goes to the server log; the body is never logged and nothing internal is returned.
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=error)
        return json_response({"error": "internal_error", "message": "The service failed to handle the request."}, 500)
