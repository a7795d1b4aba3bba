"""Audit API for auditors: verify, search (keyset pages), streaming export (JSON Lines, CSV) with proofs."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Response, current_app, stream_with_context
from pydantic import BaseModel, Field

from governance.api import ErrorBody, StrictModel, api_blueprint, file_response, json_object_response
from governance.audit import service
from governance.audit.export import csv_lines, jsonl_lines
from governance.core.principals import Resource
from governance.core.routes import requires, resource_of
from governance.db import get_db, get_session

bp = api_blueprint("audit", description="Tamper-evident audit log: verify, search, export")
AUDIT_LOG = Resource(type="AuditLog", id="log")
PROOF = json_object_response("format", "kind", "origin", "path", "checkpoint")


@resource_of("AuditLog")
def _audit_log(_args: dict[str, Any]) -> Resource:
    return AUDIT_LOG


class SearchQuery(StrictModel):
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor_kind: str | None = Field(default=None, max_length=16)
    actor_id: str | None = Field(default=None, max_length=120)
    action: str | None = Field(default=None, max_length=100, pattern=r"^[a-z0-9_.]+$", description="action name prefix")
    target_kind: str | None = Field(default=None, max_length=40)
    target_id: str | None = Field(default=None, max_length=120)
    request_id: str | None = Field(default=None, max_length=64)
    after: int | None = Field(default=None, ge=-1, description="cursor: the seq of the last entry already seen")
    limit: int = Field(default=100, ge=1, le=1000)


class ExportQuery(SearchQuery):
    format: Literal["jsonl", "csv"] = "jsonl"
    scope: Literal["full", "filtered"] = "filtered"


class ConsistencyQuery(StrictModel):
    old_size: int = Field(ge=1, description="the tree size of the checkpoint the auditor saved earlier")
    new_size: int | None = Field(default=None, ge=1, description="a signed checkpoint size; default: a new one")


class InclusionQuery(StrictModel):
    seq: int = Field(ge=0, description="the entry's position")
    tree_size: int | None = Field(default=None, ge=1, description="a signed checkpoint size; default: a new one")


class SearchPage(BaseModel):
    entries: list[dict[str, Any]]
    next_after: int | None


def _filters(query: SearchQuery) -> service.SearchFilters:
    return service.SearchFilters(
        since=query.since,
        until=query.until,
        actor_kind=query.actor_kind,
        actor_id=query.actor_id,
        action_prefix=query.action,
        target_kind=query.target_kind,
        target_id=query.target_id,
        request_id=query.request_id,
    )


def _seal(config: service.AuditConfig, *, force_checkpoint: bool) -> None:
    service.seal_all(get_db().session, config, force_checkpoint=force_checkpoint)


@bp.get("/audit/verify", responses={200: json_object_response("ok", "entries", "message")})
@requires("audit.verify", resource=_audit_log)
def verify_log():
    """Seal what is pending, then verify the whole log against itself and the signed checkpoints."""
    config = service.current_config()
    _seal(config, force_checkpoint=False)
    report = service.verify(get_session(), config)
    return report.to_dict(), 200


@bp.get("/audit/entries", responses={200: SearchPage})
@requires("audit.read", resource=_audit_log)
def search_entries(query: SearchQuery):
    entries, next_after = service.search(get_session(), _filters(query), after=query.after, limit=query.limit)
    return {"entries": entries, "next_after": next_after}, 200


@bp.get(
    "/audit/checkpoints",
    responses={200: json_object_response("origin", "key_name", "public_key_pem", "checkpoints")},
)
@requires("audit.read", resource=_audit_log)
def list_checkpoints():
    config = service.current_config()
    notes = [cp.to_text() for cp in service.checkpoints(get_session())]
    keys = get_db_keys_pem()
    return {"origin": config.origin, "key_name": service.KEY_NAME, "public_key_pem": keys, "checkpoints": notes}, 200


def get_db_keys_pem() -> str:
    return current_app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY)


@bp.get("/audit/export", responses={200: file_response("application/x-ndjson", "text/csv")})
@requires("audit.export", resource=_audit_log)
def export_entries(query: ExportQuery):
    """Stream the log (scope=full) or the matching entries with inclusion proofs (scope=filtered), anchored to
    a checkpoint signed just before the export starts."""
    config = service.current_config()
    _seal(config, force_checkpoint=True)
    session = get_db().session()
    filters = None if query.scope == "full" else _filters(query)
    header, cps, consistency, entries, records = service.export_parts(session, filters, config)
    writer = jsonl_lines if query.format == "jsonl" else csv_lines
    mimetype = "application/x-ndjson" if query.format == "jsonl" else "text/csv"

    def generate():
        try:
            yield from writer(header, cps, consistency, entries, records)
        finally:
            session.close()

    filename = f"audit-export-{header.tree_size}.{query.format}"
    return Response(
        stream_with_context(generate()),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/audit/proofs/consistency", responses={200: PROOF, 404: ErrorBody})
@requires("audit.verify", resource=_audit_log)
def prove_consistency(query: ConsistencyQuery):
    """RFC 9162 consistency proof from an earlier tree size (an auditor's saved checkpoint) to a signed
    checkpoint (by default one signed now, after sealing what is pending). Verify it offline with
    `offline_verify.pyz --proof FILE --checkpoint SAVED.txt --public-key KEY.pem`."""
    config = service.current_config()
    if query.new_size is None:
        _seal(config, force_checkpoint=True)
    with get_db().session() as session:
        return service.consistency_proof(session, config, query.old_size, query.new_size), 200


@bp.get("/audit/proofs/inclusion", responses={200: PROOF, 404: ErrorBody})
@requires("audit.verify", resource=_audit_log)
def prove_inclusion(query: InclusionQuery):
    """RFC 9162 inclusion proof of one entry in a signed checkpoint (by default one signed now)."""
    config = service.current_config()
    if query.tree_size is None:
        _seal(config, force_checkpoint=True)
    with get_db().session() as session:
        return service.inclusion_proof(session, config, query.seq, query.tree_size), 200
