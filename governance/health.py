"""Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from governance.core.routes import public
from governance.db import get_db
from governance.jobs.service import queue_depth
from governance.migrations_support import current_revision, head_revision
from governance.observability import metrics_response
from governance.openapi import build_document

log = logging.getLogger("governance.health")
bp = Blueprint("health", __name__)
ReadyCheck = Callable[[], tuple[bool, str]]

JOB_QUEUE = Gauge("governance_jobs", "Jobs by status (sampled at scrape time)", ["status"])


def add_ready_check(app: Flask, name: str, check: ReadyCheck) -> None:
    """Domains add what must hold before traffic is sent (for example: the master key is loaded)."""
    app.extensions.setdefault("governance.ready_checks", {})[name] = check


@bp.get("/healthz")
@public("liveness probe: says only that the process answers")
def healthz() -> Response:
    return jsonify({"status": "ok"})


def _is_busy(exc: Exception) -> bool:
    """SQLite's "database is locked": the database answered, a writer holds the lock."""
    return isinstance(exc, OperationalError) and "locked" in str(getattr(exc, "orig", exc)).lower()


def _database_check() -> tuple[bool, str]:
    db = get_db()
    try:
        # read-only and deferred: readiness never queues behind the service's own writes
        with db.read_only() as conn:
            conn.execute(text("SELECT 1"))
            current = current_revision(conn)
    except Exception as exc:
        if _is_busy(exc):
            return True, "reachable, busy with a write"
        return False, f"database unreachable ({type(exc).__name__})"
    head = head_revision()
    if current != head:
        return False, f"schema at {current or 'base'}, expected {head}: run `governance init`"
    return True, f"migrated to {head}"


@bp.get("/readyz")
@public("readiness probe: reports which checks fail, never data")
def readyz() -> tuple[Response, int]:
    checks: dict[str, dict[str, Any]] = {}
    ok, detail = _database_check()
    checks["database"] = {"ok": ok, "detail": detail}
    for name, check in current_app.extensions.get("governance.ready_checks", {}).items():
        try:
            passed, message = check()
        except Exception as exc:
            passed, message = False, f"check failed ({type(exc).__name__})"
        checks[name] = {"ok": passed, "detail": message}
    ready = all(c["ok"] for c in checks.values())
    return jsonify({"status": "ready" if ready else "not_ready", "checks": checks}), 200 if ready else 503


@bp.get("/api/openapi.json")
@public("the API description is public")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document generated from the pydantic models that validate the API."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get("governance.openapi")
    if cached is None:
        cached = app.extensions["governance.openapi"] = build_document(app)
    return jsonify(cached)


@bp.get("/metrics")
@public("Prometheus scrape endpoint: aggregate counters only; expose it on the internal network")
def metrics() -> Response:
    for collector in current_app.extensions.get("governance.metric_refreshers", []):
        try:
            collector()
        except Exception as exc:  # a gauge left stale is better than a failed scrape; /readyz reports the database
            log.warning("metric refresh failed", extra={"error_type": type(exc).__name__})
    try:
        with get_db().read_only_session() as session:  # never waits on a writer
            depth = queue_depth(session)
        for status in ("queued", "running", "succeeded", "failed", "cancelled"):
            JOB_QUEUE.labels(status).set(depth.get(status, 0))
    except Exception:  # noqa: S110 - metrics must not fail because the database is down; /readyz reports it
        pass
    return metrics_response()


def add_metric_refresher(app: Flask, refresh: Callable[[], None]) -> None:
    """Domains add gauges computed at scrape time (overdue requests, budget spent)."""
    app.extensions.setdefault("governance.metric_refreshers", []).append(refresh)
