"""Principals and resources now live in the shared kernel (`governance.core.principals`); re-exported here for
the domains above access that still import them from access."""

from governance.core.principals import ActorRef, Principal, PrincipalKind, Resource

__all__ = ["ActorRef", "Principal", "PrincipalKind", "Resource"]
