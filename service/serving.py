"""The gunicorn worker aza-cds serves with: threads, and one deadline per request against slow clients.

A sync worker is held by one connection that sends a header byte a second: two such clients stopped a two-worker
service. gunicorn's gthread worker holds a thread instead, so it takes as many slow clients as there are threads,
for as long as they trickle. This worker adds a watchdog thread that shuts down the socket of any request still
being read or answered after `request_seconds`: the blocked read returns, the thread is free, and a slow client
can hold a thread for that long at most. Requests of this service take milliseconds (FHIR call-backs have their
own 2 s budget), so the deadline only ever cuts off clients that send or read too slowly.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import orjson
from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers import gthread
from gunicorn.workers.gthread import ThreadWorker

from service.http.headers import SECURITY_HEADERS

WATCH_INTERVAL = 0.25  # seconds between the watchdog's looks
# A new connection that has sent nothing waits this long in a thread before gunicorn hands it to its poller (which
# holds no thread). gunicorn's 5 s let idle connections hold every thread; a client sends its request at once.
gthread.DEFAULT_WORKER_DATA_TIMEOUT = 0.5
# Requests gunicorn refuses before the app sees them, answered as the app answers errors: JSON, our headers, and
# nothing of the request echoed back (gunicorn's own page repeats the request line).
REFUSED_BY_THE_SERVER = {
    errors.LimitRequestHeaders: (431, "Request Header Fields Too Large", "request_headers_too_large"),
    errors.LimitRequestLine: (414, "URI Too Long", "request_line_too_long"),
    errors.UnsupportedTransferCoding: (501, "Not Implemented", "unsupported_transfer_coding"),
}
CLIENT_ERRORS = (
    errors.ParseException, errors.NoMoreData, errors.ForbiddenProxyRequest, errors.InvalidProxyLine,
)  # fmt: skip


class GuardedThreadWorker(ThreadWorker):
    request_seconds = 10.0  # set by `serve` from AZA_CDS_REQUEST_TIMEOUT_SECONDS before the workers start

    def init_process(self) -> None:
        self._in_flight: dict[int, tuple[float, gthread.TConn]] = {}
        self._in_flight_lock = threading.Lock()
        threading.Thread(target=self._watch, name="request-deadline", daemon=True).start()
        super().init_process()  # runs the worker's loop until it exits

    def handle(self, conn):
        key = id(conn)
        with self._in_flight_lock:
            self._in_flight[key] = (time.monotonic() + self.request_seconds, conn)
        try:
            return super().handle(conn)
        finally:
            with self._in_flight_lock:
                self._in_flight.pop(key, None)

    def _watch(self) -> None:
        while True:
            time.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            with self._in_flight_lock:
                late = [conn for deadline, conn in self._in_flight.values() if deadline <= now]
            for conn in late:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)  # the thread's blocked recv or send returns at once
                except OSError:
                    continue  # already closed
                self.log.warning("request cut off after %.0f s: the client sent or read too slowly "
                                 "(AZA_CDS_REQUEST_TIMEOUT_SECONDS)", self.request_seconds)  # fmt: skip

    def handle_error(self, req, client, addr, exc):
        ours = (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName, errors.ConfigurationProblem)
        if isinstance(exc, ours) or not isinstance(exc, CLIENT_ERRORS + tuple(REFUSED_BY_THE_SERVER)):
            return super().handle_error(req, client, addr, exc)  # the app's own failure: gunicorn logs it, 500
        status, reason, code = next(
            (answer for kind, answer in REFUSED_BY_THE_SERVER.items() if isinstance(exc, kind)),
            (400, "Bad Request", "malformed_request"),
        )
        self.log.warning("request refused before the app: %s (%s)", code, type(exc).__name__)
        body = orjson.dumps({"error": code, "message": f"The request could not be read as HTTP/1.1: {reason}."})
        headers = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"Connection: close\r\nAccess-Control-Allow-Origin: *\r\n{headers}\r\n")  # fmt: skip
        with contextlib.suppress(OSError):  # the client may have gone
            util.write(client, head.encode("latin-1") + body)
