"""The sign-in pages in Chromium: enrolment of the authenticator app, sign-in with the second factor, errors,
accessibility (axe) and the content security policy."""

from __future__ import annotations

import pyotp
import pytest

from tests.access.conftest import PASSWORD
from tests.e2e.browser import check_page, new_context, visible

pytestmark = pytest.mark.browser


def test_admin_enrols_the_authenticator_and_signs_in_again(app, page, live_server_for, make_staff) -> None:
    _, name, _ = make_staff("admin", totp=False)
    server = live_server_for(app)

    page.goto(server.url + "/console")
    assert "/login" in page.url
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not my password at all")
    page.get_by_role("button", name="Continue").click()
    assert visible(page.get_by_role("alert"))
    check_page(page, "access-login-error")

    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/totp")
    assert visible(page.locator("figure.qr svg"))
    check_page(page, "access-enrol-totp")
    secret = page.locator("figcaption code").inner_text().strip()
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Confirm").click()
    assert visible(page.get_by_role("heading", name="Your recovery codes"))
    assert page.locator("ul.codes li").count() == 10
    check_page(page, "access-recovery-codes")

    # A new browser signs in with password and a later code (the enrolment code cannot be replayed).
    other = new_context(page.context.browser)
    second = other.new_page()
    second.goto(server.url + "/login")
    second.get_by_label("User name").fill(name)
    second.get_by_label("Password").fill(PASSWORD)
    second.get_by_role("button", name="Continue").click()
    second.wait_for_url("**/login/totp**")
    check_page(second, "access-login-totp")
    later = pyotp.TOTP(secret)
    import time

    code = later.at(time.time() + 30)
    second.get_by_label("6-digit code").fill(code)
    second.get_by_role("button", name="Sign in").click()
    second.wait_for_url("**/console")
    other.close()
