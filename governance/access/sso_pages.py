"""Staff single sign-on pages: `/login/sso` sends the browser to the company's OpenID provider, the provider
sends it back to `/login/sso/callback`. Routes parse, call access/sso/ and answer; every sign-in, refusal and
just-in-time account is audited in the transaction that writes it (see docs/access.md, "Single sign-on")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app, redirect, request, url_for
from flask import session as cookie
from werkzeug.wrappers import Response  # what redirect() returns (flask.Response is a subclass)

from governance.access import accounts, authn, redirects, sessions, sso
from governance.access.decorators import public
from governance.access.signin_context import PENDING_KEY, safe_next
from governance.access.views import bp
from governance.db import get_session, transaction
from governance.errors import error_response


def _client() -> sso.SsoClient:
    client = current_app.extensions.get(sso.EXTENSION_KEY)
    if client is None:
        raise sso.SsoDisabledError()
    return client


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/login/sso")
@public("starts staff single sign-on: the browser is sent to the company's OpenID provider")
def login_sso() -> Any:
    client = _client()
    try:
        url, flow = client.begin(safe_next())
    except sso.SsoUnavailableError as exc:
        with transaction(get_session()) as session:
            sso.record_refusal(session, exc.reason)
        return _no_store(error_response(exc.status, exc.body(), exc.headers))
    cookie[sso.FLOW_KEY] = flow
    return _no_store(redirect(url))


@bp.get("/login/sso/callback")
@public("OpenID Connect redirect URI: state, PKCE verifier, nonce and ID token are checked by the view")
def login_sso_callback() -> Any:
    client = _client()
    flow = cookie.pop(sso.FLOW_KEY, None)  # one use: a replayed callback finds no flow
    session = get_session()
    ref: str | None = None
    try:
        identity = client.complete(request.args, flow)
        ref = identity.subject_ref
        result = sso.apply_identity(session, client.policy, identity)
    except (sso.SsoRefusedError, sso.SsoUnavailableError) as exc:
        # Keep what the attempt wrote (a new account, a role taken away) with the refusal, then answer.
        sso.record_refusal(session, exc.reason, staff_id=getattr(exc, "staff_id", None), ref=ref)
        session.commit()
        return _no_store(error_response(exc.status, exc.body(), exc.headers))
    next_url = redirects.safe_next(str(flow.get("next", "")), "/console") if isinstance(flow, dict) else "/console"
    staff = result.staff
    if result.needs_totp:
        # The roles need MFA and the provider did not assert it: the account's own TOTP is the second step.
        session.commit()
        cookie.clear()
        cookie[PENDING_KEY] = {"staff_id": str(staff.id), "at": datetime.now(UTC).isoformat(), "via": "sso"}
        return _no_store(redirect(url_for("access.login_totp", next=next_url)))
    accounts.signed_in(session, staff, mfa=result.mfa, method="sso")
    timeouts = sso.session_timeouts(client.policy, authn.timeouts())
    new = sessions.start_staff_session(session, staff, mfa=result.mfa, timeouts=timeouts)
    session.commit()
    authn.start_cookie_session("staff", new.token)
    cookie[sso.SIGNED_IN_KEY] = True
    return _no_store(redirect(next_url))
