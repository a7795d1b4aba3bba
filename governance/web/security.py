"""Security headers for every response, built in one place.

- Content-Security-Policy with a fresh nonce for each page that renders one: scripts only from our origin and
  only with the nonce, no inline scripts or styles, no plugins, no framing (`frame-ancestors 'none'`), forms post
  only here. A response that rendered no nonce (a JSON body) gets the same policy without one.
- Referrer-Policy `no-referrer`: dashboard links carry one-time tokens, and no page should leak its path.
- HSTS everywhere except development (development runs on plain http://127.0.0.1).
- `Cache-Control: no-store` on pages and downloads (they hold personal data); static assets are cacheable.
"""

from __future__ import annotations

import functools
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


def content_security_policy(nonce: str | None, form_action_origins: tuple[str, ...] = ()) -> str:
    """The policy for one response; `nonce` is the value the page's script tags carry (None: a response that
    rendered no nonce, such as a JSON body, whose policy then allows no inline script at all)."""
    head, tail = _policy_parts(form_action_origins)
    return f"{head} 'nonce-{nonce}'{tail}" if nonce else head + tail


@functools.lru_cache(maxsize=16)  # one entry per set of form-action origins: fixed at start-up
def _policy_parts(form_action_origins: tuple[str, ...]) -> tuple[str, str]:
    """The policy before and after where the nonce goes, built once rather than on every response."""
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": "'self' data:",
        "font-src": "'self'",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": " ".join(("'self'", *form_action_origins)),
        "frame-ancestors": "'none'",
    }
    text = "; ".join(f"{name} {value}" for name, value in directives.items())
    split = text.index("script-src 'self'") + len("script-src 'self'")
    return text[:split], text[split:]


_FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)


def _is_development(app: Flask) -> bool:
    settings = app.extensions.get("governance.settings")
    env = getattr(settings, "env", None) or app.config.get("GOVERNANCE_ENV")
    return env == "development"


def apply_security_headers(response: Response) -> Response:
    """Add the headers to one response (registered as an after_request hook). A header the view set itself is
    kept, except the policy, which is always ours. The nonce is the one the page rendered, if it rendered one:
    a page's scripts are all files (no inline script), so a response without a nonce loses nothing by having
    none in its policy, and it skips making one."""
    headers = response.headers
    origins = tuple(current_app.extensions.get(FORM_ACTION_ORIGINS_KEY, ()))
    headers["Content-Security-Policy"] = content_security_policy(g.get("csp_nonce"), origins)
    present = {name.lower() for name, _ in headers.items()}
    headers.extend([(name, value) for name, value in _FIXED_HEADERS if name.lower() not in present])
    if "strict-transport-security" not in present and not _is_development(current_app):
        headers["Strict-Transport-Security"] = HSTS_VALUE
    if "cache-control" not in present and (request.endpoint is None or not request.endpoint.endswith("static")):
        headers["Cache-Control"] = "no-store"
    return response


def static_url(filename: str) -> str:
    """URL of a file in governance/web/static (served by the web blueprint)."""
    return url_for("web.static", filename=filename)


def init_app(app: Flask) -> None:
    app.after_request(apply_security_headers)
    app.jinja_env.globals.update(csp_nonce=csp_nonce, static_url=static_url)
