"""Issue 14: one composition root (governance/composition.py) wires every domain; the domains' `__init__.py` are
their public contract only."""

from __future__ import annotations

import ast
from pathlib import Path

from flask import Flask

from governance.cli import governance_cli
from governance.core.runtime import runtime_of
from governance.jobs.registry import periodic_specs, registered_kinds
from governance.notifications.service import SEND_JOB
from governance.notifications.tasks import REQUEST_FACTS
from governance.vault.retention import RETENTION_PURPOSES

PACKAGE = Path(__file__).parent.parent / "governance"


def test_no_domain_package_registers_itself() -> None:
    """A domain's `__init__.py` re-exports; it defines no function (no `init_app`) and imports nothing upward."""
    offenders = []
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        functions = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]
        if functions:
            offenders.append(f"{init.parent.name}: {functions}")
    assert not offenders


def test_the_app_has_every_domains_commands(app: Flask) -> None:
    assert app.cli.commands["governance"] is governance_cli
    expected = {"init", "worker", "serve", "demo", "audit", "outbox-relay", "keys", "consent", "notifications"}
    expected |= {"intake-consumer", "staff", "clients", "dashboard-link"}
    assert expected <= set(governance_cli.commands)


def test_the_app_has_every_domains_jobs_checks_gauges_and_slots(app: Flask) -> None:
    periodic = {spec.kind for spec in periodic_specs()}
    assert {"audit.seal", "audit.verify", "gateway.expire_release_files"} <= periodic
    assert periodic <= set(registered_kinds()), "a periodic job without a handler"
    assert SEND_JOB in registered_kinds()
    assert "vault_master_key" in app.extensions["governance.ready_checks"]
    assert len(app.extensions["governance.metric_refreshers"]) == 2  # the outbox's backlog, overdue requests
    runtime = runtime_of(app)
    assert runtime.has(RETENTION_PURPOSES)
    assert runtime.has(REQUEST_FACTS)


def test_the_vault_never_imports_consent_and_notifications_never_requests() -> None:
    """The two callbacks the composition root hands down (docs/contracts.md, "Layering")."""
    for folder, forbidden in (("vault", "governance.consent"), ("notifications", "governance.requests")):
        for path in (PACKAGE / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not node.module.startswith(forbidden), f"{path.name} imports {node.module}"
