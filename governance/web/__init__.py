"""The web domain: the end-user privacy dashboard and the auditor/DPO console. See docs/web.md."""

from typing import Any

from flask import Flask, before_render_template, request


def init_app(app: Flask) -> None:
    """Register security headers, template helpers and the web blueprint (pages and static files)."""
    from governance.web import console, dashboard, home, i18n, security  # noqa: F401 - importing registers routes
    from governance.web.blueprint import bp

    security.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(bp)
    app.after_request(home.note_session_end)  # the front page says why a person landed there
    app.context_processor(_dashboard_chrome_on_error_pages)
    before_render_template.connect(_console_chrome_on_error_pages, app)


def _dashboard_chrome_on_error_pages() -> dict:
    """Error pages under /me keep the dashboard's navigation, footer and sign-out (templates/errors/error.html)."""
    from flask import request

    if request.path != "/me" and not request.path.startswith("/me/"):
        return {}
    from governance.web.dashboard import dashboard_chrome

    return {"on_dashboard": True, **dashboard_chrome()}


def _console_chrome_on_error_pages(_app: Flask, template: Any, context: dict[str, Any], **_extra: Any) -> None:
    """Error pages under /console keep the console's navigation for staff (templates/errors/error.html). Added
    as the error template renders, not as a context processor: the console's own pages build it themselves."""
    if template.name != "errors/error.html":
        return
    if request.path != "/console" and not request.path.startswith("/console/"):
        return
    from governance.web.console import console_chrome  # deferred: importing it registers the console's routes

    context.update(console_chrome())
