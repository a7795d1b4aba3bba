"""The Data Rights Protocol (0.9.4) for CCPA authorized agents: signed exercise, status and revoke requests,
mapped onto the service's requests and followed to completion; errors in the specification's shape; every
action audited; nothing the agent sent (the person's email) is stored, logged or echoed."""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import Flask
from flask.testing import FlaskClient

from governance.access.principals import Principal
from governance.settings import PROJECT_ROOT

AGENT, OTHER_AGENT, BUSINESS = "CR_AGENT", "OTHER_AGENT", "EXAMPLE_PERSONALIZATION"
EXERCISE = "/drp/v1/data-rights-request"
SYSTEM = Principal.system("tests")
EMAIL = "drp.person@example.com"


class Agent:
    def __init__(self, agent_id: str, client_id: str) -> None:
        self.id, self.client_id = agent_id, client_id
        self.key = Ed25519PrivateKey.generate()
        self.headers: dict[str, str] = {}

    @property
    def verify_key(self) -> str:
        return base64.b64encode(self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()

    def sign(self, message: dict[str, Any], key: Ed25519PrivateKey | None = None) -> str:
        raw = json.dumps(message).encode()
        return base64.b64encode((key or self.key).sign(raw) + raw).decode()

    def envelope(self, **overrides: Any) -> dict[str, Any]:
        now = dt.datetime.now(dt.UTC)
        return {
            "agent-id": self.id,
            "business-id": BUSINESS,
            "issued-at": now.isoformat(),
            "expires-at": (now + dt.timedelta(minutes=10)).isoformat(),
            **overrides,
        }

    def exercise(self, right: str = "access", **claims: Any) -> dict[str, Any]:
        base = {"drp.version": "0.9.4", "exercise": right, "regime": "ccpa", "agent-request-id": "agent-req-1"}
        return self.envelope(**{**base, **claims})


def _token(app: Flask, client_id: str | None, scopes: set[str]) -> tuple[str, dict[str, str]]:
    from governance.access import tokens

    with app.app_context(), app.extensions["governance.db"].session() as session, session.begin():
        registered = tokens.register_client(session, name="agent", scopes=scopes, actor=SYSTEM, client_id=client_id)
        issued = tokens.issue_token(session, tokens.get_client(session, registered.client_id), scopes)
    return registered.client_id, {"Authorization": f"Bearer {issued.access_token}"}


@pytest.fixture
def agents(app: Flask) -> tuple[Agent, Agent]:
    return Agent(AGENT, "cr-agent-client"), Agent(OTHER_AGENT, "other-agent-client")


@pytest.fixture
def drp_app(app: Flask, make_app, tmp_path: Path, agents: tuple[Agent, Agent]) -> Flask:  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", folder)
    listed = "".join(f"  - id: {a.id}\n    client_id: {a.client_id}\n    verify_key: {a.verify_key}\n" for a in agents)
    drp = folder / "drp.yaml"
    drp.write_text(drp.read_text().replace("agents: []\n", "agents:\n" + listed))
    made = make_app(POLICIES_DIR=str(folder))
    for agent in agents:
        _, agent.headers = _token(made, agent.client_id, {"drp:agent"})
    return made


@pytest.fixture
def person(app: Flask) -> Callable[..., uuid.UUID]:
    from governance.vault import service as vault

    def make(email: str = EMAIL, jurisdiction: str = "US-CA") -> uuid.UUID:
        with app.app_context(), app.extensions["governance.db"].session() as session, session.begin():
            ref = f"user-{uuid.uuid4().hex[:8]}"
            view = vault.create_subject(
                session, external_ref=ref, actor=SYSTEM, profile={"email": email}, jurisdiction=jurisdiction
            )
        return view.id

    return make


def send(client: FlaskClient, method: str, path: str, agent: Agent, body: str | None = None) -> Any:
    headers = {**agent.headers, "Content-Type": "text/plain"}
    return client.open(path, method=method, data=body, headers=headers)


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def spec_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == str(status)
    assert isinstance(body["message"], str)
    assert set(body) <= {"code", "message", "fatal"}
    assert EMAIL not in response.get_data(as_text=True)
    return body


def audit_actions(app: Flask) -> list[str]:
    from governance.audit.models import AuditEntry

    with app.app_context(), app.extensions["governance.db"].session() as session:
        return list(session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("requests.drp.%"))))


