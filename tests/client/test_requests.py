"""Data subject requests through the client: filing an export and an erasure and following them to the end
(the fixture's real job worker runs them), and walking every page of the client's requests."""

from __future__ import annotations

import uuid

import pytest

from governance_client import AlreadyErasedError, ValidationError


@pytest.fixture
def product(server):
    return server.client(["subjects:write", "consents:write", "requests:write"])


def new_subject(product) -> uuid.UUID:
    return product.subjects.create(f"user-{uuid.uuid4().hex[:10]}", profile={"country": "DE"}).id


def test_an_export_is_followed_until_it_completes(product) -> None:
    subject = new_subject(product)
    filed = product.requests.export(subject, verification_method="account_login")
    assert (filed.kind, filed.source) == ("access", "client")
    seen: list[str] = []
    done = product.requests.wait(filed.id, timeout=300, on_change=lambda r: seen.append(r.status))
    assert done.status == "completed"
    assert seen[-1] == "completed"
    assert seen == list(dict.fromkeys(seen))  # each status reported once, in order
    again = product.requests.export(subject, verification_method="account_login")
    assert again.id != filed.id  # the first one is closed: a new request, not a merge


def test_an_erasure_completes_with_a_certificate_and_the_subject_is_gone(product) -> None:
    subject = new_subject(product)
    product.consents.grant(subject, "personalized_recommendations")
    filed = product.requests.erase(subject, verification_method="account_login")
    done = product.requests.wait(filed.id, timeout=300)
    assert done.status == "completed", done.outcome_reason
    assert done.has_certificate
    certificate = product.requests.certificate(filed.id)
    assert certificate.certificate.count(".") == 2  # a compact JWS
    with pytest.raises(AlreadyErasedError):
        product.requests.erase(subject, verification_method="account_login")


def test_every_page_of_the_clients_requests_is_walked(product, server) -> None:
    filed = {product.requests.export(new_subject(product), verification_method="account_login").id for _ in range(7)}
    other = server.client(["subjects:write", "requests:write"])
    other.requests.export(new_subject(other), verification_method="account_login")  # not ours: never listed
    pages = list(product.requests.pages(page_size=3))
    assert [len(p.items) for p in pages] == [3, 3, 1]
    assert [p.last for p in pages] == [False, False, True]
    walked = [r.id for r in product.requests.iterate(page_size=3)]
    assert len(walked) == len(set(walked)) == 7
    assert set(walked) == filed
    received = [r.received_at for r in product.requests.iterate(page_size=2)]
    assert received == sorted(received, reverse=True)  # newest first across pages
    assert [r.id for r in product.requests.iterate(kind="erasure")] == []


def test_a_bad_request_is_a_validation_error_naming_the_field(product) -> None:
    with pytest.raises(ValidationError) as refused:
        product.requests.file("export_everything", subject_id=new_subject(product), verification_method="x")
    assert (refused.value.status_code, refused.value.code) == (422, "unknown_kind")
    assert "export_everything" not in str(refused.value)
