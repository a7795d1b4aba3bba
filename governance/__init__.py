"""Privacy and consent governance service: the app factory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from functools import cached_property
from typing import Any

from flask import Flask, current_app, g, request
from flask_openapi3 import Info, OpenAPI
from flask_wtf.csrf import CSRFProtect

from governance import api, db, errors, observability
from governance.access.decorators import check_route_declarations, enforce, mark_public
from governance.core.runtime import RUNTIME_KEY, Runtime
from governance.keys import KeyStore
from governance.policyfiles import policy_version
from governance.settings import PROJECT_ROOT, Settings

__version__ = "0.1.0"

csrf = CSRFProtect()


_SYNCED_MAX = 4096  # hooks and views: the app has about 400 routes


class GovernanceApp(OpenAPI):
    """The app. Its secret key (sessions, CSRF tokens, the audit's redaction hashes) is read from the key store
    the first time something needs it, not when the app is created: creating an app for a CLI command
    (`--help` included) generates no development key. Production sets it at start-up (`create_app`)."""

    @property  # Flask's is a ConfigAttribute over the same config entry
    def secret_key(self) -> str | bytes | None:
        value = self.config.get("SECRET_KEY")
        if value is None and "governance.keys" in self.extensions:
            value = self.extensions["governance.keys"].secret("session")  # cached by the key store
        return value

    @secret_key.setter
    def secret_key(self, value: str | bytes | None) -> None:
        self.config["SECRET_KEY"] = value

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask asks this of every hook and view on every request, and each answer costs an
        `inspect.iscoroutinefunction` (17 a request here, about 2-3 % of a small API call's CPU); the hooks and
        views are the app's own, fixed once it serves, so the answer is kept per function. A bound method is a
        new object at each access but equal (and hashing equal) to the last, so it finds its entry. A callable
        made per request (`after_this_request`) would be a new entry each time: past `_SYNCED_MAX` entries
        nothing more is kept, so the table stays bounded whatever runs."""
        try:
            return self._synced[func]
        except KeyError:
            synced = super().ensure_sync(func)
            if len(self._synced) < _SYNCED_MAX:
                self._synced[func] = synced
            return synced
        except TypeError:  # an unhashable callable: not kept
            return super().ensure_sync(func)

    @cached_property
    def _synced(self) -> dict[Callable[..., Any], Callable[..., Any]]:
        return {}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app. `config` overrides `GOVERNANCE_*` settings (keys without the prefix)."""
    settings = Settings.load(config)
    observability.configure_logging(settings.log_level)
    # The instance folder is not created here: what writes into it (keys, the SQLite file, releases, published
    # checkpoints) creates its own folder when it first writes.
    keys = KeyStore(settings)
    keys.refuse_dev_keys_in_production()

    app = GovernanceApp(
        __name__,
        info=Info(title="Privacy and consent governance API", version=__version__),
        doc_prefix="/api",
        doc_url="/openapi.json",
        doc_ui=False,
        validation_error_callback=api.validation_error_response,
        validation_error_status=422,
        instance_path=str(settings.instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=None,
    )
    app.config.update(
        # production: nothing can be generated, so a missing key stops start-up; elsewhere read on first use
        SECRET_KEY=keys.secret("session") if settings.is_production else None,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_NAME="governance_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_absolute_hours),
        # The cookie is written only when a request changes it. Re-sent on every response, the answer to a request
        # still in flight (a stylesheet, a fetch) could land after a change and put the old cookie back (a
        # language switch undone); the timeouts are the server's (access.sessions), not the cookie's expiry.
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in _csrf_check below, where bearer-token calls are exempt
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        TESTING=settings.env == "test",
    )
    app.extensions["governance.settings"] = settings
    app.extensions["governance.keys"] = keys
    app.extensions[RUNTIME_KEY] = Runtime(settings, keys)
    app.extensions["governance.policy_version"] = policy_version(settings.policies_dir)

    app.before_request(_reset_request_scope)  # first: nothing from an earlier request survives on `g`
    observability.init_app(app)  # request id next, so every later hook and log line has it
    db.init_app(app, settings.database_url)
    errors.init_app(app)
    app.before_request(api.refuse_control_characters)  # before enforce: resource factories read the URL
    app.before_request(enforce)
    csrf.init_app(app)
    app.before_request(_csrf_check)
    api.init_app(app)

    # deferred: every `import governance.<module>` runs this package first; the domains load when an app is built
    from governance.composition import compose

    compose(app)  # every domain's blueprints, CLI commands, jobs, checks and gauges, in one place
    _exempt_probes_from_rate_limits(app)
    for endpoint in list(app.view_functions):
        if endpoint == "static" or endpoint.endswith(".static"):
            mark_public(app, endpoint, "static assets (stylesheets, scripts, images) hold no data")
    check_route_declarations(app)  # a route the policy schema cannot authorize stops start-up, not a request
    return app


PROBE_ENDPOINTS = ("health.healthz", "health.readyz", "health.metrics")


def _exempt_probes_from_rate_limits(app: Flask) -> None:
    """Liveness, readiness and metrics are polled by the platform from a few addresses: never rate-limit them."""
    gate = app.extensions.get("governance.access.limiter")
    if gate is None:
        return
    for endpoint in PROBE_ENDPOINTS:
        gate.exempt(endpoint)


REQUEST_SCOPED_G = (
    "principal",
    "resource",
    "resource_type",
    "resource_id",
    "request_id",
    "request_started",
    "access_auth_error",
    "rate_limit_counted",
)


def _reset_request_scope() -> None:
    """An app context may outlive a request (tests, CLI): request-scoped values must not carry over."""
    for key in REQUEST_SCOPED_G:
        g.pop(key, None)


def _csrf_check() -> None:
    """CSRF applies to browser forms and to cookie-authenticated calls; bearer-token API calls carry no
    ambient authority and are exempt."""
    if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
        return
    cookie = current_app.config["SESSION_COOKIE_NAME"]
    is_api = errors.is_machine_path(request.path)
    if is_api and request.headers.get("Authorization"):
        return  # pages ignore bearer tokens (access.authn), so a header there exempts nothing
    if not is_api or cookie in request.cookies:
        csrf.protect()
