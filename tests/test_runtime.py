"""One runtime, built by create_app, read through one accessor that raises outside an app.

A configured `GOVERNANCE_POLICIES_DIR` must be the folder every request, job and CLI command reads: nothing falls
back to the repository's own `policies/` (issue 14).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from governance.core.runtime import RuntimeMissingError, Slot, runtime, runtime_of
from governance.settings import PROJECT_ROOT

CONFIGURED_CONTROLLER = "Configured Controller GmbH"
CONFIGURED_ONLY_PURPOSE = "configured_only_newsletter"


def _accessors() -> dict[str, Any]:
    from governance.access.service import get_engine
    from governance.consent.service import purposes
    from governance.gateway.service import gateway_policy
    from governance.requests.service import get_policy
    from governance.training.service import current_policy

    return {
        "access": get_engine,
        "consent": purposes,
        "gateway": gateway_policy,
        "requests": get_policy,
        "training": current_policy,
    }


def _raised_outside_an_app(call: Any) -> BaseException | None:
    """What `call` raises in a fresh thread: Flask's contexts are context variables, so a new thread has no app
    context even when an earlier test in this process left one pushed."""
    raised: list[BaseException | None] = [None]

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            raised[0] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    return raised[0]


@pytest.mark.parametrize("domain", sorted(_accessors()))
def test_each_domain_s_configuration_raises_outside_an_app(domain: str) -> None:
    assert isinstance(_raised_outside_an_app(_accessors()[domain]), RuntimeMissingError)


def test_the_accessor_raises_outside_an_app_and_for_a_slot_nobody_filled(app: Flask) -> None:
    assert isinstance(_raised_outside_an_app(runtime), RuntimeMissingError)
    with app.app_context():
        with pytest.raises(RuntimeMissingError, match=r"never\.filled"):
            runtime().get(Slot("never.filled", dict))
        with pytest.raises(TypeError):
            runtime_of(app).provide(Slot("typed.slot", dict), ["not", "a", "dict"])  # type: ignore[arg-type]


@pytest.fixture
def configured_policies(tmp_path: Path) -> Path:
    """A copy of policies/ that differs from the repository's: another controller and one more purpose."""
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", folder)
    purposes = folder / "purposes.yaml"
    text = purposes.read_text()
    text = text.replace("name: Example Personalization Ltd.", f"name: {CONFIGURED_CONTROLLER}", 1)
    marketing = text[text.index("  - key: marketing_email") :]
    marketing = marketing[: marketing.index("\n  - key:", 1) + 1] if "\n  - key:" in marketing[1:] else marketing
    added = marketing.replace("marketing_email", CONFIGURED_ONLY_PURPOSE, 1)
    text = text.replace("purposes:\n", "purposes:\n" + added, 1)
    purposes.write_text(text)
    return folder


@pytest.fixture
def configured_app(make_app: Any, configured_policies: Path) -> Flask:
    return make_app(POLICIES_DIR=str(configured_policies))


def test_a_request_reads_the_configured_policies_folder(configured_app: Flask) -> None:
    page = configured_app.test_client().get("/")
    assert page.status_code == 200
    assert CONFIGURED_CONTROLLER in page.get_data(as_text=True)


def test_a_job_reads_the_configured_policies_folder(configured_app: Flask) -> None:
    from governance import jobs
    from governance.jobs.worker import drain

    with configured_app.app_context():
        session = configured_app.extensions["governance.db"].session()
        with session.begin():
            job = jobs.enqueue(session, PROBE_KIND, {})
        session.close()
        assert drain(configured_app, kinds=[PROBE_KIND]) == 1
        session = configured_app.extensions["governance.db"].session()
        view = jobs.get_job(session, job)
        session.close()
    assert view.result == {"controller": CONFIGURED_CONTROLLER, "has_purpose": True}


def test_a_cli_command_reads_the_configured_policies_folder(app: Flask, configured_app: Flask) -> None:
    announced = configured_app.test_cli_runner().invoke(
        args=["governance", "notifications", "announce-renewal", CONFIGURED_ONLY_PURPOSE]
    )
    assert announced.exit_code == 0, announced.output
    assert CONFIGURED_ONLY_PURPOSE in announced.output
    unknown = app.test_cli_runner().invoke(
        args=["governance", "notifications", "announce-renewal", CONFIGURED_ONLY_PURPOSE]
    )
    assert unknown.exit_code != 0  # the repository's own policies/ does not have it


PROBE_KIND = "tests.read_configuration"


def _register_probe() -> None:
    from governance.jobs import register
    from governance.jobs.registry import handler_for

    if handler_for(PROBE_KIND) is not None:
        return

    @register(PROBE_KIND, max_attempts=1)
    def read_configuration(ctx: Any) -> dict[str, Any]:
        from governance.consent.service import purposes

        catalog = purposes()
        return {"controller": catalog.controller.name, "has_purpose": catalog.get(CONFIGURED_ONLY_PURPOSE) is not None}


_register_probe()


def test_each_app_reads_its_own_policy_engine(app: Flask, configured_app: Flask) -> None:
    """Nothing caches one app's configuration for another (an lru_cache on get_engine once did)."""
    from governance.access.service import POLICY_ENGINE, get_engine

    engines = []
    for each in (app, configured_app, app):
        with each.app_context():
            engines.append(get_engine())
            assert engines[-1] is runtime_of(each).get(POLICY_ENGINE)
    assert engines[0] is not engines[1]
