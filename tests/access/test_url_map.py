"""Every route of the app declares an action of the policy catalogue (or says why it is public), so a typo in
an action name cannot silently deny (or a new route skip) authorization."""

from __future__ import annotations

from flask import Flask

from governance.access.decorators import declaration_for_endpoint
from governance.access.service import get_engine


def test_every_route_declares_a_catalogued_action_or_is_public(app: Flask) -> None:
    with app.app_context():
        catalogue = get_engine().actions
    problems = []
    for rule in app.url_map.iter_rules():
        declaration = declaration_for_endpoint(app, rule.endpoint)
        if declaration is None:
            problems.append(f"{rule.rule}: no declaration")
        elif declaration.public_reason is not None:
            if len(declaration.public_reason.strip()) < 10:
                problems.append(f"{rule.rule}: public without a real reason")
        elif declaration.action not in catalogue:
            problems.append(f"{rule.rule}: unknown action {declaration.action!r}")
    assert problems == []


def test_access_routes_are_declared_as_expected(app: Flask) -> None:
    expected = {
        "access.oauth_token": None,
        "access.login": None,
        "access.start_dashboard": None,
        "access_api.create_dashboard_link": "subject.link",
        "access_api.register_client": "client.manage",
        "access_api.reset_password": "staff.manage",
        "access.enrol_totp": "account.self",
        "access_api.list_break_glass": "audit.read",
    }
    for endpoint, action in expected.items():
        declaration = declaration_for_endpoint(app, endpoint)
        assert declaration is not None, endpoint
        assert declaration.action == action, endpoint


def test_access_api_is_in_the_openapi_document(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert "/api/v1/subjects/{subject_id}/dashboard-links" in paths
    assert "/api/v1/access/clients" in paths
    assert "/api/v1/access/policy" in paths
