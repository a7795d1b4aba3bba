"""Job handlers by kind. Domains register theirs from their `tasks.py`; the worker runs whatever is here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from governance.jobs.context import JobContext

Handler = Callable[["JobContext"], dict[str, Any] | None]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    handler: Handler
    lease_seconds: int
    max_attempts: int


@dataclass(frozen=True)
class PeriodicSpec:
    kind: str
    every_seconds: int
    payload: dict[str, Any]


_HANDLERS: dict[str, HandlerSpec] = {}
_PERIODIC: dict[str, PeriodicSpec] = {}


def register(kind: str, *, lease_seconds: int = 60, max_attempts: int = 5) -> Callable[[Handler], Handler]:
    """Register `handler` for jobs of `kind`. Handlers must be idempotent: a job may run again after a crash."""

    def decorator(handler: Handler) -> Handler:
        _HANDLERS[kind] = HandlerSpec(kind, handler, lease_seconds, max_attempts)
        return handler

    return decorator


def register_periodic(kind: str, *, every_seconds: int, payload: dict[str, Any] | None = None) -> None:
    """Enqueue a job of `kind` once per `every_seconds` slot (deduplicated across workers)."""
    _PERIODIC[kind] = PeriodicSpec(kind, every_seconds, payload or {})


def handler_for(kind: str) -> HandlerSpec | None:
    return _HANDLERS.get(kind)


def periodic_specs() -> list[PeriodicSpec]:
    return list(_PERIODIC.values())


def registered_kinds() -> list[str]:
    return sorted(_HANDLERS)
