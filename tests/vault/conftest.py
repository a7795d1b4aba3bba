"""Vault test helpers: an actor, a subject factory, events."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from governance.access.principals import Principal
from governance.db import transaction

ACTOR = Principal.system("vault-tests")
ALL_EVENT_CATEGORIES = frozenset({"view", "click", "purchase", "rating", "search", "chat_intent"})
PROFILE = {
    "email": "Jane.Doe@Example.com",
    "name": "Jane Doe",
    "phone": "+49 151 2345 6742",
    "postal_address": "1 Example Street\n10115 Berlin",
    "postal_code": "10115",
    "birth_date": "1990-02-03",
    "country": "de",
    "language": "de-DE",
    "device": "mobile",
}


@pytest.fixture(autouse=True)
def _restore_master_keys(request: pytest.FixtureRequest) -> Iterator[None]:
    """Rotation tests add and retire master-key versions in the session's key file; put it back afterwards so
    that other tests (and other domains' tests in the same session) see the key file they started with."""
    if "app" not in request.fixturenames and "session" not in request.fixturenames:
        yield
        return
    from governance.vault.runtime import runtime_for

    runtime = runtime_for(request.getfixturevalue("app"))
    path = getattr(runtime.provider, "path", None)
    saved = path.read_bytes() if path is not None else None
    yield
    # (a provider migration's test destroys the legacy file's last version, which removes the file)
    if path is not None and saved is not None and (not path.exists() or path.read_bytes() != saved):
        path.write_bytes(saved)
        runtime.provider._reload(force=True)
    runtime.envelope.clear()


@pytest.fixture
def make_subject(session: Session) -> Callable[..., uuid.UUID]:
    from governance.vault import service

    def factory(external_ref: str | None = None, profile: dict[str, Any] | None = None, **kwargs: Any) -> uuid.UUID:
        with transaction(session):
            view = service.create_subject(
                session,
                external_ref=external_ref or f"user-{uuid.uuid4().hex[:12]}",
                actor=ACTOR,
                profile=PROFILE if profile is None else profile,
                **kwargs,
            )
        return view.id

    return factory


def event(n: int, category: str = "view", **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": f"evt-{n}",
        "category": category,
        "occurred_at": (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=n)).isoformat(),
        "item_id": f"item-{n % 17}",
        "context": {"time_of_day": "evening", "device": "mobile"},
    }
    if category == "view":
        base["value"] = 12.5
    if category == "rating":
        base["value"] = 4
    if category == "search":
        base.pop("item_id")
        base["context"] = {"query": "red running shoes"}
    if category == "chat_intent":
        base.pop("item_id")
        base["context"] = {"intent": "order_status"}
    base.update(overrides)
    return base


# ------------------------------------------------------------------------------- SoftHSM2 (PKCS#11) tokens


@dataclass(frozen=True)
class HsmToken:
    """A freshly initialised SoftHSM2 token: what the `pkcs11` provider's settings name."""

    library: str
    label: str
    pin: str
    pin_file: Path
    conf: Path

    def settings(self, **overrides: Any) -> Any:
        from governance.vault.pkcs11_provider import Pkcs11Settings

        values = {"library": self.library, "token_label": self.label, "pin_file": str(self.pin_file)}
        return Pkcs11Settings(**{**values, **overrides})

    def app_settings(self) -> dict[str, str]:
        return {
            "VAULT_KEY_PROVIDER": "pkcs11",
            "VAULT_PKCS11_LIBRARY": self.library,
            "VAULT_PKCS11_TOKEN_LABEL": self.label,
            "VAULT_PKCS11_PIN_FILE": str(self.pin_file),
        }

    def delete(self) -> None:
        """Remove the token (an HSM partition going away under the service)."""
        _softhsm_util("--delete-token", "--token", self.label)


SOFTHSM_LIBRARIES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def _softhsm_util(*args: str) -> None:
    subprocess.run(["softhsm2-util", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A private SoftHSM2 configuration (its own token directory) for this test session: SOFTHSM2_CONF points
    at it while the session runs, so no test touches the machine's tokens. Needs Debian's `softhsm2`."""
    library = next((path for path in SOFTHSM_LIBRARIES if Path(path).is_file()), None)
    if shutil.which("softhsm2-util") is None or library is None:
        pytest.fail("SoftHSM2 is not installed (apt-get install -y softhsm2; .ci/run does this)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    yield library, conf
    if saved is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = saved


@pytest.fixture
def hsm_token(softhsm: tuple[str, Path], tmp_path: Path) -> HsmToken:
    """A new, empty token (its own label, user PIN in a 0600 file) for one test."""
    library, conf = softhsm
    label = f"t-{uuid.uuid4().hex[:16]}"
    pin = secrets.token_hex(8)
    _softhsm_util("--init-token", "--free", "--label", label, "--so-pin", secrets.token_hex(8), "--pin", pin)
    pin_file = tmp_path / "hsm.pin"
    pin_file.write_text(pin + "\n")
    pin_file.chmod(0o600)
    return HsmToken(library, label, pin, pin_file, conf)
