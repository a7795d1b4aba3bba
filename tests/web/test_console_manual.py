"""When the automation cannot finish a request, a DPO retries its failed job or completes it by hand.

Retry queues the job once more (a second click queues nothing) and the work still happens once. Complete closes
an export the DPO sent outside the service, with how it was done (the person reads it) and a reference kept as
an internal note (never in the audit log, the logs or the person's view). An erasure cannot be completed by hand
before its data is shredded; auditors and support can do neither.
"""

from __future__ import annotations

import json
import logging
import re
import uuid

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.e2e.helpers import fail_job_for_good, file_overdue_request, file_verified_request, in_transaction
from tests.fixtures.access import csrf_token_from

REFERENCE = "Tracked letter RX-4471 to the address on file"


def _drain(app: Flask) -> None:
    from governance.jobs.worker import drain

    while drain(app):
        pass


def _post(client, url: str, **form: str):
    token = csrf_token_from(client.get(url.rsplit("/", 1)[0]).get_data(as_text=True))
    return client.post(url, data={**form, "csrf_token": token})


def _rows(app: Flask, sql: str, **params: str) -> list[sa.Row]:
    with app.extensions["governance.db"].engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _audit(app: Flask, action: str) -> list[sa.Row]:
    return _rows(app, "SELECT action, details FROM audit_entries WHERE action = :a ORDER BY id", a=action)


def _status(app: Flask, request_id: uuid.UUID) -> str:
    from governance.requests import service as requests

    return in_transaction(app, lambda s: requests.get_request(s, request_id).status)


def _refusal(app: Flask, work) -> str:
    from governance.errors import DomainError

    with pytest.raises(DomainError) as caught:
        in_transaction(app, work)
    assert caught.value.status == 409
    return caught.value.code


def _dpo(app: Flask):
    from governance.access.principals import Principal

    return Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset({"dpo"}))


def test_retry_queues_a_failed_export_once_and_it_finishes_once(app, client, make_subject, login_staff):
    from governance.requests import service as requests

    request_id = file_verified_request(app, make_subject(), "access")
    fail_job_for_good(app, requests.EXPORT_JOB)
    login_staff(client, "dpo")
    url = f"/console/requests/{request_id}"
    assert "Retry the job" in client.get(url).get_data(as_text=True)

    response = _post(client, f"{url}/retry")
    assert response.status_code == 303
    assert "queued again" in client.get(response.headers["Location"]).get_data(as_text=True)
    # a second click (or a second DPO) queues nothing more, and says why
    response = _post(client, f"{url}/retry")
    assert "Not done:" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _refusal(app, lambda s: requests.retry_job(s, request_id, actor=_dpo(app))) == "job_not_failed"
    jobs = _rows(app, "SELECT status FROM jobs WHERE kind = :k", k=requests.EXPORT_JOB)
    assert sorted(j.status for j in jobs) == ["failed", "queued"]

    _drain(app)
    assert _status(app, request_id) == "completed"
    assert len(_audit(app, "requests.bundle.created")) == 1
    assert len(_audit(app, "requests.request.completed")) == 1
    (retried,) = _audit(app, "requests.request.retried")
    assert "processor_unreachable" in str(retried.details)
    assert "Retry the job" not in client.get(url).get_data(as_text=True)
    assert _refusal(app, lambda s: requests.retry_job(s, request_id, actor=_dpo(app))) == "not_in_progress"


def test_a_dpo_completes_an_export_sent_outside_the_service(
    app, client, make_subject, login_staff, login_subject, caplog
):
    from governance.requests import service as requests

    caplog.set_level(logging.DEBUG)
    subject = make_subject()
    request_id = file_verified_request(app, subject, "access")
    fail_job_for_good(app, requests.EXPORT_JOB)
    login_staff(client, "dpo")
    url = f"/console/requests/{request_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Complete the request" in page

    assert _post(client, f"{url}/complete", method="post", reference="  ").status_code == 303  # refused, says so
    assert _status(app, request_id) == "in_progress"
    assert _post(client, f"{url}/complete", method="carrier_pigeon", reference=REFERENCE).status_code == 422
    response = _post(client, f"{url}/complete", method="post", reference=REFERENCE)
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Request completed" in page
    assert REFERENCE in page  # the internal note, for staff
    assert "Complete the request" not in page
    assert "Retry the job" not in page
    assert _status(app, request_id) == "completed"

    (completed,) = _audit(app, "requests.request.completed")
    details = completed.details if isinstance(completed.details, dict) else json.loads(completed.details)
    assert details["by_hand"] is True
    assert "post" in str(completed.details)
    every_detail = " ".join(str(r.details) for r in _rows(app, "SELECT details FROM audit_entries"))
    assert "RX-4471" not in every_detail
    assert "RX-4471" not in caplog.text
    # the plain "completed" e-mail, not "your export is ready" (there is no download)
    mails = {r.dedupe_key.split(":")[1] for r in _rows(app, "SELECT dedupe_key FROM jobs WHERE kind LIKE 'notif%'")}
    assert "request_completed" in mails
    assert "export_ready" not in mails
    # a later run of the export job changes nothing
    assert _refusal(
        app, lambda s: requests.complete_by_hand(s, request_id, method="post", reference="x", actor=_dpo(app))
    ) == ("not_in_progress")

    person = app.test_client()
    login_subject(person, subject)
    mine = person.get("/me/requests").get_data(as_text=True)
    assert "We sent it to you by post." in mine
    assert "We finished your request." in mine  # the "Done" status, explained
    assert "RX-4471" not in mine
    assert "no longer available" not in mine


