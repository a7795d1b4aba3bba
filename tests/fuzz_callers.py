"""The callers of the fuzz and canary tests: a bearer client with every scope (registered for every purpose), a
data subject's dashboard session and a DPO's staff session, each as the headers and cookies its requests carry."""

from __future__ import annotations

import re
import secrets
import uuid
from typing import Any

from flask import Flask

CALLERS = ("client", "subject", "dpo")
_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class Callers:
    """The three principals, created once for the module, as the headers their requests carry."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        client = self._client()
        self.subject_id = self._subject(client)
        self.headers = {
            "client": client,
            "subject": self._subject_session(),
            "dpo": self._staff_session("dpo"),
        }

    def call_kwargs(self, caller: str) -> dict[str, Any]:
        """A fresh cookie jar per request: each carries exactly its caller's credentials, never a cookie an
        earlier response set (a generated session cookie is replaced by the caller's, or dropped)."""
        headers = dict(self.headers[caller])
        cookie = headers.pop("Cookie", None)
        name = self.app.config["SESSION_COOKIE_NAME"]
        cookies = {name: cookie.split("=", 1)[1]} if cookie else {name: ""}
        return {"headers": headers, "cookies": cookies, "session": self.app.test_client()}

    def _session(self) -> Any:
        return self.app.extensions["governance.db"].session()

    def _client(self) -> dict[str, str]:
        from governance.access import tokens
        from governance.access.principals import Principal
        from governance.consent.service import purposes

        actor = Principal.system("fuzz")
        with self.app.app_context():
            every_purpose = {item.key for item in purposes()}
            session = self._session()
            with session.begin():
                registered = tokens.register_client(
                    session, name="fuzz client", scopes=set(tokens.KNOWN_SCOPES), purposes=every_purpose, actor=actor
                )
                client = tokens.get_client(session, registered.client_id)
                issued = tokens.issue_token(session, client, set(tokens.KNOWN_SCOPES))
            session.close()
        return {"Authorization": f"Bearer {issued.access_token}"}

    def _subject(self, headers: dict[str, str]) -> uuid.UUID:
        response = self.app.test_client().post(
            "/api/v1/subjects", json={"external_ref": "fuzz-subject", "profile": {"country": "GB"}}, headers=headers
        )
        assert response.status_code == 201, response.get_json()
        return uuid.UUID(response.get_json()["id"])

    def _cookie_headers(self, client: Any) -> dict[str, str]:
        page = client.get("/login").get_data(as_text=True)
        match = _CSRF_INPUT.search(page)
        assert match, "no CSRF token on the sign-in page"
        cookie = client.get_cookie(self.app.config["SESSION_COOKIE_NAME"])
        assert cookie is not None
        return {"Cookie": f"{cookie.key}={cookie.value}", "X-CSRFToken": match.group(1)}

    def _subject_session(self) -> dict[str, str]:
        from governance.access.principals import Principal
        from governance.access.service import create_dashboard_link

        with self.app.app_context():
            session = self._session()
            with session.begin():
                url = create_dashboard_link(session, self.subject_id, actor=Principal.system("fuzz"))
            session.close()
        client = self.app.test_client()
        assert client.get(url[url.index("/dashboard/start/") :]).status_code == 302
        return self._cookie_headers(client)

    def _staff_session(self, role: str) -> dict[str, str]:
        from governance.access import accounts, authn, sessions
        from governance.access.principals import Principal

        with self.app.test_request_context():
            session = self._session()
            with session.begin():
                staff = accounts.create_staff(
                    session,
                    username=f"fuzz-{role}-{secrets.token_hex(3)}",
                    password=secrets.token_urlsafe(16),
                    roles={role},
                    actor=Principal.system("fuzz"),
                )
                started = sessions.start_staff_session(session, staff, mfa=True, timeouts=authn.timeouts())
            session.close()
        client = self.app.test_client()
        with client.session_transaction() as cookie:
            cookie[authn.COOKIE_KEY] = {"kind": "staff", "token": started.token}
        return self._cookie_headers(client)
