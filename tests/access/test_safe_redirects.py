"""Open redirect after sign-in (issue 19, finding 3): `?next=` sends the browser only to a path of this service.

The bypasses are the ones browsers and proxies are known to "repair" into another origin: tabs and newlines
dropped, backslashes read as slashes, encoded slashes decoded on the way, userinfo, scheme-relative and
`javascript:` targets, and Unicode look-alikes of `/`.
"""

from __future__ import annotations

from urllib.parse import quote, urljoin, urlsplit

import pytest
from flask import Flask

from governance.access.redirects import safe_next
from tests.access.conftest import PASSWORD, post_form, totp_now

BYPASSES = [
    "//evil.example",
    "///evil.example",
    "////evil.example/x",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "\\/evil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/%0a/evil.example",
    "/%0d%0a/evil.example",
    "/\n/evil.example",
    "/%2fevil.example",
    "/%2Fevil.example",
    "%2f%2fevil.example",
    "/%5cevil.example",
    "/%5Cevil.example",
    "/%252f%252fevil.example",
    "/%25252f%25252fevil.example",
    "/ /evil.example",
    "/%20/evil.example",
    "https://evil.example",
    "http:evil.example",
    "https:/evil.example",
    "//user@evil.example",
    "/\\user@evil.example",
    "//console@evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "/\u2215evil.example",  # DIVISION SLASH
    "/\uff0fevil.example",  # FULLWIDTH SOLIDUS
    "/\u3002evil.example",  # IDEOGRAPHIC FULL STOP
    "/%E2%88%95evil.example",
    "/%EF%BC%8F%EF%BC%8Fevil.example",
    "/%ff/evil.example",
    "/\x00/evil.example",
    "/console#//evil.example",
    "",
]

GOOD = ["/console", "/console/requests?status=all", "/console/audit/12", "/console/records/download.csv"]


@pytest.mark.parametrize("target", BYPASSES)
def test_a_bypass_falls_back_to_the_default(target: str) -> None:
    assert safe_next(target, "/console") == "/console"


@pytest.mark.parametrize("target", GOOD)
def test_a_path_of_this_service_is_kept(target: str) -> None:
    assert safe_next(target, "/console") == target


def _stays_here(location: str) -> bool:
    """How a browser resolves the Location header against the page it came from."""
    resolved = urlsplit(urljoin("http://localhost/login", location.replace("\\", "/").strip()))
    return resolved.netloc == "localhost" and resolved.scheme == "http"


@pytest.mark.parametrize("target", BYPASSES)
def test_password_sign_in_never_redirects_off_site(make_staff, app: Flask, target: str) -> None:
    _, name, _ = make_staff("support", totp=False)
    client = app.test_client()
    response = post_form(client, f"/login?next={quote(target, safe='')}", {"username": name, "password": PASSWORD})
    if response.status_code == 400:  # refused outright (a NUL in the query string): no redirect at all
        assert "Location" not in response.headers
        return
    assert response.status_code == 302
    location = response.headers["Location"]
    assert _stays_here(location), location
    assert location in ("/console", "http://localhost/console")


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\\evil.example", "//user@evil.example", "/%2f/evil"])
def test_totp_step_never_redirects_off_site(make_staff, app: Flask, target: str) -> None:
    _, name, secret = make_staff("admin")
    client = app.test_client()
    first = post_form(client, f"/login?next={quote(target, safe='')}", {"username": name, "password": PASSWORD})
    assert first.status_code == 302
    assert _stays_here(first.headers["Location"])
    assert "evil" not in client.get(f"/login/totp?next={quote(target, safe='')}").get_data(as_text=True)
    hostile = post_form(
        client, f"/login/totp?next={quote(target, safe='')}", {"code": totp_now(secret)}, page="/login/totp"
    )
    assert hostile.status_code == 302
    assert _stays_here(hostile.headers["Location"]), hostile.headers["Location"]
    assert hostile.headers["Location"] in ("/console", "http://localhost/console")


def test_a_good_next_survives_both_steps(make_staff, app: Flask) -> None:
    _, name, secret = make_staff("admin")
    client = app.test_client()
    first = post_form(client, "/login?next=/console/audit", {"username": name, "password": PASSWORD})
    assert "next=/console/audit" in first.headers["Location"] or "next=%2Fconsole%2Faudit" in first.headers["Location"]
    done = post_form(client, "/login/totp?next=/console/audit", {"code": totp_now(secret)}, page="/login/totp")
    assert done.status_code == 302
    assert done.headers["Location"] in ("/console/audit", "http://localhost/console/audit")
