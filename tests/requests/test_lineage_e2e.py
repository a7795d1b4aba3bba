"""Requests with the data gateway and training for real: the export lists the dataset release and the model
that included the person; after erasure the model is flagged, the certificate says so, and the person is absent
from the next dataset release."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest

from governance.db import transaction
from governance.jobs.worker import drain as drain_jobs
from governance.requests import service
from governance.requests.bundle_schema import ExportDocument
from governance.requests.certificate import verify_certificate
from tests.requests.conftest import subject_principal
from tests.training.conftest import PURPOSE, _populate, db_session, naive_bayes_request

pytestmark = pytest.mark.slow

SPEC = {
    "purpose": PURPOSE,
    "profile_fields": ["country", "device"],
    "event_categories": ["view"],
    "event_fields": ["category", "occurred_at", "item"],
    "format": "csv",
}


def _release(app, client, headers) -> str:
    created = client.post("/api/v1/datasets", json=SPEC, headers=headers)
    assert created.status_code == 202, created.get_json()
    while drain_jobs(app):
        pass
    release_id = created.get_json()["release_id"]
    shown = client.get(f"/api/v1/datasets/{release_id}", headers=headers).get_json()
    assert shown["status"] == "ready", shown
    return release_id


def _file(app, subject: uuid.UUID, kind: str) -> uuid.UUID:
    with db_session(app) as session, transaction(session):
        filed = service.file_request(
            session,
            subject_id=subject,
            kind=kind,
            actor=subject_principal(subject, "sess-lineage"),
            source="subject",
            verification_method="session",
        )
    return filed.request.id


def test_lineage_in_export_and_erasure(app, make_app, bearer) -> None:
    from governance.gateway import service as gateway
    from governance.training import service as training

    client = app.test_client()
    with db_session(app) as session:
        population = _populate(session, 40, 7)
    person, other = population.ids[0], population.ids[1]
    analyst = bearer(["datasets:request"], [PURPOSE])
    first_release = _release(app, client, analyst)
    with db_session(app) as session:
        released = gateway.subjects_in_release(session, uuid.UUID(first_release))
        session.rollback()
    assert person in released

    trainer = bearer(["training:submit"], [PURPOSE])
    submitted = client.post("/api/v1/training/jobs", json=naive_bayes_request(), headers=trainer)
    assert submitted.status_code == 202, submitted.get_json()
    while drain_jobs(app):
        pass
    job_id = submitted.get_json()["id"]

    # export: the release and the model that included the person, with purpose and date
    export_id = _file(app, person, "access")
    while drain_jobs(app):
        pass
    with db_session(app) as session, transaction(session):
        owner = subject_principal(person, "sess-lineage")
        token, _ = service.issue_download_link(session, export_id, actor=owner)
        content, _ = service.open_download(session, token, actor=owner)
    document = ExportDocument.model_validate_json(zipfile.ZipFile(io.BytesIO(content)).read("export.json"))
    assert [(r.release_id, r.purpose) for r in document.dataset_releases] == [(first_release, PURPOSE)]
    assert document.dataset_releases[0].released_at is not None
    assert [(m.model_id, m.purpose) for m in document.training_jobs] == [(job_id, PURPOSE)]
    assert document.training_jobs[0].flagged is False

    # erasure: model flagged, certificate says so, absent from the next release
    erasure_id = _file(app, person, "erasure")
    quick = make_app(REQUESTS_PROCESSOR_POLL_MINUTES="0")
    while drain_jobs(quick):
        pass
    with db_session(app) as session:
        view = service.get_request(session, erasure_id)
        assert view.status in ("completed", "partially_completed"), view
        assert view.result["models_flagged"] == 1
        assert training.models_including(session, person)[0].flagged is True
        assert training.models_including(session, other)[0].flagged is False
        token = service.certificate_of(session, erasure_id)
        session.rollback()
    claims = verify_certificate(token, [app.extensions["governance.keys"].public_key(service.CERTIFICATE_KEY)])
    assert claims.models_flagged == 1

    next_release = _release(app, client, analyst)
    with db_session(app) as session:
        released_again = gateway.subjects_in_release(session, uuid.UUID(next_release))
        session.rollback()
    assert person not in released_again
    assert other in released_again