def dump(app: Flask) -> str:
    from tests.conftest import dump_all_rows

    return dump_all_rows(app.extensions["governance.db"].engine)


def test_discovery_document(drp_app: Flask) -> None:
    body = ok(drp_app.test_client().get("/.well-known/data-rights.json"))
    base = drp_app.extensions["governance.settings"].base_url.rstrip("/")
    assert body["id"] == BUSINESS
    assert body["api_base"] == f"{base}/drp"
    assert body["supported_actions"] == ["access", "deletion"]
    assert body["supported_verifications"] == ["email"]


def test_an_access_request_followed_to_completion(drp_app: Flask, agents, person) -> None:  # type: ignore[no-untyped-def]
    from governance.jobs.worker import drain

    agent, _ = agents
    subject = person()
    client = drp_app.test_client()
    filed = ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise(email=EMAIL, email_verified=True))))
    assert filed["status"] == "in_progress"
    assert filed["agent_request_id"] == "agent-req-1"
    assert filed["received_at"].endswith("Z")
    assert "expected_by" in filed
    request_id = filed["request_id"]
    assert ok(send(client, "GET", f"{EXERCISE}/{request_id}", agent))["status"] == "in_progress"
    # it is the service's own request: the same id, kind access, the agent's attestation as verification
    from governance.requests import service

    with drp_app.app_context(), drp_app.extensions["governance.db"].session() as session:
        view = service.get_request(session, uuid.UUID(request_id))
        assert (view.subject_id, view.kind, view.verification_method) == (subject, "access", "drp_agent_email")
    drain(drp_app)
    done = ok(send(client, "GET", f"{EXERCISE}/{request_id}", agent))
    assert done["status"] == "fulfilled"
    assert "expected_by" not in done
    assert audit_actions(drp_app) == ["requests.drp.exercised", "requests.drp.status_read", "requests.drp.status_read"]


def test_nothing_the_agent_sent_is_stored_in_clear(drp_app: Flask, agents, person) -> None:  # type: ignore[no-untyped-def]
    agent, _ = agents
    person()
    client = drp_app.test_client()
    ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise(email=EMAIL, email_verified=True))))
    rows = dump(drp_app)
    assert EMAIL not in rows  # the vault keeps the profile encrypted; the request keeps only the subject id


def test_an_unverified_request_waits_for_a_dpo_then_is_revoked(  # type: ignore[no-untyped-def]
    drp_app: Flask, agents, person, login_staff, csrf_headers
) -> None:
    from governance.jobs.worker import drain

    agent, _ = agents
    person()
    client = drp_app.test_client()
    filed = ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise("deletion", email=EMAIL))))
    assert filed["status"] == "open"
    assert filed["processing_details"] == "awaiting identity verification by the business"
    dpo = drp_app.test_client()
    login_staff(dpo, "dpo")
    verified = dpo.post(
        f"/api/v1/requests/{filed['request_id']}/verify", json={"method": "phone_callback"}, headers=csrf_headers(dpo)
    )
    assert verified.status_code == 200, verified.get_json()
    path = f"{EXERCISE}/{filed['request_id']}"
    assert ok(send(client, "GET", path, agent))["status"] == "in_progress"
    revocation = agent.sign(agent.envelope(reason=f"changed my mind {EMAIL}"))
    revoked = ok(send(client, "DELETE", path, agent, revocation))
    assert revoked["status"] == "revoked"
    drain(drp_app)  # the queued erasure sees the rejection and stops
    assert ok(send(client, "GET", path, agent))["status"] == "revoked"
    again = send(client, "DELETE", path, agent, agent.sign(agent.envelope()))
    spec_error(again, 409)
    assert "requests.drp.revoked" in audit_actions(drp_app)
    assert "changed my mind" not in dump(drp_app)


def test_no_match_is_denied_and_nothing_is_filed(drp_app: Flask, agents) -> None:  # type: ignore[no-untyped-def]
    agent, _ = agents
    client = drp_app.test_client()
    body = ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise(email="nobody@example.com"))))
    assert (body["status"], body["reason"]) == ("denied", "no_match")
    spec_error(send(client, "GET", f"{EXERCISE}/{body['request_id']}", agent), 404)
    assert audit_actions(drp_app) == ["requests.drp.denied"]


