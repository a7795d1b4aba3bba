"""Typed errors from real answers of the service: the class follows the status and the service's `error` code,
the error carries code, status, message, request id and fields, and never what the caller sent (a person's
reference, e-mail address or id)."""

from __future__ import annotations

import uuid

import pytest

from governance_client import (
    ApiError,
    ConflictError,
    GovernanceError,
    NotFoundError,
    PermissionDeniedError,
    SubjectNotFoundError,
    UnknownPurposeError,
    ValidationError,
)
from governance_client.errors import error_from_response


def test_an_unknown_subject_is_a_subject_not_found_error_without_the_id(server) -> None:
    gc = server.client(["consents:read"])
    subject = uuid.uuid4()
    with pytest.raises(SubjectNotFoundError) as missing:
        gc.consents.check(subject, "personalized_recommendations")
    error = missing.value
    assert isinstance(error, NotFoundError)
    assert isinstance(error, ApiError)
    assert isinstance(error, GovernanceError)
    assert (error.status_code, error.code) == (404, "subject_not_found")
    assert error.request_id
    assert str(subject) not in str(error)
    assert str(subject) not in repr(error.details)


def test_an_unknown_purpose_lists_the_valid_ones(server) -> None:
    product = server.client(["subjects:write", "consents:write"])
    subject = product.subjects.create(f"user-{uuid.uuid4().hex[:8]}").id
    with pytest.raises(UnknownPurposeError) as unknown:
        product.consents.grant(subject, "mind_reading")
    assert (unknown.value.status_code, unknown.value.code) == (422, "unknown_purpose")
    assert "personalized_recommendations" in unknown.value.valid_purposes
    assert "mind_reading" not in str(unknown.value)


def test_a_missing_scope_is_permission_denied(server) -> None:
    reader = server.client(["consents:read"])
    with pytest.raises(PermissionDeniedError) as denied:
        reader.subjects.create("user-without-scope")
    assert denied.value.status_code == 403
    assert denied.value.code == "forbidden"


def test_a_duplicate_reference_is_a_conflict_that_does_not_repeat_it(server) -> None:
    product = server.client(["subjects:write"])
    reference = "jane.doe@example.org"  # a product that (wrongly) uses e-mail addresses as its user ids
    product.subjects.create(reference, profile={"email": reference})
    with pytest.raises(ConflictError) as duplicate:
        product.subjects.create(reference)
    error = duplicate.value
    assert (error.status_code, error.code) == (409, "subject_exists")
    for text in (str(error), repr(error.details), error.message, repr(error.fields)):
        assert reference not in text
        assert "jane" not in text


def test_an_invalid_profile_names_the_field_not_the_value(server) -> None:
    product = server.client(["subjects:write"])
    with pytest.raises(ValidationError) as invalid:
        product.subjects.create(f"user-{uuid.uuid4().hex[:8]}", profile={"birth_date": "the 5th of never"})
    error = invalid.value
    assert error.status_code == 422
    assert "birth_date" in error.fields
    assert "never" not in str(error) + repr(error.fields) + repr(error.details)


def test_an_answer_that_is_not_the_services_json_keeps_no_text() -> None:
    page = b"<html><body>upstream error for jane.doe@example.org</body></html>"
    error = error_from_response(502, page, {"x-request-id": "req-1"})
    assert (error.status_code, error.code, error.request_id) == (502, "http_502", "req-1")
    assert "jane" not in str(error)
    assert type(error).__name__ == "ServerError"
