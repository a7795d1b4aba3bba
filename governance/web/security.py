"""Security headers for every response, built in one place.

- Content-Security-Policy with a fresh nonce per request: scripts only from our origin and only with the
  nonce, no inline scripts or styles, no plugins, no framing (`frame-ancestors 'none'`), forms post only here.
- Referrer-Policy `no-referrer`: dashboard links carry one-time tokens, and no page should leak its path.
- HSTS everywhere except development (development runs on plain http://127.0.0.1).
- `Cache-Control: no-store` on pages and downloads (they hold personal data); static assets are cacheable.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request, url_for

NONCE_BYTES = 18
# Other origins a form's submission may end at (their redirects count too): e.g. single sign-on's sign-out
# continues at the OpenID provider. Domains put origins under this app extension key at start-up.
FORM_ACTION_ORIGINS_KEY = "governance.csp.form_action_origins"
HSTS_VALUE = "max-age=63072000; includeSubDomains"


def csp_nonce() -> str:
    """The nonce of the current request (created on first use); put it on every <script> tag."""
    nonce = g.get("csp_nonce")
    if nonce is None:
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        g.csp_nonce = nonce
    return nonce


def content_security_policy(nonce: str, form_action_origins: tuple[str, ...] = ()) -> str:
    """The policy for one response; `nonce` is the value the page's script tags carry."""
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' 'nonce-{nonce}'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": " ".join(("'self'", *form_action_origins)),
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _is_development(app: Flask) -> bool:
    settings = app.extensions.get("governance.settings")
    env = getattr(settings, "env", None) or app.config.get("GOVERNANCE_ENV")
    return env == "development"


def apply_security_headers(response: Response) -> Response:
    """Add the headers to one response (registered as an after_request hook)."""
    headers = response.headers
    origins = tuple(current_app.extensions.get(FORM_ACTION_ORIGINS_KEY, ()))
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce(), origins)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
    if not _is_development(current_app):
        headers.setdefault("Strict-Transport-Security", HSTS_VALUE)
    if request.endpoint is None or not request.endpoint.endswith("static"):
        headers.setdefault("Cache-Control", "no-store")
    return response


def static_url(filename: str) -> str:
    """URL of a file in governance/web/static (served by the web blueprint)."""
    return url_for("web.static", filename=filename)


def init_app(app: Flask) -> None:
    app.after_request(apply_security_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce, static_url=static_url)
