"""Structured JSON logs with a request id on every line, the request id header, and Prometheus metrics.

Log lines carry route templates (`/api/v1/subjects/<subject_id>`), never raw paths or bodies, so personal data
cannot leak into logs through URLs or payloads.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

HTTP_REQUESTS = Counter(
    "governance_http_requests_total",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "governance_http_request_seconds",
    "HTTP request latency by route template",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id")
        except RuntimeError:  # outside a request or app context
            record.request_id = getattr(record, "request_id", None)
        return True


def configure_logging(level: str) -> None:
    """JSON lines on stderr for the `governance` loggers (idempotent)."""
    logger = logging.getLogger("governance")
    logger.setLevel(level)
    if any(getattr(h, "_governance", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler()
    handler._governance = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter("{asctime}{levelname}{name}{message}", style="{", rename_fields={"levelname": "level"})
    )
    handler.addFilter(RequestIdFilter())
    logger.addHandler(handler)
    logger.propagate = False


def _route_label() -> str:
    rule = request.url_rule
    return rule.rule if rule is not None else "<unmatched>"


def init_app(app: Flask) -> None:
    access_log = logging.getLogger("governance.http")

    @app.before_request
    def _start_request() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish_request(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("request_started")
        if started is not None:
            elapsed = time.perf_counter() - started
            route = _route_label()
            HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
            HTTP_LATENCY.labels(route, request.method).observe(elapsed)
            if app.config.get("GOVERNANCE_ACCESS_LOG", True):
                access_log.info(
                    "request",
                    extra={
                        "method": request.method,
                        "route": route,
                        "status": response.status_code,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
        return response


def metrics_response(extra_collectors: list[Any] | None = None) -> Response:
    """The Prometheus exposition of this process (or of every worker in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)
