"""Enforcement of the route declarations (`governance.core.routes`): the app-wide `enforce` hook runs before
every view, finds the declaration, authenticates the caller, builds the resource from the URL's arguments and asks
the policy engine. A route without a declaration is refused (deny by default), and a test walks the URL map so
that such a route cannot be merged.

The declarations themselves live in the kernel; they are re-exported here for the domains above access.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, redirect, request, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from governance.access import authn, service
from governance.access.service import POLICY_ENGINE
from governance.core.principals import Resource
from governance.core.routes import (
    ACTION_ATTR,
    PUBLIC_ATTR,
    RESOURCE_TYPES_ATTR,
    SYSTEM_ONLY,
    Declaration,
    ResourceFactory,
    RouteDeclarationError,
    current_principal,
    declaration_for_endpoint,
    declaration_of,
    mark_public,
    public,
    requires,
    resource_of,
)
from governance.core.runtime import runtime_of
from governance.errors import AuthenticationRequiredError, ForbiddenError, is_machine_path

__all__ = [
    "ACTION_ATTR",
    "PUBLIC_ATTR",
    "RESOURCE_TYPES_ATTR",
    "SYSTEM_ONLY",
    "Declaration",
    "ResourceFactory",
    "RouteDeclarationError",
    "check_route_declarations",
    "current_principal",
    "declaration_for_endpoint",
    "declaration_of",
    "enforce",
    "mark_public",
    "public",
    "requires",
    "resource_of",
]


def _unauthenticated() -> Response | None:
    if g.get("access_auth_error") == "bearer_on_page":  # a machine, not a browser: say so, do not redirect
        raise AuthenticationRequiredError(
            "Pages accept staff and subject sessions only; a bearer token is for the JSON API.",
            code="bearer_not_accepted",
        )
    if is_machine_path(request.path):
        challenge = 'Bearer realm="governance"'
        if g.get("access_auth_error") == "invalid_token":  # RFC 6750: a token was sent but is not valid
            challenge += ', error="invalid_token"'
        raise AuthenticationRequiredError(headers={"WWW-Authenticate": challenge})
    # A data subject has no password here: their pages send them to the front page, which explains how to
    # open a fresh link from the product; staff pages send them to the staff sign-in.
    args: dict[str, Any]
    if request.path == "/me" or request.path.startswith("/me/"):
        endpoint, args = current_app.config.get("GOVERNANCE_SUBJECT_SIGNED_OUT_ENDPOINT", "web.home"), {}
    else:
        endpoint, args = current_app.config.get("GOVERNANCE_LOGIN_ENDPOINT", "access.login"), {"next": request.path}
    try:
        return redirect(url_for(endpoint, **args))
    except BuildError:
        raise AuthenticationRequiredError() from None


def enforce() -> Response | None:
    """before_request hook: authenticate and authorize the declared action, or refuse."""
    if request.endpoint is None:
        return None  # 404/405: nothing to protect
    declaration = declaration_for_endpoint(current_app, request.endpoint)
    if declaration is None:
        raise ForbiddenError("This route declares no permission.", code="undeclared_route")

    if declaration.public_reason is not None:
        g.principal = authn.resolve_principal(request, required=False)
        return None
    principal = authn.resolve_principal(request, required=True)
    g.principal = principal
    if principal.kind == "anonymous":
        return _unauthenticated()
    if principal.kind == "client" and authn.is_page(request.path):  # defence in depth: see authn
        raise ForbiddenError("Pages are for staff and data subjects.", code="page_for_people_only")
    resource = declaration.resource(request.view_args or {}) if declaration.resource else Resource.system()
    if resource.type not in declaration.resource_types:
        raise RouteDeclarationError(f"{request.endpoint} built a {resource.type} resource it did not declare")
    g.resource = resource
    service.authorize(principal, declaration.action or "", resource)
    return None


def check_route_declarations(app: Flask) -> None:
    """Every route's action, and every resource type its factory may return, must fit the Cedar schema.

    Called at the end of `create_app`: a mismatch would make every request to the route fail, so it stops
    the service instead. Raises RouteDeclarationError naming each route at fault.
    """
    engine = runtime_of(app).get(POLICY_ENGINE)
    problems: list[str] = []
    for endpoint in sorted(app.view_functions):
        declaration = declaration_for_endpoint(app, endpoint)
        if declaration is None or declaration.public_reason is not None:
            continue  # undeclared routes are refused at request time and by tests/test_routes_declared.py
        types = declaration.resource_types
        if not types:
            problems.append(f"{endpoint}: its resource factory declares no type (use @resource_of)")
            continue
        for resource_type in types:
            if not engine.applies_to(declaration.action or "", resource_type):
                problems.append(f"{endpoint}: action {declaration.action!r} does not apply to {resource_type}")
    if problems:
        raise RouteDeclarationError("routes that the policy schema cannot authorize: " + "; ".join(problems))
