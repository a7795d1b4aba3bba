"""Staff single sign-on in a real browser (Chromium through Playwright) against the real OpenID provider: the
service on a live server at http://localhost:<port>, the provider at http://127.0.0.1:<port>, so the way back
from the provider is a cross-site redirect and the sign-in cookie must survive it (SameSite=Lax)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.access.test_sso import POLICY
from tests.e2e.browser import check_page, start_live_server, visible
from tests.fixtures.oidc_provider import OidcProvider

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(oidc_provider: OidcProvider) -> Iterator[OidcProvider]:
    oidc_provider.reset()
    yield oidc_provider
    oidc_provider.reset()


@pytest.fixture
def sso_site(
    app: Flask, make_app: Callable[..., Flask], provider: OidcProvider, tmp_path: Path
) -> Iterator[tuple[str, Flask]]:
    """The service with SSO on, served at http://localhost:<port> (a client registered for that address)."""
    server = start_live_server(app)  # the port first; the app that knows its own address is swapped in below
    base = f"http://localhost:{server.server.server_port}"
    client_id, secret = provider.register_client(base)
    policy = tmp_path / "sso.yaml"
    policy.write_text(POLICY)
    sso_app = make_app(
        BASE_URL=base,
        SSO_ISSUER=provider.issuer,
        SSO_CLIENT_ID=client_id,
        SSO_CLIENT_SECRET=secret,
        SSO_POLICY=str(policy),
    )
    server.serve(sso_app)
    try:
        yield base, sso_app
    finally:
        server.stop()


@pytest.fixture
def page(page: Any) -> Any:
    page.set_default_timeout(60_000)  # each step waits on a condition; a busy CI machine may be slow
    return page


def _sign_in_at_provider(page: Any, account: str) -> None:
    """The provider shows its interaction page; the person signs in there as `account`."""
    assert "/interaction/" in page.url, page.url
    page.goto(f"{page.url.rstrip('/')}/login?account={account}")


def test_sign_in_and_sign_out_through_the_provider_in_a_browser(
    page: Any, sso_site: tuple[str, Flask], provider: OidcProvider
) -> None:
    base, _app = sso_site
    provider.set_account("alice", ["privacy-helpdesk"], amr=["pwd", "otp"])
    page.goto(f"{base}/login")
    check_page(page, "sso-login")
    page.get_by_role("link", name="Sign in with your company account").click()
    page.wait_for_url(f"{provider.issuer}/**")
    _sign_in_at_provider(page, "alice")
    page.wait_for_url(f"{base}/console**")
    assert page.url.startswith(f"{base}/console")
    assert visible(page.get_by_role("button", name="Sign out"))
    check_page(page, "sso-signed-in-console")

    # Sign-out: ended here, then at the provider (it asks to confirm), then back at the sign-in page.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{provider.issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{base}/login**")
    page.goto(f"{base}/console")
    assert page.url.startswith(f"{base}/login")  # signed out here
    # ... and at the provider: signing in again asks who you are instead of coming straight back.
    page.goto(f"{base}/login")
    page.get_by_role("link", name="Sign in with your company account").click()
    page.wait_for_url(f"{provider.issuer}/interaction/**")


def test_a_person_without_a_mapped_group_sees_a_clear_page(
    page: Any, sso_site: tuple[str, Flask], provider: OidcProvider
) -> None:
    base, _app = sso_site
    provider.set_account("erin", ["marketing"])
    page.goto(f"{base}/login/sso")
    _sign_in_at_provider(page, "erin")
    page.wait_for_url(f"{base}/login/sso/callback**")
    assert "no role here yet" in page.content()
    check_page(page, "sso-no-role")
