"""The app's runtime: the settings, keys and each domain's loaded configuration, built once in `create_app`.

There is one accessor, `runtime()`, and it raises outside an app: no domain falls back to the repository's
`policies/` folder or to defaults, so a configured `GOVERNANCE_POLICIES_DIR` is the one used by every request,
job and CLI command (the job worker and the CLI run inside the app's context).

Each domain declares the typed slots it fills in its start-up code and reads them back through `runtime().get`:

    GATEWAY_POLICY = Slot("gateway.policy", GatewayPolicyFile)
    runtime_of(app).provide(GATEWAY_POLICY, load_gateway_policy(...))   # at start-up
    runtime().get(GATEWAY_POLICY)                                        # in a request or job
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from flask import Flask, current_app, has_app_context

if TYPE_CHECKING:
    from governance.keys import KeyStore
    from governance.settings import Settings

T = TypeVar("T")

RUNTIME_KEY = "governance.runtime"


class RuntimeMissingError(RuntimeError):
    """Configuration was asked for outside an app, or a slot its domain never filled: a programming error."""


@dataclass(frozen=True)
class Slot(Generic[T]):
    """A named, typed place in the runtime for one domain's loaded configuration."""

    name: str
    kind: type[T]


class Runtime:
    """What `create_app` built: the settings, the key store, and the slots the domains filled at start-up."""

    def __init__(self, settings: Settings, keys: KeyStore) -> None:
        self.settings = settings
        self.keys = keys
        self._values: dict[str, Any] = {}

    @property
    def policies_dir(self) -> Path:
        return self.settings.policies_dir

    def provide(self, slot: Slot[T], value: T) -> None:
        if not isinstance(value, slot.kind):
            raise TypeError(f"{slot.name} holds a {slot.kind.__name__}, not a {type(value).__name__}")
        self._values[slot.name] = value

    def get(self, slot: Slot[T]) -> T:
        try:
            return cast(T, self._values[slot.name])
        except KeyError:
            raise RuntimeMissingError(f"{slot.name} is not configured in this app") from None

    def has(self, slot: Slot[Any]) -> bool:
        return slot.name in self._values


def runtime_of(app: Flask) -> Runtime:
    found = app.extensions.get(RUNTIME_KEY)
    if not isinstance(found, Runtime):
        raise RuntimeMissingError("this app was not built by governance.create_app")
    return found


def runtime() -> Runtime:
    """The running app's runtime; raises RuntimeMissingError outside an app context."""
    if not has_app_context():
        raise RuntimeMissingError(
            "configuration read outside an app: run inside `app.app_context()` (the CLI and the job worker do)"
        )
    return runtime_of(current_app)
