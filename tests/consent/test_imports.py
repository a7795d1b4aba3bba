"""Bulk import from another consent platform: valid rows imported with provenance, bad rows reported, malformed
or oversized files rejected whole, and a crashed job resumed without importing anything twice."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.consent import imports, service
from governance.consent.models import ConsentEvent, ConsentImport
from governance.jobs.worker import drain
from tests.consent.conftest import PRODUCT

RECS = "personalized_recommendations"


def csv_file(rows: list[str]) -> bytes:
    return ("subject_id,purpose,decision,collected_at,notice_version,source_record_id\n" + "\n".join(rows)).encode()


def test_csv_import_with_report(app: Flask, session: Session, make_subject) -> None:
    a, b = make_subject(), make_subject()
    content = csv_file(
        [
            f"{a},{RECS},granted,2025-05-01T10:00:00Z,2,rec-1",
            f"{a},partner_sharing,granted,2025-05-01T10:00:00Z,,rec-2",
            f"{b},{RECS},granted,2025-05-01T10:00:00Z,1,rec-3",  # v1: needs renewal, still imported
            f"{b},astrology,granted,2025-05-01T10:00:00Z,,rec-4",
            f"{uuid.uuid4()},{RECS},granted,2025-05-01T10:00:00Z,,rec-5",
            f"{b},fraud_prevention,granted,2025-05-01T10:00:00Z,,rec-6",
            f"{b},{RECS},granted,2999-01-01T00:00:00Z,,rec-7",
            f"not-a-uuid,{RECS},granted,2025-05-01T10:00:00Z,,rec-8",
        ]
    )
    view = imports.start(session, content=content, fmt="csv", source="OldCMP", actor=PRODUCT)
    session.commit()
    assert view["status"] == "queued"
    assert view["total_rows"] == 8
    drain(app, kinds=[imports.JOB_KIND])
    session.expire_all()
    done = imports.status(session, uuid.UUID(view["import_id"]))
    assert done["status"] == "done"
    assert (done["imported_rows"], done["rejected_rows"]) == (3, 5)
    assert done["report"]["rejected"] == [
        {"row": 4, "error": "unknown_purpose"},
        {"row": 5, "error": "subject_not_found"},
        {"row": 6, "error": "basis_not_consent"},
        {"row": 7, "error": "collected_at_in_future"},
        {"row": 8, "error": "invalid_subject_id"},
    ]
    assert service.is_permitted(session, a, RECS).allowed
    assert service.is_permitted(session, b, RECS).reason == "needs_renewal"
    (event,) = [e for e in service.history(session, a) if e.purpose == RECS]
    assert event.method == "import"
    assert event.evidence == {"source_platform": "OldCMP", "source_record_id": "rec-1"}
    assert session.get(ConsentImport, uuid.UUID(view["import_id"])).content is None  # raw file not kept


@pytest.mark.parametrize(
    ("content", "fmt", "problem"),
    [
        (b"subject_id,purpose\nx,y\n", "csv", "columns missing"),
        (b"\xff\xfe\x00garbage", "csv", "not UTF-8"),
        (
            b'{"subject_id": "x", "purpose": "y", "decision": "granted", "collected_at": "z"}\nnot json\n',
            "jsonl",
            "line 2: not JSON",
        ),
        (b"[1, 2]\n", "jsonl", "not a JSON object"),
        (b"x" * (imports.MAX_BYTES + 1), "jsonl", "larger than"),
        (b"", "jsonl", "no rows"),
    ],
)
def test_malformed_files_are_rejected_whole(session: Session, content: bytes, fmt: str, problem: str) -> None:
    view = imports.start(session, content=content, fmt=fmt, source="OldCMP", actor=PRODUCT)
    session.commit()
    assert view["status"] == "rejected"
    assert problem in view["report"]["file_error"]
    assert view["job_id"] is None
    assert session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0


def test_resumed_import_does_not_duplicate(app: Flask, session: Session, make_subject, monkeypatch) -> None:
    subjects = [make_subject() for _ in range(7)]
    lines = [
        json.dumps(
            {"subject_id": str(s), "purpose": RECS, "decision": "granted", "collected_at": "2025-05-01T10:00:00Z"}
        )
        for s in subjects
    ]
    view = imports.start(session, content="\n".join(lines).encode(), fmt="jsonl", source="OldCMP", actor=PRODUCT)
    session.commit()
    monkeypatch.setattr(imports, "BATCH", 3)
    calls = {"n": 0}
    original = imports._import_row

    def crash_in_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("worker died")
        return original(*args, **kwargs)

    monkeypatch.setattr(imports, "_import_row", crash_in_second_batch)
    drain(app, kinds=[imports.JOB_KIND])  # first attempt: batch 1 committed, batch 2 rolled back
    session.expire_all()
    partial = session.get(ConsentImport, uuid.UUID(view["import_id"]))
    assert (partial.status, partial.next_row, partial.imported_rows) == ("running", 3, 3)
    from governance.jobs.models import Job

    session.execute(sa.update(Job).where(Job.status == "queued").values(run_after=sa.func.now()))
    session.commit()
    drain(app, kinds=[imports.JOB_KIND])  # the retry resumes at row 4
    session.expire_all()
    done = imports.status(session, uuid.UUID(view["import_id"]))
    assert (done["status"], done["imported_rows"], done["rejected_rows"]) == ("done", 7, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 7
