"""End to end: an access request runs as a job and yields a sealed bundle holding exactly the subject's data
(a second subject with similar data must not leak in), downloadable once per session through an expiring link,
deleted after its retention."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from governance.db import transaction, utcnow
from governance.requests import service
from governance.requests.bundle_schema import ExportDocument
from governance.requests.errors import DownloadLinkGoneError, RequestNotFoundError
from governance.requests.models import DownloadLink, ExportBundle
from tests.conftest import dump_all_rows
from tests.requests.conftest import SYSTEM, subject_principal


def _export(session: Session, subject: uuid.UUID, drain, kind: str = "access") -> service.RequestView:
    me = subject_principal(subject, "sess-owner")
    with transaction(session):
        filed = service.file_request(
            session, subject_id=subject, kind=kind, actor=me, source="subject", verification_method="session"
        )
    drain()
    session.expire_all()
    return service.get_request(session, filed.request.id)


def _download(session: Session, request_id: uuid.UUID, actor, token: str | None = None) -> tuple[str, bytes]:
    with transaction(session):
        if token is None:
            token, _ = service.issue_download_link(session, request_id, actor=actor)
        content, _name = service.open_download(session, token, actor=actor)
    return token, content


def test_export_holds_exactly_the_subjects_data(app, session: Session, make_subject, drain) -> None:
    from governance.consent import service as consent
    from governance.vault import service as vault

    alpha = make_subject("alpha", events=40)
    bravo = make_subject("bravo", events=40)
    view = _export(session, alpha, drain)
    assert view.status == "completed", view
    assert view.result["events"] == 40
    _, content = _download(session, view.id, subject_principal(alpha, "sess-owner"))
    archive = zipfile.ZipFile(io.BytesIO(content))
    document = ExportDocument.model_validate_json(archive.read("export.json"))

    assert document.subject.id == str(alpha)
    assert document.request.id == str(view.id)
    expected_profile = vault.read_profile(session, alpha, actor=SYSTEM, view="clear")["fields"]
    assert document.profile == expected_profile
    assert {e.id for e in document.events} == {f"alpha-evt-{n}" for n in range(40)}
    expected_events = {e.event_id: e for e in vault.iter_events(session, alpha)}
    for event in document.events:
        assert event.category == expected_events[event.id].category
        assert event.data["context"] == expected_events[event.id].context
    history = consent.history(session, alpha)
    assert len(document.consent_decisions) == len(history) == 2
    assert {d.purpose for d in document.consent_decisions} == {"personalized_recommendations", "marketing_email"}
    assert len(document.consent_receipts) == len(consent.receipts(session, alpha))
    assert all(r.content.get("jws") for r in document.consent_receipts)
    assert [r.id for r in document.requests] == [str(view.id)]

    # nobody else's data: nothing of bravo anywhere in any file of the bundle
    for name in archive.namelist():
        text = archive.read(name).decode("utf-8")
        assert "bravo" not in text, name
        assert str(bravo) not in text, name
    rows = list(csv.DictReader(io.StringIO(archive.read("events.csv").decode())))
    assert len(rows) == 40
    search_ids = {r["id"] for r in rows if r["category"] == "search"}
    assert search_ids
    details = list(csv.DictReader(io.StringIO(archive.read("event_details.csv").decode())))
    queries = {d["event_id"]: d["value"] for d in details if d["name"] == "context.query"}
    assert {queries[i] for i in search_ids} == {"alpha secret search"}


def test_bundle_is_sealed_at_rest(app, session: Session, make_subject, drain) -> None:
    alpha = make_subject("alpha", events=5)
    view = _export(session, alpha, drain)
    stored = session.scalars(select(ExportBundle)).one()
    assert stored.sealed is not None
    assert b"alpha.person@example.org" not in stored.sealed
    assert b"export.json" not in stored.sealed
    session.commit()  # end this session's read transaction (SQLite: one transaction at a time)
    dump = dump_all_rows(app.extensions["governance.db"].engine)
    assert "alpha.person@example.org" not in dump
    assert "alpha secret search" not in dump
    assert view.result["bundle_id"] == str(stored.id)


def test_download_link_is_bound_to_one_session_and_expires(app, session: Session, make_subject, drain) -> None:
    alpha = make_subject("alpha", events=3)
    view = _export(session, alpha, drain, kind="portability")
    owner = subject_principal(alpha, "sess-owner")
    token, first = _download(session, view.id, owner)
    _, again = _download(session, view.id, owner, token)  # the same session may download again
    assert first == again

    other_session = subject_principal(alpha, "sess-other")
    with pytest.raises(RequestNotFoundError), transaction(session):
        service.open_download(session, token, actor=other_session)
    with pytest.raises(RequestNotFoundError), transaction(session):
        service.open_download(session, "not-a-token", actor=owner)

    later = utcnow() + timedelta(hours=2)
    with pytest.raises(DownloadLinkGoneError) as info, transaction(session):
        service.open_download(session, token, actor=owner, now=later)
    assert info.value.status == 410
    # a fresh link works until the bundle's retention ends
    fresh, _ = _download(session, view.id, other_session)
    assert fresh != token


def test_bundle_is_deleted_after_seven_days(app, session: Session, make_subject, drain) -> None:
    alpha = make_subject("alpha", events=3)
    view = _export(session, alpha, drain)
    owner = subject_principal(alpha, "sess-owner")
    with transaction(session):
        token, _ = service.issue_download_link(session, view.id, actor=owner)
    with transaction(session):
        assert service.purge_expired_bundles(session, now=utcnow() + timedelta(days=6, hours=23)) == 0
    with transaction(session):
        assert service.purge_expired_bundles(session, now=utcnow() + timedelta(days=7, minutes=1)) == 1
    stored = session.scalars(select(ExportBundle)).one()
    assert (stored.sealed, stored.wrapped_key) == (None, None)
    assert stored.deleted_at is not None
    with pytest.raises(DownloadLinkGoneError), transaction(session):
        service.open_download(session, token, actor=owner)
    with pytest.raises(DownloadLinkGoneError), transaction(session):
        service.issue_download_link(session, view.id, actor=owner)


def test_export_after_erasure_is_rejected_with_a_reason(app, session: Session, make_subject, drain) -> None:
    from governance.vault import service as vault

    alpha = make_subject("alpha", events=3)
    with transaction(session):
        filed = service.file_request(
            session,
            subject_id=alpha,
            kind="access",
            actor=subject_principal(alpha),
            source="subject",
            verification_method="session",
        )
        vault.shred_subject(session, alpha, actor=SYSTEM, reason="test")
    drain()
    session.expire_all()
    view = service.get_request(session, filed.request.id)
    assert (view.status, view.rejection_code) == ("rejected", "subject_erased")
    assert view.outcome_reason


def test_erasure_deletes_the_subjects_export_bundles(app, make_app, session: Session, make_subject, drain) -> None:
    from governance.jobs.worker import drain as drain_jobs

    alpha = make_subject("alpha", events=3)
    bravo = make_subject("bravo", events=3)
    view = _export(session, alpha, drain)
    bravo_view = _export(session, bravo, drain)
    owner = subject_principal(alpha, "sess-owner")
    token, _ = _download(session, view.id, owner)  # used once: the link row records the session
    _download(session, bravo_view.id, subject_principal(bravo, "sess-owner"))
    with transaction(session):
        erasure = service.file_request(
            session, subject_id=alpha, kind="erasure", actor=owner, source="subject", verification_method="session"
        )
    quick = make_app(REQUESTS_PROCESSOR_POLL_MINUTES="0")
    while drain_jobs(quick):
        pass
    session.expire_all()
    stored = session.scalars(select(ExportBundle).where(ExportBundle.subject_id == alpha)).one()
    assert (stored.sealed, stored.wrapped_key) == (None, None)
    assert "export_bundles" in service.get_request(session, erasure.request.id).result["deleted"]
    # the link rows (token hash, the session that used it) are deleted, not just expired; others stay
    links = session.scalars(select(DownloadLink.bundle_id)).all()
    assert links == [session.scalars(select(ExportBundle.id).where(ExportBundle.subject_id == bravo)).one()]
    assert session.scalar(select(func.count()).select_from(DownloadLink)) == 1
    with pytest.raises(RequestNotFoundError), transaction(session):
        service.open_download(session, token, actor=owner)
