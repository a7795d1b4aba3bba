"""The web domain: the end-user privacy dashboard and the auditor/DPO console. See docs/web.md."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register security headers, template helpers and the web blueprint (pages and static files)."""
    from governance.web import console, dashboard, home, security  # noqa: F401 - importing registers the routes
    from governance.web.blueprint import bp

    security.init_app(app)
    app.register_blueprint(bp)
    app.after_request(home.note_session_end)  # the front page says why a person landed there