def test_signed_message_checks(drp_app: Flask, agents, person) -> None:  # type: ignore[no-untyped-def]
    agent, other = agents
    person()
    client = drp_app.test_client()
    claims = {"email": EMAIL, "email_verified": True}
    now = dt.datetime.now(dt.UTC)
    cases = [
        ("not base64 at all!", 400),
        (base64.b64encode(b"short").decode(), 400),
        (agent.sign(agent.exercise(**claims), key=Ed25519PrivateKey.generate()), 403),  # wrong key
        (other.sign(other.exercise(**claims)), 403),  # signed by the other agent, sent with this agent's token
        (agent.sign(agent.exercise(**claims, **{"business-id": "SOMEONE_ELSE"})), 403),
        (agent.sign(agent.exercise(**claims, **{"expires-at": (now - dt.timedelta(minutes=1)).isoformat()})), 400),
        (agent.sign(agent.exercise(**claims, **{"issued-at": (now + dt.timedelta(hours=1)).isoformat()})), 400),
        (agent.sign(agent.exercise("sale:opt_out", **claims)), 400),
        (agent.sign(agent.exercise(**claims, **{"drp.version": "0.5"})), 400),
        (agent.sign({"exercise": "access"}), 400),
        (base64.b64encode(agent.key.sign(b"[1, 2]") + b"[1, 2]").decode(), 400),
    ]
    for body, status in cases:
        error = spec_error(send(client, "POST", EXERCISE, agent, body), status)
        assert error.get("fatal") is True, body
    assert audit_actions(drp_app) == []


def test_who_may_call(drp_app: Flask, agents, person, bearer) -> None:  # type: ignore[no-untyped-def]
    agent, other = agents
    person()
    client = drp_app.test_client()
    filed = ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise(email=EMAIL, email_verified=True))))
    path = f"{EXERCISE}/{filed['request_id']}"
    spec_error(client.get(path), 401)
    spec_error(client.get(path, headers=_token(drp_app, None, {"requests:write"})[1]), 403)  # wrong scope
    unlisted = Agent("UNLISTED", "x")
    _, unlisted.headers = _token(drp_app, None, {"drp:agent"})
    spec_error(send(client, "GET", path, unlisted), 403)  # the scope without a directory entry
    spec_error(send(client, "GET", path, other), 403)  # another agent's request: 403, as the spec says
    spec_error(send(client, "DELETE", path, other, other.sign(other.envelope())), 403)
    spec_error(send(client, "GET", f"{EXERCISE}/{uuid.uuid4()}", agent), 404)
    spec_error(send(client, "GET", f"{EXERCISE}/{EMAIL}", agent), 404)  # malformed id
    assert send(client, "PUT", path, agent, "x").status_code == 405  # routing: before any DRP view, service shape
    assert ok(send(client, "GET", f"/drp/v1/agent/{AGENT}", agent)) == {}
    spec_error(send(client, "GET", f"/drp/v1/agent/{OTHER_AGENT}", agent), 403)


def test_a_deletion_request_followed_to_completion(drp_app: Flask, agents, person) -> None:  # type: ignore[no-untyped-def]
    from governance.jobs.worker import drain
    from governance.vault import service as vault

    agent, _ = agents
    subject = person()
    client = drp_app.test_client()
    body = agent.sign(agent.exercise("deletion", email=EMAIL, email_verified=True))
    filed = ok(send(client, "POST", EXERCISE, agent, body))
    assert filed["status"] == "in_progress"
    drain(drp_app)
    done = ok(send(client, "GET", f"{EXERCISE}/{filed['request_id']}", agent))
    assert done["status"] == "fulfilled", done
    with drp_app.app_context(), drp_app.extensions["governance.db"].session() as session:
        assert vault.erased_ids(session, [subject]) == {subject}
    # the person is gone: a new request for the same email matches nobody
    again = ok(send(client, "POST", EXERCISE, agent, agent.sign(agent.exercise(email=EMAIL, email_verified=True))))
    assert (again["status"], again["reason"]) == ("denied", "no_match")
