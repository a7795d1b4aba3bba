"""OpenID AuthZEN 1.0: the evaluation endpoints answer access decisions exactly as the Cedar policies do and
consent checks exactly as `is_permitted` does, in the specification's shapes; bad input is a 400 that echoes
nothing; the caller needs `authzen:evaluate`."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from governance.access.principals import Principal, Resource

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"
RECS = "personalized_recommendations"
ANALYTICS = "product_analytics"
PERSONAL = "jane.probe@example.com"


@pytest.fixture
def pep(bearer) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(["authzen:evaluate"])


def consent_question(subject: uuid.UUID | str, purpose: str = RECS) -> dict[str, Any]:
    return {
        "subject": {"type": "data_subject", "id": str(subject)},
        "action": {"name": "process"},
        "resource": {"type": "purpose", "id": purpose},
    }


def ask(client: FlaskClient, headers: dict[str, str], body: Any, path: str = EVALUATION) -> dict[str, Any]:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    return response.get_json()


def record(app: Flask, subject: uuid.UUID, decision: str, purpose: str = RECS) -> None:
    from governance.consent import service as consent

    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            with session.begin():
                consent.record_decisions(
                    session,
                    subject,
                    [{"purpose": purpose, "decision": decision}],
                    method="api",
                    actor=Principal.system("tests"),
                    jurisdiction="EU",
                )
        finally:
            session.close()


def test_metadata_names_the_endpoints(client: FlaskClient) -> None:
    response = client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    base = body["policy_decision_point"]
    assert body == {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }


def test_consent_checks_follow_the_ledger(app: Flask, client: FlaskClient, pep, make_subject) -> None:  # type: ignore[no-untyped-def]
    subject = make_subject()
    assert ask(client, pep, consent_question(subject)) == {"decision": False, "context": {"reason": "no_consent"}}
    record(app, subject, "granted")
    assert ask(client, pep, consent_question(subject)) == {"decision": True, "context": {"reason": "granted"}}
    record(app, subject, "withdrawn")
    assert ask(client, pep, consent_question(subject)) == {"decision": False, "context": {"reason": "withdrawn"}}
    # a purpose on another legal basis is permitted without consent, as is_permitted says
    answer = ask(client, pep, consent_question(subject, "fraud_prevention"))
    assert answer["decision"] is True
    assert answer["context"]["reason"] in {"basis_not_consent"}


def test_unknown_and_malformed_are_denies_that_name_the_problem(client: FlaskClient, pep, make_subject) -> None:  # type: ignore[no-untyped-def]
    unknown = ask(client, pep, consent_question(uuid.uuid4()))
    assert unknown == {
        "decision": False,
        "context": {"error": {"status": 404, "code": "unknown_subject", "message": "No such data subject."}},
    }
    malformed = ask(client, pep, consent_question(PERSONAL))
    assert malformed["decision"] is False
    assert malformed["context"]["error"]["status"] == 400
    assert malformed["context"]["error"]["code"] == "invalid_subject_id"
    purpose = ask(client, pep, consent_question(make_subject(), "no_such_purpose"))
    assert purpose["context"]["error"]["code"] == "unknown_purpose"
    system = {"type": "System", "id": "s"}
    read, dataset = {"name": "consent.read"}, {"type": "Dataset", "id": "d"}
    for body in (
        {**consent_question(make_subject()), "action": {"name": "read"}},
        {**consent_question(make_subject()), "subject": {"type": "alien", "id": "x"}},
        {"subject": {"type": "staff", "id": PERSONAL}, "action": read, "resource": system},
        {"subject": {"type": "staff", "id": str(uuid.uuid4())}, "action": {"name": "no.such"}, "resource": system},
        {"subject": {"type": "staff", "id": str(uuid.uuid4())}, "action": read, "resource": dataset},
        {"subject": {"type": "client", "id": "nobody"}, "action": read, "resource": system},
    ):  # fmt: skip
        answer = ask(client, pep, body)
        assert answer["decision"] is False, body
        assert answer["context"]["error"]["status"] in (400, 404), answer
        assert PERSONAL not in str(answer)


def test_access_decisions_are_the_policy_engines(
    app: Flask, client: FlaskClient, pep, make_subject, login_staff, bearer
) -> None:  # type: ignore[no-untyped-def]
    from governance.access.service import get_engine

    mine, other = make_subject(), make_subject()
    staff = {role: login_staff(app.test_client(), role) for role in ("admin", "dpo", "support", "auditor")}
    reader = bearer(["consents:read"])  # a registered client whose own rights are asked about
    with app.test_request_context():
        from governance.access.tokens import principal_for_token

        session = app.extensions["governance.db"].session()
        client_id = principal_for_token(session, reader["Authorization"].split()[1]).id
        session.close()
    subjects = [
        {"type": "staff", "id": str(staff_id), "properties": {"mfa": mfa}}
        for staff_id in staff.values()
        for mfa in (True, False)
    ]
    subjects += [{"type": "data_subject", "id": str(mine)}, {"type": "client", "id": client_id}]
    resources = [
        {"type": "Subject", "id": str(mine)},
        {"type": "Subject", "id": str(other)},
        {"type": "System", "id": "service"},
    ]
    actions = ["consent.read", "profile.read_clear", "audit.read", "dsr.manage", "consent.check", "keys.rotate"]
    with app.app_context():
        engine = get_engine()
    checked = allowed = 0
    for subject in subjects:
        for resource in resources:
            for action in actions:
                body = {"subject": subject, "action": {"name": action}, "resource": resource}
                answer = ask(client, pep, body)
                checked += 1
                if not engine.applies_to(action, resource["type"]):
                    assert answer["decision"] is False
                    assert answer["context"]["error"]["code"] == "not_applicable"
                    continue
                expected = engine.is_allowed(_principal(subject, staff, mine, client_id), action, _resource(resource))
                assert answer["decision"] is expected, body
                assert answer["context"] == {"reason": "permitted" if expected else "denied"}
                allowed += expected
    assert checked == 10 * 3 * 6
    assert 10 < allowed < checked - 30  # the grid holds both answers in numbers
    dpo = {"type": "staff", "id": str(staff["dpo"]), "properties": {"mfa": True}}
    assert ask(client, pep, {"subject": dpo, "action": {"name": "profile.read_clear"}, "resource": resources[0]})[
        "decision"
    ]


def _principal(subject: dict, staff: dict, mine: uuid.UUID, client_id: str) -> Principal:
    if subject["type"] == "staff":
        role = next(r for r, sid in staff.items() if str(sid) == subject["id"])
        return Principal(kind="staff", id=subject["id"], roles=frozenset({role}), mfa=subject["properties"]["mfa"])
    if subject["type"] == "data_subject":
        return Principal(kind="subject", id="x", subject_id=mine)
    return Principal(kind="client", id=client_id, scopes=frozenset({"consents:read"}))


def _resource(resource: dict) -> Resource:
    return Resource.subject(resource["id"]) if resource["type"] == "Subject" else Resource.system()


def test_batch_defaults_order_and_semantics(app: Flask, client: FlaskClient, pep, make_subject) -> None:  # type: ignore[no-untyped-def]
    granted, none = make_subject(), make_subject()
    record(app, granted, "granted")
    body: dict[str, Any] = {
        "action": {"name": "process"},
        "resource": {"type": "purpose", "id": RECS},
        "evaluations": [
            {"subject": {"type": "data_subject", "id": str(granted)}},
            {"subject": {"type": "data_subject", "id": str(none)}},
            {"subject": {"type": "data_subject", "id": str(granted)}, "resource": {"type": "purpose", "id": ANALYTICS}},
            {"subject": {"type": "data_subject", "id": str(granted)}, "unknown_key": PERSONAL},
        ],
    }  # fmt: skip
    answer = ask(client, pep, body, EVALUATIONS)
    assert [e["decision"] for e in answer["evaluations"]] == [True, False, False, True]
    assert [e["context"]["reason"] for e in answer["evaluations"]] == ["granted", "no_consent", "no_consent", "granted"]
    body["options"] = {"evaluations_semantic": "deny_on_first_deny"}
    assert [e["decision"] for e in ask(client, pep, body, EVALUATIONS)["evaluations"]] == [True, False]
    body["options"] = {"evaluations_semantic": "permit_on_first_permit"}
    assert [e["decision"] for e in ask(client, pep, body, EVALUATIONS)["evaluations"]] == [True]
    # an evaluation missing a required key with no default is a deny of its own; the others are answered
    incomplete = {"evaluations": [consent_question(granted), {"subject": {"type": "data_subject", "id": str(granted)}}]}
    answers = ask(client, pep, incomplete, EVALUATIONS)["evaluations"]
    assert answers[0]["decision"] is True
    assert answers[1]["context"]["error"]["code"] == "incomplete_evaluation"
    # no evaluations array: the top level is the one evaluation (backwards compatible)
    assert ask(client, pep, consent_question(granted), EVALUATIONS) == {
        "decision": True,
        "context": {"reason": "granted"},
    }


def test_bad_input_is_400_json_and_echoes_nothing(client: FlaskClient, pep) -> None:  # type: ignore[no-untyped-def]
    bad_bodies: list[Any] = [
        {},
        {
            "subject": {"type": "data_subject"},
            "action": {"name": "process"},
            "resource": {"type": "purpose", "id": RECS},
        },
        {"subject": PERSONAL, "action": {"name": "process"}, "resource": {"type": "purpose", "id": RECS}},
        [consent_question(uuid.uuid4())],
        {**consent_question(uuid.uuid4()), "action": {"name": 7}},
    ]
    for body in bad_bodies:
        response = client.post(EVALUATION, json=body, headers=pep)
        assert response.status_code == 400, (body, response.status_code)
        assert response.get_json()["error"] in {"validation_failed", "unknown_field"}
        assert PERSONAL not in response.get_data(as_text=True)
    for body in ({}, {"evaluations": [], "subject": {"type": "data_subject", "id": str(uuid.uuid4())}}):
        response = client.post(EVALUATIONS, json=body, headers=pep)
        assert response.status_code == 400
        assert response.get_json()["error"] == "validation_failed"
    too_many = {"evaluations": [consent_question(uuid.uuid4())] * 501}
    assert client.post(EVALUATIONS, json=too_many, headers=pep).status_code == 400
    semantic = {"evaluations": [consent_question(uuid.uuid4())], "options": {"evaluations_semantic": PERSONAL}}
    response = client.post(EVALUATIONS, json=semantic, headers=pep)
    assert response.status_code == 400
    assert PERSONAL not in response.get_data(as_text=True)
    not_json = client.post(EVALUATION, data="subject=x", headers={**pep, "Content-Type": "text/plain"})
    assert not_json.status_code == 415
    assert not_json.get_json()["error"] == "unsupported_media_type"
    broken = client.post(EVALUATION, data="{", headers={**pep, "Content-Type": "application/json"})
    assert broken.status_code == 400
    assert broken.get_json()["error"] == "malformed_json"


def test_the_caller_needs_the_authzen_scope(
    app: Flask, client: FlaskClient, bearer, make_subject, login_staff, csrf_headers
) -> None:  # type: ignore[no-untyped-def]
    body = consent_question(make_subject())
    assert client.post(EVALUATION, json=body).status_code == 401
    for scopes in (["consents:read"], ["requests:write", "drp:agent"]):
        response = client.post(EVALUATION, json=body, headers=bearer(scopes))
        assert response.status_code == 403
        assert response.get_json()["error"] == "forbidden"
    assert client.post(EVALUATIONS, json=body, headers=bearer(["consents:read"])).status_code == 403
    staff = app.test_client()  # a person signed in to the console is not an enforcement point
    login_staff(staff, "admin")
    response = staff.post(EVALUATION, json=body, headers=csrf_headers(staff))
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_the_pep_request_id_comes_back(client: FlaskClient, pep, make_subject) -> None:  # type: ignore[no-untyped-def]
    rid = "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"
    response = client.post(EVALUATION, json=consent_question(make_subject()), headers={**pep, "X-Request-ID": rid})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == rid
