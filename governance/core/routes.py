"""Route declarations: every route says what it does, `@requires(action, resource=...)` or `@public(reason)`.

This is the shared kernel's vocabulary, so that every domain (audit and jobs included) can declare its routes
without importing access. Access's `enforce` hook reads these declarations before every view, authenticates the
caller and asks the policy engine; a route without a declaration is refused (deny by default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, g

from governance.core.principals import Principal, Resource

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


def mark_public(app: Flask, endpoint: str, reason: str) -> None:
    """Declare a route registered by a library (static files, the OpenAPI document) as public."""
    app.extensions.setdefault("governance.public_endpoints", {})[endpoint] = reason


def current_principal() -> Principal:
    principal = g.get("principal")
    return principal if principal is not None else Principal.anonymous()
