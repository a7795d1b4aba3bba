"""The requests domain. See docs/contracts.md for what other domains may call."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this domain's blueprint, CLI commands, job handlers and policy files with the app."""
    from governance.core.runtime import runtime_of
    from governance.health import add_metric_refresher
    from governance.requests import service
    from governance.requests.api import bp
    from governance.requests.policy import REQUESTS_POLICY, load_policy
    from governance.requests.tasks import register_tasks

    settings = app.extensions["governance.settings"]
    # a bad policy file stops start-up with a message naming the file and line
    runtime_of(app).provide(REQUESTS_POLICY, load_policy(settings.policies_dir))
    register_tasks(app)
    app.register_api(bp)  # type: ignore[attr-defined]  # the app is flask-openapi3's OpenAPI
    from governance.requests import drp

    drp.init_app(app)  # the Data Rights Protocol for CCPA authorized agents (docs/standards.md)
    add_metric_refresher(app, service.refresh_overdue_metric)
