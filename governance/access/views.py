"""Access's HTML pages: opening a dashboard link, staff sign-in (password, second factor), sign-out and the
account pages. Single sign-on's pages are in sso_pages.py and the OAuth2 endpoints in api.py, all on this
module's `access` blueprint (endpoint names `access.<view>`). Routes parse, call the access services and
respond."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask import session as cookie
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from governance import audit
from governance.access import accounts, authn, credentials, sessions, sso
from governance.access.decorators import current_principal, public, requires, resource_of
from governance.access.errors import (
    AccountLockedError,
    InvalidCredentialSettingsError,
    LinkInvalidError,
    SignInFailedError,
)
from governance.access.principals import Resource
from governance.access.signin_context import PENDING_KEY, PENDING_LIFETIME, safe_next
from governance.access.signin_context import address_hash as _address_hash
from governance.access.signin_context import lockout_policy as _policy
from governance.access.signin_context import totp_box as _box
from governance.db import get_session, transaction

bp = Blueprint("access", __name__)

ISSUER = "Privacy governance"


def _name_hash(username: str) -> str:
    return accounts.name_key(username, current_app.extensions["governance.keys"].secret("access-address"))


# ---- dashboard links (end users) ----


@bp.get("/dashboard/start/<token>")
@public("one-time dashboard link: the token in the URL is the credential, checked by the view")
def start_dashboard(token: str) -> BaseResponse | tuple[str, int]:
    session = get_session()
    try:
        new, _subject_id = sessions.redeem_link(session, token, authn.timeouts())
    except LinkInvalidError:
        session.commit()  # keep the audit entry of the rejected link
        return render_template("access/link_invalid.html"), 410
    session.commit()
    authn.start_cookie_session("subject", new.token)
    target = "/me"
    if "web.dashboard" in current_app.view_functions:
        target = url_for("web.dashboard")
    response = redirect(target)
    response.headers["Cache-Control"] = "no-store"
    return response


@resource_of("Subject")
def _own_subject(_args: dict[str, Any]) -> Resource:
    subject_id = current_principal().subject_id
    return Resource.subject(subject_id) if subject_id else Resource(type="Subject", id="none")


@bp.post("/dashboard/logout")
@requires("dashboard.view", resource=_own_subject)
def dashboard_logout() -> BaseResponse:
    data = cookie.get(authn.COOKIE_KEY) or {}
    with transaction(get_session()) as session:
        sessions.end_subject_session(session, str(data.get("token", "")))
    cookie.clear()
    return redirect("/")


# ---- staff sign-in ----


def _login_page(error: str | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    sso_on = current_app.extensions.get(sso.EXTENSION_KEY) is not None
    html = render_template("access/login.html", error=error, next=safe_next(), sso_on=sso_on)
    return html, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
@public("the staff sign-in page")
def login() -> Any:
    if request.method == "GET":
        return _login_page()
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    session = get_session()
    try:
        staff = accounts.check_password(
            session,
            username=username,
            password=password,
            address_hash=_address_hash(),
            name_hash=_name_hash(username),
            policy=_policy(),
        )
    except (SignInFailedError, AccountLockedError) as exc:
        session.commit()  # the failure counts even though the answer is an error
        return _login_page(exc.message, exc.status, exc.headers)
    if staff.totp_enabled_at is not None:
        session.commit()
        cookie.clear()
        cookie[PENDING_KEY] = {"staff_id": str(staff.id), "at": datetime.now(UTC).isoformat()}
        return redirect(url_for("access.login_totp", next=safe_next()))
    accounts.signed_in(session, staff, mfa=False, method="password")
    new = sessions.start_staff_session(session, staff, mfa=False, timeouts=authn.timeouts())
    session.commit()
    authn.start_cookie_session("staff", new.token)
    if staff.must_change_password:
        return redirect(url_for("access.change_password"))
    if accounts.needs_mfa(staff.roles):
        return redirect(url_for("access.enrol_totp"))
    return redirect(safe_next())


def _pending_staff_id() -> uuid.UUID | None:
    pending = cookie.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    try:
        started = datetime.fromisoformat(pending["at"])
        staff_id = uuid.UUID(pending["staff_id"])
    except (KeyError, ValueError, TypeError):
        return None
    return staff_id if datetime.now(UTC) - started < PENDING_LIFETIME else None


def _pending_via_sso() -> bool:
    """The first step was single sign-on (the provider did not assert MFA; the local TOTP completes it)."""
    pending = cookie.get(PENDING_KEY)
    return isinstance(pending, dict) and pending.get("via") == "sso"


@bp.route("/login/totp", methods=["GET", "POST"])
@public("second sign-in step; the first step's result is in the signed cookie and checked by the view")
def login_totp() -> Any:
    staff_id = _pending_staff_id()
    if staff_id is None:
        return redirect(url_for("access.login", next=safe_next()))
    if request.method == "GET":
        return render_template("access/totp.html", next=safe_next())
    session = get_session()
    staff = accounts.get_staff(session, staff_id)
    try:
        method = accounts.check_second_factor(
            session,
            staff,
            code=request.form.get("code", ""),
            box=_box(),
            address_hash=_address_hash(),
            policy=_policy(),
        )
    except (SignInFailedError, AccountLockedError) as exc:
        session.commit()
        page = render_template("access/totp.html", error=exc.message, next=safe_next())
        return page, exc.status, exc.headers
    via_sso = _pending_via_sso()
    timeouts = authn.timeouts()
    if via_sso:
        client = current_app.extensions.get(sso.EXTENSION_KEY)
        if client is None or staff.sso_subject is None:
            return redirect(url_for("access.login", next=safe_next()))
        timeouts = sso.session_timeouts(client.policy, timeouts)
    accounts.signed_in(session, staff, mfa=True, method=f"sso+{method}" if via_sso else method)
    new = sessions.start_staff_session(session, staff, mfa=True, timeouts=timeouts)
    session.commit()
    authn.start_cookie_session("staff", new.token)
    if via_sso:
        cookie[sso.SIGNED_IN_KEY] = True  # sign-out also ends the session at the provider
    if staff.must_change_password:
        return redirect(url_for("access.change_password"))
    return redirect(safe_next())


@resource_of("StaffAccount")
def _own_account(_args: dict[str, Any]) -> Resource:
    return Resource(type="StaffAccount", id=current_principal().id)


@bp.post("/logout")
@requires("account.self", resource=_own_account)
def logout() -> BaseResponse:
    data = cookie.get(authn.COOKIE_KEY) or {}
    # A session begun at the company's provider ends there too (RP-initiated logout), when it offers that.
    # The local session ends first and whatever the provider does: a provider that is down cannot keep it.
    at_provider = provider_logout_url()
    with transaction(get_session()) as session:
        sessions.end_staff_session(session, str(data.get("token", "")))
        audit.record(
            session,
            actor=current_principal(),
            action="access.sign_out",
            target=("staff", current_principal().id),
            details={"provider_logout": True} if at_provider else {},
        )
    cookie.clear()
    return redirect(at_provider or url_for("access.login"))


@bp.route("/account/totp", methods=["GET", "POST"])
@requires("account.self", resource=_own_account)
def enrol_totp() -> Any:
    session = get_session()
    staff = accounts.get_staff(session, uuid.UUID(current_principal().id))
    box = _box()
    if staff.totp_enabled_at is not None:
        return redirect(safe_next())
    if request.method == "GET":
        with transaction(session):
            secret = accounts.begin_totp_enrolment(session, staff, box)
        return _enrol_page(staff, secret)
    try:
        codes = accounts.confirm_totp_enrolment(session, staff, request.form.get("code", ""), box)
    except SignInFailedError as exc:
        session.rollback()
        secret = accounts.pending_totp_secret(staff, box) or ""
        return _enrol_page(staff, secret, error=exc.message, status=400)
    accounts.signed_in(session, staff, mfa=True, method="enrolment")
    new = sessions.start_staff_session(session, staff, mfa=True, timeouts=authn.timeouts())
    old = (cookie.get(authn.COOKIE_KEY) or {}).get("token", "")
    sessions.end_staff_session(session, str(old))
    session.commit()
    authn.start_cookie_session("staff", new.token)
    return render_template("access/recovery_codes.html", codes=codes, next_url=safe_next())


def _enrol_page(staff: Any, secret: str, error: str | None = None, status: int = 200) -> Any:
    uri = credentials.provisioning_uri(secret, account=staff.username, issuer=ISSUER)
    page = render_template("access/enrol.html", secret=secret, qr_svg=credentials.qr_svg(uri), error=error)
    return page, status, {"Cache-Control": "no-store"}


@bp.post("/account/recovery-codes")
@requires("account.self", resource=_own_account)
def renew_recovery_codes() -> Any:
    principal = current_principal()
    if not principal.mfa:
        return redirect(url_for("access.enrol_totp"))
    with transaction(get_session()) as session:
        staff = accounts.get_staff(session, uuid.UUID(principal.id))
        codes = accounts.replace_recovery_codes(session, staff)
    page = render_template("access/recovery_codes.html", codes=codes, next_url="/console")
    return page, 200, {"Cache-Control": "no-store"}


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account.self", resource=_own_account)
def change_password() -> Any:
    if request.method == "GET":
        return render_template("access/password.html")
    session = get_session()
    staff = accounts.get_staff(session, uuid.UUID(current_principal().id))
    try:
        accounts.change_password(
            session,
            staff,
            current=request.form.get("current_password", ""),
            new=request.form.get("new_password", ""),
        )
    except (SignInFailedError, InvalidCredentialSettingsError) as exc:
        session.rollback()
        return render_template("access/password.html", error=exc.message), 400
    session.commit()
    return redirect("/console")


def provider_logout_url() -> str | None:
    """Where to send a browser whose staff session began at the provider (RP-initiated logout), if anywhere."""
    client = current_app.extensions.get(sso.EXTENSION_KEY)
    if client is None or not cookie.get(sso.SIGNED_IN_KEY):
        return None
    return client.end_session_url()