def test_an_erasure_cannot_be_completed_before_its_data_is_shredded(app, client, make_subject, login_staff):
    from governance.requests import service as requests

    subject = make_subject()
    request_id = file_verified_request(app, subject, "erasure")
    fail_job_for_good(app, requests.ERASURE_JOB)
    login_staff(client, "dpo")
    url = f"/console/requests/{request_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Complete the request" not in page
    assert "has not deleted the data yet" in page
    assert "Retry the job" in page

    response = _post(client, f"{url}/complete", method="other_system", reference=REFERENCE)  # a forged post
    assert response.status_code == 303
    assert "Not done:" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert (
        _refusal(
            app,
            lambda s: requests.complete_by_hand(
                s, request_id, method="other_system", reference=REFERENCE, actor=_dpo(app)
            ),
        )
        == "erasure_not_shredded"
    )
    assert _status(app, request_id) == "in_progress"
    assert _audit(app, "requests.request.completed") == []

    # the way forward: retry, and the job erases and certifies
    assert _post(client, f"{url}/retry").status_code == 303
    _drain(app)
    assert _status(app, request_id) == "completed"
    assert len(_audit(app, "requests.erasure.performed")) == 1


def test_complete_only_in_progress_and_erasure_only_after_the_shred():
    from governance.requests.service.manual import completion_refusal, retry_refusal

    assert completion_refusal("received", "access", "new", subject_erased=False) == "not_in_progress"
    assert completion_refusal("completed", "access", "done", subject_erased=False) == "not_in_progress"
    assert completion_refusal("in_progress", "access", "queued", subject_erased=False) is None
    assert completion_refusal("in_progress", "erasure", "queued", subject_erased=False) == "erasure_not_shredded"
    # the step marker alone is not enough: the vault must show the keys destroyed
    assert completion_refusal("in_progress", "erasure", "awaiting_processors", subject_erased=False) == (
        "erasure_not_shredded"
    )
    assert completion_refusal("in_progress", "erasure", "awaiting_processors", subject_erased=True) is None
    assert retry_refusal("in_progress", "rectification", None) == "nothing_to_retry"
    assert retry_refusal("in_progress", "access", "running") == "job_not_failed"
    assert retry_refusal("in_progress", "access", "failed") is None
    assert retry_refusal("in_progress", "erasure", "cancelled") is None


def test_a_received_request_is_not_completed_by_hand(app, client, make_subject, login_staff):
    file_overdue_request(app, make_subject(), days_ago=2)  # identity never checked
    login_staff(client, "dpo")
    html = client.get("/console/requests?status=all").get_data(as_text=True)
    url = re.search(r'href="(/console/requests/[0-9a-f-]{36})"', html).group(1)
    assert "Complete the request" not in client.get(url).get_data(as_text=True)
    response = _post(client, f"{url}/complete", method="post", reference=REFERENCE)
    assert "Not done:" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _audit(app, "requests.request.completed") == []


@pytest.mark.parametrize("role", ["auditor", "support"])
def test_auditors_and_support_neither_retry_nor_complete(app, client, make_subject, login_staff, role):
    from governance.requests import service as requests

    request_id = file_verified_request(app, make_subject(), "access")
    fail_job_for_good(app, requests.EXPORT_JOB)
    login_staff(client, role)
    url = f"/console/requests/{request_id}"
    page = client.get(url).get_data(as_text=True)
    assert "Retry the job" not in page
    assert "Complete the request" not in page
    token = csrf_token_from(page)
    assert client.post(f"{url}/retry", data={"csrf_token": token}).status_code == 403
    form = {"csrf_token": token, "method": "post", "reference": REFERENCE}
    assert client.post(f"{url}/complete", data=form).status_code == 403
    assert _status(app, request_id) == "in_progress"
    assert _audit(app, "requests.request.retried") == []
