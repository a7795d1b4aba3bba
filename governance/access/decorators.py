"""Every route declares what it does: `@requires(action, resource=...)` or `@public(reason)`.

The app-wide `enforce` hook runs before every view: it finds the declaration, authenticates the caller, builds the
resource from the URL's arguments and asks the policy engine. A route without a declaration is refused (deny by
default), and a test walks the URL map so that such a route cannot be merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, current_app, g, redirect, request, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from governance.access.principals import Principal, Resource
from governance.errors import AuthenticationRequiredError, ForbiddenError, is_machine_path

F = TypeVar("F", bound=Callable[..., Any])
ResourceFactory = Callable[[dict[str, Any]], Resource]
R = TypeVar("R", bound=ResourceFactory)

ACTION_ATTR = "_governance_action"
PUBLIC_ATTR = "_governance_public"
RESOURCE_TYPES_ATTR = "_governance_resource_types"
SYSTEM_ONLY = ("System",)


class RouteDeclarationError(RuntimeError):
    """A route declares an action or resource type the Cedar schema does not allow together: every request to
    it would fail, so the service refuses to start (`check_route_declarations`)."""


@dataclass(frozen=True)
class Declaration:
    action: str | None
    resource: ResourceFactory | None
    public_reason: str | None

    @property
    def resource_types(self) -> tuple[str, ...]:
        """The Cedar resource types the route's factory may return ("System" without a factory)."""
        if self.resource is None:
            return SYSTEM_ONLY
        return tuple(getattr(self.resource, RESOURCE_TYPES_ATTR, ()))


def resource_of(*types: str) -> Callable[[R], R]:
    """Declare the Cedar resource types a resource factory returns; start-up checks each against the action."""
    if not types:
        raise ValueError("a resource factory must name the resource types it returns")

    def decorator(factory: R) -> R:
        setattr(factory, RESOURCE_TYPES_ATTR, tuple(types))
        return factory

    return decorator


def requires(action: str, *, resource: ResourceFactory | None = None) -> Callable[[F], F]:
    """Declare the action a route performs; `resource` builds the target from the URL's view arguments."""

    def decorator(view: F) -> F:
        setattr(view, ACTION_ATTR, (action, resource))
        return view

    return decorator


def public(reason: str) -> Callable[[F], F]:
    """Declare a route that needs no authentication (health, the token endpoint, login pages). Say why."""
    if not reason.strip():
        raise ValueError("a public route must say why it is public")

    def decorator(view: F) -> F:
        setattr(view, PUBLIC_ATTR, reason)
        return view

    return decorator


def declaration_of(view: Callable[..., Any] | None) -> Declaration | None:
    """The declaration on a view function (looking through decorators that used functools.wraps)."""
    seen = 0
    while view is not None and seen < 10:
        if hasattr(view, PUBLIC_ATTR):
            return Declaration(None, None, getattr(view, PUBLIC_ATTR))
        if hasattr(view, ACTION_ATTR):
            action, factory = getattr(view, ACTION_ATTR)
            return Declaration(action, factory, None)
        view = getattr(view, "__wrapped__", None)
        seen += 1
    return None


def declaration_for_endpoint(app: Flask, endpoint: str) -> Declaration | None:
    """The declaration of a registered endpoint, including library routes marked public by `mark_public`."""
    reason = app.extensions.get("governance.public_endpoints", {}).get(endpoint)
    if reason is not None:
        return Declaration(None, None, reason)
    return declaration_of(app.view_functions.get(endpoint))


def current_principal() -> Principal:
    principal = g.get("principal")
    return principal if principal is not None else Principal.anonymous()


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
    from governance.access import authn, service

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


def mark_public(app: Flask, endpoint: str, reason: str) -> None:
    """Declare a route registered by a library (static files, the OpenAPI document) as public."""
    app.extensions.setdefault("governance.public_endpoints", {})[endpoint] = reason


def check_route_declarations(app: Flask) -> None:
    """Every route's action, and every resource type its factory may return, must fit the Cedar schema.

    Called at the end of `create_app`: a mismatch would make every request to the route fail, so it stops
    the service instead. Raises RouteDeclarationError naming each route at fault.
    """
    from governance.access.service import ENGINE_KEY

    engine = app.extensions[ENGINE_KEY]
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
