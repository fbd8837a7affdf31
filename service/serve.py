"""`aza-cds serve`: the app under gunicorn, built once in the master and shared by forked workers."""

from __future__ import annotations

import gc

from gunicorn import glogging
from gunicorn.app.base import BaseApplication

from service.app import create_app
from service.config import ConfigError, Settings
from service.http.state import state_of
from service.serving import GuardedThreadWorker


class GunicornServer(BaseApplication):
    def __init__(self, options: dict):
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)
        self.cfg.set("pre_fork", _before_fork)
        self.cfg.set("post_fork", _after_fork)
        self.cfg.set("worker_exit", _worker_exiting)
        self.cfg.set("child_exit", _worker_exited)
        self.cfg.set("logger_class", _ThroughServiceLogging)

    def load(self):
        return create_app()


class _ThroughServiceLogging(glogging.Logger):
    """gunicorn's own lines (start-up, workers, errors) go through the service's handler, so that `serve` writes
    one format (JSON lines by default) instead of mixing in gunicorn's plain text."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True


def _before_fork(_server, _worker) -> None:
    # What the master loaded (knowledge pack, FHIR models, libraries) lives as long as the workers: keep it out of
    # the cyclic collector's scans (a full collection would walk it all, ~70 ms on the large request) and out of
    # copy-on-write, as the gc module's documentation advises for pre-forking servers.
    gc.freeze()


def _after_fork(_server, worker) -> None:
    # Database connections must not be shared across processes: each worker opens its own.
    state_of(worker.app.callable).storage.feedback.dispose()


def _worker_exiting(_server, worker) -> None:
    state_of(worker.app.callable).storage.audit.close()  # write the audit rows still queued


def _worker_exited(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its gauges stop counting; its counters stay in the totals


def serve(host: str, port: int, workers: int) -> None:
    settings = Settings.from_env()
    GuardedThreadWorker.request_seconds = settings.request_timeout_seconds  # inherited by the forked workers
    if settings.metrics_port:  # a thread of the master, which forks workers without it; scrapers only, not EHRs
        from prometheus_client import start_http_server

        from service.observability.metrics import workers_registry

        registry = workers_registry()
        if registry is None:  # `aza-cds serve` sets the folder before it imports prometheus_client
            raise ConfigError("AZA_CDS_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR, which `aza-cds serve` sets")
        start_http_server(settings.metrics_port, addr=host, registry=registry)
    GunicornServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            # threads, with a deadline per request (service/serving.py): slow clients cannot hold the service
            "worker_class": "service.serving.GuardedThreadWorker",
            "threads": settings.threads,
            "preload_app": True,  # load and validate the knowledge pack once, fail fast before forking
            "timeout": 30,
            "graceful_timeout": 10,
            "accesslog": None,  # hook calls are logged by the app, without bodies or tokens
            "errorlog": "-",
            # gunicorn's control socket sits at one path per user ($XDG_RUNTIME_DIR or ~/.gunicorn): a second
            # instance on the same machine would take it over. aza-cds is managed by signals, so it opens none.
            "control_socket_disable": True,
            # gunicorn believes X-Forwarded-Proto from 127.0.0.1 by default; the app decides (AZA_CDS_TRUSTED_PROXIES)
            "forwarded_allow_ips": "*" if settings.trusted_proxies else "",
        }
    ).run()
