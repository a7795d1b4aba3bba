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


def test_every_declared_action_and_resource_type_fits_the_policy_schema(app: Flask) -> None:
    """The start-up check passes for the shipped routes (it ran inside create_app) and names no route."""
    from governance.access.decorators import check_route_declarations
    from governance.access.service import POLICY_ENGINE
    from governance.core.runtime import runtime_of

    check_route_declarations(app)
    engine = runtime_of(app).get(POLICY_ENGINE)
    for rule in app.url_map.iter_rules():
        declaration = declaration_for_endpoint(app, rule.endpoint)
        if declaration is None or declaration.public_reason is not None:
            continue
        assert declaration.resource_types, rule.endpoint
        for resource_type in declaration.resource_types:
            assert engine.applies_to(declaration.action, resource_type), (rule.endpoint, resource_type)


def test_a_route_whose_action_does_not_apply_to_its_resource_stops_start_up(make_app) -> None:  # type: ignore[no-untyped-def]
    """Finding 18.1 as a class: a mismatch between a route and the Cedar schema fails create_app, not a request."""
    import pytest

    from governance.access.decorators import RouteDeclarationError, check_route_declarations, requires, resource_of

    app = make_app()

    @resource_of("Subject")
    def a_subject(_args: dict) -> object:  # type: ignore[type-arg]
        raise AssertionError("never called at start-up")

    @app.post("/mismatched/<subject_id>")
    @requires("keys.read", resource=a_subject)
    def mismatched(subject_id: str) -> str:
        return "never served"

    @app.post("/unknown-action")
    @requires("keys.shred")
    def unknown_action() -> str:
        return "never served"

    with pytest.raises(RouteDeclarationError) as raised:
        check_route_declarations(app)
    assert "mismatched" in str(raised.value)
    assert "'keys.read' does not apply to Subject" in str(raised.value)
    assert "unknown_action" in str(raised.value)


def test_every_route_is_in_the_route_table_of_docs_access_md(app: Flask) -> None:
    """docs/access.md is the permission table: a new route (or a changed action) must be written there too.
    Print the current table with `python scripts/route_table.py`."""
    from governance.access.routetable import route_rows
    from tests.access.access_doc import route_table

    documented = route_table()
    actual = {row.route: (row.action, row.interface) for row in route_rows(app)}
    missing = sorted(f"{route} {actual[route]}" for route in set(actual) - set(documented))
    stale = sorted(f"{route} {documented[route]}" for route in set(documented) - set(actual))
    changed = sorted(
        f"{route}: docs {documented[route]} != app {actual[route]}"
        for route in set(actual) & set(documented)
        if documented[route] != actual[route]
    )
    assert (missing, stale, changed) == ([], [], []), "docs/access.md's route table and the app disagree"
