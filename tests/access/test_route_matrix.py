"""Every route x every kind of principal, against the permission table of docs/access.md (issue 19, finding 1).

The app under test is the real one (authentication, resource factories reading the real tables, the Cedar
policies, CSRF, the JSON guard) with one change: each non-public view is replaced by a stub that answers
"reached". So a request reaches its stub exactly when the `enforce` hook let it through, and no view runs
(nothing is changed, no body is needed). An `after_request` hook reports the principal and the resource the
hook built, so the expected answer is computed from the table for exactly what was decided.

The test fails on any allow the table does not list, and on any refusal of an allow it lists (so a silently
masked route cannot pass as "denied"). Principals: anonymous, two subject sessions (the owner of the items in
the URLs and a stranger), each staff role, a client with each scope alone and one with every scope.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, g, jsonify
from flask.testing import FlaskClient

from governance.access.principals import Principal, Resource
from governance.access.routetable import route_rows
from tests.access.access_doc import SCOPES, STAFF_ROLES, catalogue, expected_allowed, route_table
from tests.fixtures.access import csrf_token_from

PURPOSE = "personalized_recommendations"
SYSTEM = Principal.system("route-matrix")
REPORT_HEADER = "X-Route-Matrix"


def _stub(endpoint: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def reached(**_kwargs: Any) -> Any:
        return jsonify({"route_matrix": "reached", "endpoint": endpoint})

    reached.__wrapped__ = original  # type: ignore[attr-defined]  # keeps the declaration visible to `enforce`
    reached.__name__ = f"stub_{endpoint.replace('.', '_')}"
    return reached


def _report(response: Any) -> Any:
    principal: Principal | None = g.get("principal")
    resource: Resource | None = g.get("resource")
    report: dict[str, Any] = {}
    if principal is not None:
        report["principal"] = {
            "kind": principal.kind,
            "id": principal.id,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
            "purposes": sorted(principal.purposes),
            "subject_id": str(principal.subject_id) if principal.subject_id else None,
        }
    if resource is not None:
        report["resource"] = {
            "type": resource.type,
            "owner_subject_id": str(resource.owner_subject_id) if resource.owner_subject_id else None,
            "owner_client_id": resource.owner_client_id,
            "purpose": resource.purpose,
        }
    response.headers[REPORT_HEADER] = json.dumps(report)
    return response


@pytest.fixture
def matrix_app(make_app) -> Flask:  # type: ignore[no-untyped-def]
    app = make_app()
    for row in route_rows(app):
        if row.action != "public":
            app.view_functions[row.endpoint] = _stub(row.endpoint, app.view_functions[row.endpoint])
    app.after_request(_report)
    return app


def _world(app: Flask) -> dict[str, Any]:
    """Subject A with an export request (and its job) filed from A's own session; subject B owns nothing."""
    from governance.db import transaction
    from governance.requests import service as requests
    from governance.vault import service as vault

    with app.test_request_context(), app.extensions["governance.db"].session() as session:
        with transaction(session):
            alpha = vault.create_subject(session, external_ref="matrix-a", actor=SYSTEM, jurisdiction="EU").id
            bravo = vault.create_subject(session, external_ref="matrix-b", actor=SYSTEM, jurisdiction="EU").id
        with transaction(session):
            own_session = Principal(kind="subject", id="matrix-session", subject_id=alpha)
            filed = requests.file_request(
                session,
                subject_id=alpha,
                kind="access",
                actor=own_session,
                source="subject",
                verification_method="session",
            )
    return {"alpha": alpha, "bravo": bravo, "request_id": filed.request.id, "job_id": filed.request.job_id}


def _path(rule: str, endpoint: str, world: dict[str, Any]) -> str:
    values = {
        "subject_id": world["alpha"],
        "request_id": world["request_id"],
        "job_id": world["job_id"] if endpoint == "jobs_api.get_job" else uuid.uuid4(),
        "purpose": PURPOSE,
        "purpose_key": PURPOSE,
        "key": PURPOSE,
        "version": 1,
        "seq": 1,
        "fmt": "csv",
        "filename": "matrix.css",
        "token": "t" * 43,
    }
    path = rule
    for part in rule.split("<")[1:]:
        spec = part.split(">")[0]
        name = spec.split(":")[-1]
        value = values.get(name, uuid.uuid4())
        path = path.replace(f"<{spec}>", str(value))
    return path


def _principals(app: Flask, world: dict[str, Any], login_subject, login_staff, bearer) -> dict[str, tuple]:  # type: ignore[no-untyped-def]
    """name -> (test client, extra headers)."""
    made: dict[str, tuple[FlaskClient, dict[str, str]]] = {"anonymous": (app.test_client(), {})}
    for name, subject in (("subject-owner", world["alpha"]), ("subject-stranger", world["bravo"])):
        browser = app.test_client()
        login_subject(browser, subject)
        made[name] = (browser, {})
    for role in STAFF_ROLES:
        browser = app.test_client()
        login_staff(browser, role)
        made[f"staff-{role}"] = (browser, {})
    for scope in SCOPES:
        made[f"client-{scope}"] = (app.test_client(), bearer([scope], [PURPOSE]))
    made["client-every-scope"] = (app.test_client(), bearer(SCOPES, [PURPOSE]))
    for browser, headers in made.values():  # cookie-authenticated writes need the CSRF token (bearer ones not)
        if "Authorization" not in headers:
            headers["X-CSRFToken"] = csrf_token_from(browser.get("/login").get_data(as_text=True))
    return made


