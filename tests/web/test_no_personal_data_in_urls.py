"""No personal data in URLs (they end up in logs, history and referrers) or page titles (tabs, bookmarks)."""

from __future__ import annotations

import re

from tests.fixtures.access import csrf_token_from
from tests.web.conftest import PROFILE

DASHBOARD_PAGES = ["/me", "/me/consent", "/me/requests", "/me/usage", "/me/requests/erase"]
CONSOLE_PAGES = [
    "/console",
    "/console/audit",
    "/console/requests?status=all",
    "/console/consent",
    "/console/budgets",
    "/console/releases",
    "/console/policies",
    "/console/records",
    "/console/admin",
]
SECRETS = [PROFILE["email"], PROFILE["name"], "Lovelace", "lovelace", "1990-12-10"]


def _links_and_title(html: str) -> tuple[list[str], str]:
    links = re.findall(r'(?:href|action|src|data-poll-url)="([^"]*)"', html)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    return links, title


def test_pages_keep_personal_data_out_of_urls_and_titles(app, client, make_subject, login_subject, login_staff):
    subject_id = make_subject()
    login_subject(client, subject_id)
    token = csrf_token_from(client.get("/me/requests").get_data(as_text=True))
    client.post("/me/requests/export", data={"csrf_token": token})
    revealed = client.post("/me/reveal", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert PROFILE["email"] in revealed  # the person asked to see it: shown in the page body only
    pages = {path: client.get(path).get_data(as_text=True) for path in DASHBOARD_PAGES}
    pages["/me/reveal"] = revealed

    staff = app.test_client()
    login_staff(staff, ("admin", "dpo"))
    pages.update({path: staff.get(path).get_data(as_text=True) for path in CONSOLE_PAGES})

    for path, html in pages.items():
        links, title = _links_and_title(html)
        for secret in SECRETS:
            assert secret not in title, (path, title)
            assert not [link for link in links if secret in link], path
        assert str(subject_id) not in title
    # the console holds no decrypted profile values at all
    for path in CONSOLE_PAGES:
        for secret in SECRETS:
            assert secret not in pages[path], (path, secret)
