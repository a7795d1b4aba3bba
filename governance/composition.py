"""The composition root: the one place where the domains are wired into an app (docs/contracts.md, "Layering").

`create_app` (governance/__init__.py) builds the kernel of an app: settings, keys, the runtime, the database, the
error handlers and the security hooks. `compose(app)` then wires every domain, in the dependency order of
docs/contracts.md: it fills the domains' runtime slots (their policy files, loaded and validated here, so that a
bad file stops start-up), registers their blueprints, job handlers and periodic jobs, readiness checks and metrics
gauges, and adds their CLI groups to the `governance` command. A domain exposes what is to be registered (a
blueprint, a click group, `register_schedules()`, a slot) and imports neither this module nor governance.cli,
governance.health or the app factory: import-linter's layers contract in pyproject.toml keeps it so.

Importing this module imports every domain's routes and job handlers (their decorators register them), never a
heavy numerical library: those load inside the jobs that use them (tests/test_imports.py).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask, before_render_template, request
from flask_openapi3 import OpenAPI
from sqlalchemy.orm import Session

from governance import health
from governance.access import credentials, sso, sso_pages
from governance.access import tasks as access_tasks
from governance.access.api import bp as access_bp
from governance.access.api_v1 import bp as access_api_bp
from governance.access.cli import register as register_access_commands
from governance.access.oauth import init_server
from governance.access.policy import PolicyEngine
from governance.access.ratelimit import init_limiter
from governance.access.service import POLICY_ENGINE
from governance.audit import tasks as audit_tasks
from governance.audit.api import bp as audit_bp
from governance.audit.cli import audit_cli
from governance.cli import governance_cli
from governance.consent import service as consent_service
from governance.consent import tasks as consent_tasks
from governance.consent.api import bp as consent_bp
from governance.consent.api import public_bp as consent_public_bp
from governance.consent.cli import consent_cli
from governance.consent.gpc import bp as gpc_bp
from governance.consent.iso27560 import bp as iso27560_bp
from governance.core.runtime import runtime_of
from governance.gateway import tasks as gateway_tasks
from governance.gateway.api import bp as gateway_bp
from governance.gateway.policy import GATEWAY_POLICY, load_gateway_policy
from governance.intake import api as intake_api
from governance.intake.cli import intake_consumer_command
from governance.jobs import register_periodic
from governance.jobs.api import bp as jobs_bp
from governance.notifications import tasks as notifications_tasks
from governance.notifications.cli import notifications_cli
from governance.outbox import metrics as outbox_metrics
from governance.outbox.cli import outbox_relay_command
from governance.policyfiles import load_yaml
from governance.requests import drp
from governance.requests import service as requests_service
from governance.requests import tasks as requests_tasks
from governance.requests.api import bp as requests_bp
from governance.requests.policy import REQUESTS_POLICY
from governance.requests.policy import load_policy as load_requests_policy
from governance.standards.authzen import bp as authzen_bp
from governance.standards.authzen import metadata_bp as authzen_metadata_bp
from governance.training import tasks as training_tasks
from governance.training.api import bp as training_bp
from governance.training.policy import TRAINING_POLICY
from governance.training.policy import load_policy as load_training_policy
from governance.vault import retention
from governance.vault import tasks as vault_tasks
from governance.vault.api import bp as vault_bp
from governance.vault.cli import keys_cli
from governance.vault.runtime import EXTENSION as VAULT_EXTENSION
from governance.vault.runtime import LazyRuntime, check_settings, master_key_check
from governance.web import home, i18n
from governance.web import security as web_security
from governance.web.blueprint import bp as web_bp
from governance.web.console import console_chrome
from governance.web.dashboard import dashboard_chrome

# Imported for what importing them does: their decorators add job handlers to the registry and routes to a
# blueprint registered below (access's sign-in pages and the intake routes on the vault's blueprint).
_REGISTERING_ON_IMPORT = (audit_tasks, consent_tasks, gateway_tasks, training_tasks, vault_tasks, sso_pages, intake_api)

# Each domain's CLI group, added to `flask governance` (access adds its three groups through `register`).
DOMAIN_COMMANDS = (
    audit_cli,
    outbox_relay_command,
    keys_cli,
    consent_cli,
    notifications_cli,
    intake_consumer_command,
)


def compose(app: OpenAPI) -> None:
    """Wire every domain into `app` (built by `create_app`), lower layers first."""
    app.register_blueprint(health.bp)
    app.register_api(jobs_bp)
    _audit(app)
    health.add_metric_refresher(app, outbox_metrics.refresher(app))  # the outbox's backlog gauges
    _access(app)
    _vault(app)
    _consent(app)
    _notifications(app)
    _requests(app)
    _gateway(app)
    _training(app)
    app.register_api(authzen_bp)
    app.register_api(authzen_metadata_bp)
    register_web(app)
    _add_commands()
    app.cli.add_command(governance_cli)


def _audit(app: OpenAPI) -> None:
    """The audit API, the periodic sealer and the periodic verification."""
    settings = runtime_of(app).settings
    app.register_api(audit_bp)
    register_periodic("audit.seal", every_seconds=max(1, settings.get_int("AUDIT_SEAL_SECONDS", 5)))
    register_periodic("audit.verify", every_seconds=max(1, settings.get_int("AUDIT_VERIFY_SECONDS", 60)))


def _access(app: OpenAPI) -> None:
    """The policy files (a broken file stops start-up), single sign-on, the pages and API, the OAuth2 server,
    rate limits and the housekeeping job."""
    config = runtime_of(app)
    settings = config.settings
    config.provide(POLICY_ENGINE, PolicyEngine.from_directory(settings.policies_dir))
    policy = sso.load_policy(settings)  # a bad policies/sso.yaml stops start-up, like a bad Cedar file
    app.extensions[sso.EXTENSION_KEY] = sso.SsoClient(policy) if policy is not None else None
    if policy is not None:
        # Sign-out is a form post that ends at the provider (RP-initiated logout): the CSP must allow it.
        app.extensions["governance.csp.form_action_origins"] = (sso.origin(policy.issuer),)
    if settings.env == "test":
        credentials.use_cheap_hashing_for_tests()
    app.register_blueprint(access_bp)
    app.register_api(access_api_bp)
    app.extensions["governance.access.oauth"] = init_server(app)
    app.extensions["governance.access.limiter"] = init_limiter(app)
    access_tasks.register_schedules()


def _vault(app: OpenAPI) -> None:
    """The vault's settings (checked now, even where the keys load later), its runtime (built on first use, or
    now in production, where a missing key must stop start-up), the API, the jobs and the readiness check."""
    config = runtime_of(app)
    check_settings(config.settings)
    holder = LazyRuntime(app)
    if config.settings.is_production:
        holder.get()
    app.extensions[VAULT_EXTENSION] = holder
    # retention keeps what the purposes allow: consent's catalog, read through a slot (vault sits below consent)
    config.provide(retention.RETENTION_PURPOSES, retention.PurposeSource(consent_service.purposes))
    app.register_api(vault_bp)
    vault_tasks.register_schedules()
    health.add_ready_check(app, "vault_master_key", master_key_check(holder))


def _consent(app: OpenAPI) -> None:
    """The purposes (a bad policy file stops start-up), the consent APIs and the jobs."""
    config = runtime_of(app)
    config.provide(consent_service.PURPOSE_CATALOG, consent_service.load_purposes(config.policies_dir))
    consent_tasks.key_retention(config.settings)  # a bad GOVERNANCE_IDEMPOTENCY_KEY_HOURS stops start-up, not the job
    consent_tasks.register_schedules()
    for bp in (consent_bp, consent_public_bp, gpc_bp, iso27560_bp):
        app.register_api(bp)


def _request_facts(session: Session, request_id: uuid.UUID) -> tuple[str | None, str | None]:
    view = requests_service.get_request(session, request_id)
    return view.kind, view.outcome_reason


def _notifications(app: OpenAPI) -> None:
    """The send job; it reads the request it mails about through a slot (requests sits above notifications)."""
    runtime_of(app).provide(notifications_tasks.REQUEST_FACTS, notifications_tasks.RequestFacts(_request_facts))
    notifications_tasks.register_tasks(app)


def _requests(app: OpenAPI) -> None:
    """The requests policy and the Data Rights Protocol's (bad files stop start-up), the APIs, the jobs and the
    overdue gauge."""
    config = runtime_of(app)
    config.provide(REQUESTS_POLICY, load_requests_policy(config.policies_dir))
    config.provide(drp.DRP_POLICY, load_yaml(config.policies_dir / "drp.yaml", drp.DrpPolicy))
    requests_tasks.register_tasks(app)
    app.register_api(requests_bp)
    app.register_api(drp.bp)  # the Data Rights Protocol for CCPA authorized agents (docs/standards.md)
    app.register_api(drp.discovery_bp)
    health.add_metric_refresher(app, requests_service.refresh_overdue_metric)


def _gateway(app: OpenAPI) -> None:
    config = runtime_of(app)
    config.provide(GATEWAY_POLICY, load_gateway_policy(config.policies_dir / "gateway.yaml"))
    gateway_tasks.register_schedules()
    app.register_api(gateway_bp)


def _training(app: OpenAPI) -> None:
    config = runtime_of(app)
    settings = config.settings
    config.provide(TRAINING_POLICY, load_training_policy(config.policies_dir))
    app.register_api(training_bp)
    training_tasks.register_schedules(
        reconcile_seconds=max(1, settings.get_int("TRAINING_RECONCILE_SECONDS", 300)),
        flags_seconds=max(1, settings.get_int("TRAINING_FLAGS_SECONDS", 3600)),
    )


def register_web(app: Flask) -> None:
    """Security headers, template helpers and the web blueprint (pages and static files). Needs no runtime: the
    layout tests call it on a bare Flask app."""
    web_security.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(web_bp)
    app.after_request(home.note_session_end)  # the front page says why a person landed there
    app.context_processor(_dashboard_chrome_on_error_pages)
    before_render_template.connect(_console_chrome_on_error_pages, app)


def _dashboard_chrome_on_error_pages() -> dict[str, Any]:
    """Error pages under /me keep the dashboard's navigation, footer and sign-out (templates/errors/error.html)."""
    if request.path != "/me" and not request.path.startswith("/me/"):
        return {}
    return {"on_dashboard": True, **dashboard_chrome()}


def _console_chrome_on_error_pages(_app: Flask, template: Any, context: dict[str, Any], **_extra: Any) -> None:
    """Error pages under /console keep the console's navigation for staff (templates/errors/error.html). Added
    as the error template renders, not as a context processor: the console's own pages build it themselves."""
    if template.name != "errors/error.html":
        return
    if request.path != "/console" and not request.path.startswith("/console/"):
        return
    context.update(console_chrome())


def _add_commands() -> None:
    """Each domain's commands join `flask governance`, once: the group is module-level and apps are many."""
    for command in DOMAIN_COMMANDS:
        if command.name not in governance_cli.commands:
            governance_cli.add_command(command)
    if "staff" not in governance_cli.commands:
        register_access_commands(governance_cli)