def _principal_of(report: dict[str, Any]) -> Principal:
    p = report["principal"]
    return Principal(
        kind=p["kind"],
        id=p["id"],
        roles=frozenset(p["roles"]),
        scopes=frozenset(p["scopes"]),
        purposes=frozenset(p["purposes"]),
        subject_id=uuid.UUID(p["subject_id"]) if p["subject_id"] else None,
        mfa=True,
    )


def _resource_of(report: dict[str, Any]) -> Resource:
    r = report["resource"]
    return Resource(
        type=r["type"],
        owner_subject_id=uuid.UUID(r["owner_subject_id"]) if r["owner_subject_id"] else None,
        owner_client_id=r["owner_client_id"],
        purpose=r["purpose"],
    )


def _call(browser: FlaskClient, method: str, path: str, headers: dict[str, str], page: bool) -> Any:
    kwargs: dict[str, Any] = {"headers": {"Accept": "application/json", **headers}}
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        kwargs["data" if page else "json"] = {}
    return browser.open(path, method=method, **kwargs)


INTENDED_KIND = {"anonymous": "anonymous", "subject": "subject", "staff": "staff", "client": "client"}


@pytest.mark.slow
def test_every_route_answers_every_principal_as_docs_access_md_says(  # type: ignore[no-untyped-def]
    matrix_app: Flask, login_subject, login_staff, bearer
) -> None:
    rules = catalogue()
    documented = route_table()
    world = _world(matrix_app)
    principals = _principals(matrix_app, world, login_subject, login_staff, bearer)
    problems: list[str] = []
    checked = 0
    for row in route_rows(matrix_app):
        if row.action == "public":
            continue
        assert documented.get(row.route) == (row.action, row.interface), f"{row.route}: not in docs/access.md"
        page = row.interface == "page"
        path = _path(row.rule, row.endpoint, world)
        for name, (browser, headers) in principals.items():
            response = _call(browser, row.method, path, headers, page)
            checked += 1
            if response.status_code >= 500:
                problems.append(f"{row.route} as {name}: {response.status_code}")
                continue
            reached = (response.get_json(silent=True) or {}).get("route_matrix") == "reached"
            report = json.loads(response.headers.get(REPORT_HEADER, "{}"))
            intended = INTENDED_KIND[name.split("-")[0]]
            resolved = report.get("principal", {}).get("kind", "anonymous")
            bearer_on_page = page and intended == "client"
            if resolved != intended and not bearer_on_page:
                problems.append(f"{row.route} as {name}: authenticated as {resolved}")
                continue
            if bearer_on_page:
                if reached:
                    problems.append(f"{row.route} as {name}: ALLOWED, a bearer token opened a page")
                elif response.status_code != 401:
                    problems.append(f"{row.route} as {name}: a bearer token on a page got {response.status_code}")
                continue
            if resolved == "anonymous" or "resource" not in report:
                expected = False
            else:
                expected = expected_allowed(rules[row.action], _principal_of(report), _resource_of(report), page=page)
            if reached and not expected:
                problems.append(f"{row.route} as {name}: ALLOWED, docs/access.md does not list it")
            elif expected and not reached:
                problems.append(f"{row.route} as {name}: refused ({response.status_code}), docs/access.md allows it")
    assert checked > 1500
    assert problems == [], "\n".join(problems)


def test_the_policy_files_grant_exactly_what_the_catalogue_says() -> None:
    """The catalogue against the Cedar policies directly, on an item of the principal's own and someone else's."""
    from governance.access.policy import PolicyEngine
    from governance.settings import PROJECT_ROOT
    from tests.access.test_policy_decisions import RESOURCE_TYPE, context_for

    engine = PolicyEngine.from_directory(PROJECT_ROOT / "policies")
    rules = catalogue()
    assert set(rules) == set(engine.actions), "the catalogue lists exactly the actions of the schema"
    mine, other = uuid.uuid4(), uuid.uuid4()
    people = [Principal(kind="staff", id=f"s-{r}", roles=frozenset({r}), mfa=True) for r in STAFF_ROLES]
    people.append(Principal(kind="subject", id="session", subject_id=mine))
    people += [Principal(kind="client", id="c-1", scopes=frozenset({s}), purposes=frozenset({PURPOSE})) for s in SCOPES]
    people.append(Principal.anonymous())
    problems = []
    for action, rule in sorted(rules.items()):
        rtype = RESOURCE_TYPE[action.split(".")[0]]
        resources = [
            Resource(type=rtype, id="r", owner_subject_id=mine, purpose=PURPOSE, owner_client_id="c-1"),
            Resource(type=rtype, id="r", owner_subject_id=other, purpose="other", owner_client_id="c-2"),
            Resource.system(),
        ]
        for principal in people:
            for resource in resources:
                allowed = engine.is_allowed(principal, action, resource, context_for(action))
                if allowed != expected_allowed(rule, principal, resource, page=False):
                    problems.append(f"{action} {principal.kind}:{principal.id} on {resource}: policy says {allowed}")
    assert problems == [], "\n".join(problems)
