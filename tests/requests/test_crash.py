"""Crash safety: a real worker process is killed (os._exit, no cleanup) at several points of an export and an
erasure; nothing half-done is visible; a fresh worker process resumes and the result is correct, exactly once."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction
from governance.requests import service
from governance.requests.bundle_schema import ExportDocument
from governance.requests.certificate import verify_certificate
from governance.requests.crashpoints import ENV_VAR, ERASURE_POINTS, EXIT_CODE, EXPORT_POINTS
from governance.requests.models import DataSubjectRequest, ExportBundle
from tests.requests.conftest import subject_principal
from tests.requests.test_erasure_e2e import _register_processor, processor_endpoint  # noqa: F401 - fixture

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 1


def _worker(database_url: str, instance_dir: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    """One real worker process (`governance worker --once`) against the test database and keys."""
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "test",
        "GOVERNANCE_DATABASE_URL": database_url,
        "GOVERNANCE_INSTANCE_PATH": str(instance_dir),
        "GOVERNANCE_BASE_URL": "http://localhost",
        "GOVERNANCE_LOG_LEVEL": "ERROR",
        "GOVERNANCE_REQUESTS_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "GOVERNANCE_REQUESTS_PROCESSOR_POLL_MINUTES": "0",
    }
    env.pop(ENV_VAR, None)
    if crash_at:
        env[ENV_VAR] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "governance", "worker", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _crash_then_resume(database_url: str, instance_dir: Path, point: str, check_between) -> None:
    crashed = _worker(database_url, instance_dir, point)
    assert crashed.returncode == EXIT_CODE, crashed.stderr[-2000:]
    check_between()
    time.sleep(LEASE_SECONDS + 0.2)  # the dead worker's lease runs out
    resumed = _worker(database_url, instance_dir, None)
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def _count(session: Session, action: str, target: uuid.UUID | None = None) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target_id == str(target))
    return session.scalar(query) or 0


@pytest.mark.parametrize("point", EXPORT_POINTS)
def test_export_survives_a_killed_worker(
    app, session: Session, make_subject, database_url: str, instance_dir: Path, point: str
) -> None:
    alpha = make_subject("alpha", events=25)
    make_subject("bravo", events=25)
    owner = subject_principal(alpha, "sess-owner")
    with transaction(session):
        filed = service.file_request(
            session, subject_id=alpha, kind="access", actor=owner, source="subject", verification_method="session"
        )
    request_id = filed.request.id
    session.commit()

    def nothing_half_done() -> None:
        session.expire_all()
        row = session.get(DataSubjectRequest, request_id)
        bundles = session.scalar(select(func.count()).select_from(ExportBundle))
        if point == "export:committed":  # the step had committed: finished, only the job record lags
            assert (row.status, row.step, bundles) == ("completed", "done", 1)
        else:
            assert (row.status, row.step, bundles) == ("in_progress", "queued", 0)
            assert _count(session, "requests.bundle.created") == 0
        session.rollback()

    _crash_then_resume(database_url, instance_dir, point, nothing_half_done)

    session.expire_all()
    view = service.get_request(session, request_id)
    assert view.status == "completed"
    assert session.scalar(select(func.count()).select_from(ExportBundle)) == 1
    assert _count(session, "requests.bundle.created") == 1
    assert _count(session, "requests.request.completed", request_id) == 1
    with transaction(session):
        token, _ = service.issue_download_link(session, request_id, actor=owner)
        content, _ = service.open_download(session, token, actor=owner)
    document = ExportDocument.model_validate_json(zipfile.ZipFile(io.BytesIO(content)).read("export.json"))
    assert {e.id for e in document.events} == {f"alpha-evt-{n}" for n in range(25)}


@pytest.mark.parametrize("point", ERASURE_POINTS)
def test_erasure_survives_a_killed_worker(
    app,
    session: Session,
    make_subject,
    database_url: str,
    instance_dir: Path,
    processor_endpoint,  # noqa: F811 - the fixture imported above
    point: str,
) -> None:
    from governance.consent import service as consent
    from governance.vault import service as vault

    url, hooks = processor_endpoint
    processor_id = _register_processor(session, url)
    alpha = make_subject("alpha", events=20)
    bravo = make_subject("bravo", events=20)
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=alpha,
            kind="erasure",
            actor=subject_principal(alpha),
            source="subject",
            verification_method="session",
        )
    request_id = filed.request.id
    local_points = ERASURE_POINTS[: ERASURE_POINTS.index("erasure:local_committed")]

    def nothing_half_done() -> None:
        session.expire_all()
        row = session.get(DataSubjectRequest, request_id)
        if point in local_points:
            # the whole local step rolled back: still a live subject with its consents, nothing sent
            assert (row.status, row.step) == ("in_progress", "queued")
            assert vault.get_subject(session, alpha).status == "active"
            assert consent.is_permitted(session, alpha, "personalized_recommendations").allowed
            assert _count(session, "vault.subject.shred") == 0
            assert _count(session, "requests.erasure.performed") == 0
        elif point == "erasure:completed":
            # after the certification step committed: either certified, or still waiting for the processor
            # (with the follow-up check already queued in that same transaction)
            assert (row.status, row.step) in {
                ("partially_completed", "done"),
                ("in_progress", "awaiting_processors"),
            }
        else:
            assert (row.status, row.step) == ("in_progress", "awaiting_processors")
            assert row.certificate is None
            assert vault.erased_ids(session, [alpha]) == {alpha}
        session.rollback()

    _crash_then_resume(database_url, instance_dir, point, nothing_half_done)

    session.expire_all()
    view = service.get_request(session, request_id)
    assert view.status == "partially_completed"  # purchases kept under the tax-law exception
    assert _count(session, "vault.subject.shred") == 1
    assert _count(session, "requests.erasure.performed", request_id) == 1
    assert _count(session, "requests.certificate.issued", request_id) == 1
    assert _count(session, "requests.request.partially_completed", request_id) == 1
    withdrawals = [e for e in consent.history(session, alpha) if e.decision == "withdrawn"]
    assert len(withdrawals) == 2
    erased_hooks = [h for h in hooks.received if h["body"]["event"] == "subject.erased"]
    assert len({h["body"]["id"] for h in erased_hooks}) == 1  # one delivery (retries would reuse its id)
    claims = verify_certificate(
        service.certificate_of(session, request_id),
        [app.extensions["governance.keys"].public_key(service.CERTIFICATE_KEY)],
    )
    assert [(d.processor, d.status) for d in claims.downstream] == [(str(processor_id), "confirmed")]
    assert vault.get_subject(session, bravo).status == "active"


@pytest.mark.parametrize("point", ["erasure:shredded", "erasure:certificate_signed", "erasure:local_committed"])
def test_erasure_without_processors_is_one_transaction(
    app, session: Session, make_subject, database_url: str, instance_dir: Path, point: str
) -> None:
    """With no processor to wait for, both steps commit together: a crash before the commit leaves nothing
    done (a live subject, no certificate), a crash after it leaves the request closed; resuming finishes."""
    from governance.vault import service as vault

    alpha = make_subject("alpha", events=20)
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=alpha,
            kind="erasure",
            actor=subject_principal(alpha),
            source="subject",
            verification_method="session",
        )
    request_id = filed.request.id

    def all_or_nothing() -> None:
        session.expire_all()
        row = session.get(DataSubjectRequest, request_id)
        if point == "erasure:local_committed":
            assert (row.status, row.step) == ("partially_completed", "done")
            assert row.certificate is not None
        else:
            assert (row.status, row.step, row.certificate) == ("in_progress", "queued", None)
            assert vault.get_subject(session, alpha).status == "active"
            assert _count(session, "requests.erasure.performed") == 0
        session.rollback()

    _crash_then_resume(database_url, instance_dir, point, all_or_nothing)

    session.expire_all()
    assert service.get_request(session, request_id).status == "partially_completed"
    for action in ("requests.erasure.performed", "requests.certificate.issued", "requests.request.partially_completed"):
        assert _count(session, action, request_id) == 1
    assert _count(session, "vault.subject.shred") == 1
    verify_certificate(
        service.certificate_of(session, request_id),
        [app.extensions["governance.keys"].public_key(service.CERTIFICATE_KEY)],
    )
