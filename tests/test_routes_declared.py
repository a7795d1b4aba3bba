"""Deny by default: every route of the app declares the action it performs, or says why it is public."""

from __future__ import annotations

from flask import Flask

from governance.access.decorators import declaration_for_endpoint


def test_every_route_declares_an_action_or_is_public(app: Flask) -> None:
    undeclared = []
    for rule in app.url_map.iter_rules():
        declaration = declaration_for_endpoint(app, rule.endpoint)
        if declaration is None or (declaration.action is None and not declaration.public_reason):
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert undeclared == [], f"routes without a declared permission: {undeclared}"


def test_an_undeclared_route_is_refused(make_app) -> None:  # type: ignore[no-untyped-def]
    app = make_app()

    @app.get("/undeclared")
    def undeclared() -> str:
        return "should never be served"

    response = app.test_client().get("/undeclared", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json["error"] == "undeclared_route"
