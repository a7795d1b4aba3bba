"""Bulk import of decisions from another consent platform (CSV or JSON Lines), with provenance.

The whole file is parsed before anything is stored: a file that is not UTF-8, lacks the required columns, has a
line that is not a JSON object, or is too large is rejected with a report and nothing is imported. Rows that
parse but are invalid (unknown purpose or subject, future time, basis not consent) are rejected one by one and
listed in the report; the others are imported by a job in batches. Each imported event carries (import id, row
number) under a unique constraint and the batch cursor commits with the batch, so a job that dies half-way
resumes where it stopped without importing anything twice. The job itself (its transactions) is in tasks.py.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from governance import audit, jobs
from governance.access.principals import ActorRef, Principal
from governance.consent import service
from governance.consent.errors import ImportNotFoundError
from governance.consent.models import ConsentImport
from governance.db import utcnow
from governance.errors import DomainError

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
BATCH = 500
MAX_REPORTED = 1000
REQUIRED = ("subject_id", "purpose", "decision", "collected_at")
OPTIONAL = ("notice_version", "jurisdiction", "source_record_id")
JOB_KIND = "consent.import"


class _FileProblem(Exception):
    pass


def _parse_rows(content: bytes, fmt: str) -> list[dict[str, Any]]:
    if len(content) > MAX_BYTES:
        raise _FileProblem(f"file larger than {MAX_BYTES} bytes")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _FileProblem("file is not UTF-8 text") from None
    rows: list[dict[str, Any]] = []
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
        if missing or unknown:
            raise _FileProblem(f"columns missing: {', '.join(missing) or '-'}; unknown: {', '.join(unknown) or '-'}")
        try:
            for record in reader:
                if None in record or any(v is None for v in record.values()):
                    raise _FileProblem(f"line {reader.line_num}: wrong number of fields")
                rows.append({k: v for k, v in record.items() if v != ""})
                if len(rows) > MAX_ROWS:
                    raise _FileProblem(f"more than {MAX_ROWS} rows")
        except csv.Error:
            raise _FileProblem(f"line {reader.line_num}: malformed CSV") from None
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise _FileProblem(f"line {number}: not JSON") from None
            if not isinstance(record, dict):
                raise _FileProblem(f"line {number}: not a JSON object")
            unknown = [k for k in record if k not in REQUIRED + OPTIONAL]
            if unknown:
                raise _FileProblem(f"line {number}: unknown keys {', '.join(sorted(unknown))[:200]}")
            rows.append(record)
            if len(rows) > MAX_ROWS:
                raise _FileProblem(f"more than {MAX_ROWS} rows")
    if not rows:
        raise _FileProblem("no rows")
    return rows


def _view(row: ConsentImport) -> dict[str, Any]:
    return {
        "import_id": str(row.id),
        "status": row.status,
        "format": row.format,
        "source": row.source,
        "content_sha256": row.content_sha256,
        "total_rows": row.total_rows,
        "imported_rows": row.imported_rows,
        "rejected_rows": row.rejected_rows,
        "job_id": str(row.job_id) if row.job_id else None,
        "report": row.report,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
    }


def start(session: Session, *, content: bytes, fmt: str, source: str, actor: Principal | ActorRef) -> dict[str, Any]:
    """Check the file as a whole and queue its import; a malformed file is recorded as `rejected` with a report."""
    ref = actor.ref if isinstance(actor, Principal) else actor
    row = ConsentImport(
        id=uuid.uuid4(),
        format=fmt,
        source=source,
        content_sha256=hashlib.sha256(content).hexdigest(),
        created_by=f"{ref.kind}:{ref.id}",
        created_at=utcnow(),
        imported_rows=0,
        rejected_rows=0,
        next_row=0,
    )
    try:
        rows = _parse_rows(content, fmt)
    except _FileProblem as problem:
        row.status, row.total_rows, row.content = "rejected", 0, None
        row.report = {"file_error": str(problem), "rejected": []}
        row.finished_at = utcnow()
        session.add(row)
        audit.record(session, actor=ref, action="consent.import.rejected", target=("import", row.id))
        session.flush()
        return _view(row)
    row.status, row.total_rows, row.report = "queued", len(rows), {"rejected": []}
    row.content = content
    session.add(row)
    session.flush()
    row.job_id = jobs.enqueue(session, JOB_KIND, {"import_id": str(row.id)}, created_by=row.created_by)
    audit.record(
        session, actor=ref, action="consent.import.started", target=("import", row.id),
        details={"rows": len(rows), "format": fmt},
    )  # fmt: skip
    session.flush()
    return _view(row)


def status(session: Session, import_id: uuid.UUID) -> dict[str, Any]:
    row = session.get(ConsentImport, import_id)
    if row is None:
        raise ImportNotFoundError()
    return _view(row)


def _parse_time(value: Any) -> dt.datetime:
    moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("naive")
    return moment


def _import_row(session: Session, job: ConsentImport, number: int, record: dict[str, Any]) -> str | None:
    """Import one row; returns an error code (row rejected) or None. Runs in a savepoint."""
    try:
        subject_id = uuid.UUID(str(record["subject_id"]))
    except ValueError:
        return "invalid_subject_id"
    try:
        collected_at = _parse_time(record["collected_at"])
    except ValueError:
        return "invalid_collected_at"
    version = record.get("notice_version")
    try:
        version = int(version) if version is not None else None
    except ValueError:
        return "invalid_notice_version"
    evidence = {"source_platform": job.source[:128]}
    if record.get("source_record_id"):
        evidence["source_record_id"] = str(record["source_record_id"])[:128]
    try:
        with session.begin_nested():
            service.subject_exists(session, subject_id)
            moment = utcnow()
            planned = service._validate(
                [service.DecisionInput(str(record["purpose"]), str(record["decision"]), collected_at, version)],
                now=moment,
                allowed=frozenset({service.Decision.GRANTED, service.Decision.WITHDRAWN}),
            )
            kind, _, actor_id = job.created_by.partition(":")
            service._record(
                session,
                subject_id,
                planned,
                method=service.Method.IMPORT.value,
                actor=ActorRef(kind, actor_id),  # type: ignore[arg-type]
                jurisdiction=service._check_jurisdiction(
                    str(record.get("jurisdiction") or service.purposes().controller.default_jurisdiction)
                ),
                evidence=evidence,
                now=moment,
                import_ref=(job.id, number),
            )
    except DomainError as exc:
        return exc.code
    return None


def _rows_from(job: ConsentImport) -> Iterator[tuple[int, dict[str, Any]]]:
    rows = _parse_rows(job.content or b"", job.format)
    for number, record in enumerate(rows, start=1):
        if number > job.next_row:
            yield number, record


def pending_rows(session: Session, import_id: uuid.UUID) -> tuple[list[tuple[int, dict[str, Any]]], int] | str:
    """The rows of an import not yet processed (number, record) and its row count; or, for an import that is
    finished or gone, its status (`done`, `rejected`, `missing`)."""
    job = session.get(ConsentImport, import_id)
    if job is None or job.status in ("done", "rejected"):
        return job.status if job else "missing"
    return list(_rows_from(job)), job.total_rows


def import_batch(session: Session, import_id: uuid.UUID, batch: list[tuple[int, dict[str, Any]]]) -> int:
    """Import one batch and move the import's cursor, under its row lock; returns the cursor. Never commits: the
    job commits the batch with its cursor (so a job that dies half-way resumes where it stopped)."""
    job = session.get(ConsentImport, import_id, with_for_update=True)
    assert job is not None
    report = dict(job.report or {})
    rejected = list(report.get("rejected", []))
    for number, record in batch:
        if number <= job.next_row:
            continue  # another attempt got here first
        error = _import_row(session, job, number, record)
        if error is None:
            job.imported_rows += 1
        else:
            job.rejected_rows += 1
            if len(rejected) < MAX_REPORTED:
                rejected.append({"row": number, "error": error})
        job.next_row = number
    job.status = "running"
    job.report = {**report, "rejected": rejected}
    return job.next_row


def finish(session: Session, import_id: uuid.UUID) -> dict[str, Any]:
    """Mark the import done and drop the raw file (the decisions are in the ledger); never commits."""
    job = session.get(ConsentImport, import_id)
    assert job is not None
    job.status = "done"
    job.finished_at = utcnow()
    job.content = None  # the decisions are in the ledger; the raw file is not kept
    audit.record(
        session, actor=ActorRef("system", "consent.import"), action="consent.import.finished",
        target=("import", job.id), details={"imported": job.imported_rows, "rejected": job.rejected_rows},
    )  # fmt: skip
    return {"imported": job.imported_rows, "rejected": job.rejected_rows}
