"""Refusals are always audited (issue 18, findings 4 and 5), even when the client puts personal data in the URL
or the body: the value is replaced by a keyed hash, never written in clear and never a reason to drop the entry.

Before the fix `audit.record` refused such details, so a probe with e-mail- or phone-shaped ids left no trail
(only an error log line), and `POST /datasets {"purpose": "<e-mail>"}` answered 500 `audit_details_rejected`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.audit.models import AuditEntry
from governance.audit.service import REDACTED_PREFIX

EMAIL = "someone.probe@example.com"
PHONE = "+447911123456"


def _entries(app: Flask, action: str) -> list[AuditEntry]:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))
        finally:
            session.close()


def _all_audit_text(app: Flask) -> str:
    engine = app.extensions["governance.db"].engine
    with engine.connect() as conn:
        return "\n".join(repr(tuple(row)) for row in conn.execute(sa.text("SELECT * FROM audit_entries")))


@pytest.mark.parametrize("probe", [EMAIL, PHONE])
def test_a_refused_request_with_a_personal_looking_url_id_is_audited_redacted(
    app: Flask, login_staff: Callable[..., uuid.UUID], csrf_headers: Any, probe: str
) -> None:
    support = app.test_client()
    login_staff(support, "support")
    response = support.delete(f"/api/v1/access/clients/{probe}", headers=csrf_headers(support))
    assert response.status_code == 403
    denied = _entries(app, "access.denied")
    assert len(denied) == 1, "the refusal left no audit entry"
    assert denied[0].target_id.startswith(REDACTED_PREFIX)
    assert denied[0].details["action"] == "client.manage"
    assert probe not in _all_audit_text(app)


def test_the_same_probe_value_gets_the_same_keyed_hash(
    app: Flask, login_staff: Callable[..., uuid.UUID], csrf_headers: Any
) -> None:
    """Investigators can see that one value was probed twice (and another once) without learning either."""
    support = app.test_client()
    login_staff(support, "support")
    for probe in (EMAIL, EMAIL, "other.person@example.com"):
        assert support.delete(f"/api/v1/access/clients/{probe}", headers=csrf_headers(support)).status_code == 403
    targets = [entry.target_id for entry in _entries(app, "access.denied")]
    assert len(targets) == 3
    assert targets[0] == targets[1] != targets[2]


def test_a_dataset_request_naming_personal_data_as_its_purpose_is_refused_and_audited(
    app: Flask, bearer: Callable[..., dict[str, str]]
) -> None:
    client = app.test_client()
    headers = bearer({"datasets:request"}, {"personalized_recommendations"})
    response = client.post("/api/v1/datasets", json={"purpose": EMAIL}, headers=headers)
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    assert response.json["error"] != "audit_details_rejected"
    refused = _entries(app, "gateway.release.refused")
    assert len(refused) == 1
    assert refused[0].target_id.startswith(REDACTED_PREFIX)
    assert EMAIL not in _all_audit_text(app)
    assert EMAIL not in response.get_data(as_text=True)


def test_ordinary_records_still_refuse_personal_data(app: Flask) -> None:
    """Redaction is for refusals only: a domain that tries to audit personal data is still stopped."""
    from governance.access.principals import Principal
    from governance.audit import record
    from governance.audit.errors import AuditDetailsError

    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            with pytest.raises(AuditDetailsError):
                record(session, actor=Principal.system("t"), action="tests.thing.done", target=("x", EMAIL))
        finally:
            session.rollback()
            session.close()
