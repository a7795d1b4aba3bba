"""An error page under /console keeps the console's navigation for staff (a stale or mistyped link must not strand
a member of staff on a bare page), and shows nothing of it to anyone else."""

from __future__ import annotations

import uuid

import pytest

UNKNOWN_REQUEST = str(uuid.UUID(int=1))
NOT_FOUND = [
    "/console/requests/3f2a9c1e",  # the short id the queue shows
    f"/console/requests/{UNKNOWN_REQUEST}",
    "/console/audit/not-a-number",  # refused by routing, before any access check
    "/console/audit/999999",
    "/console/no-such-page",
]


def _nav_links(html: str) -> int:
    return html.count('<nav class="console-nav" aria-label="Console">')


@pytest.mark.parametrize("path", NOT_FOUND)
def test_a_404_under_the_console_keeps_the_navigation(client, login_staff, path: str) -> None:
    login_staff(client, "dpo")
    response = client.get(path)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert _nav_links(html) == 1
    assert 'href="/console/audit"' in html  # the sections the DPO may open
    assert "Go to the console overview" in html
    assert "Sign out" in html


def test_the_section_of_the_missing_page_is_current(client, login_staff) -> None:
    login_staff(client, "dpo")
    html = client.get(f"/console/requests/{UNKNOWN_REQUEST}").get_data(as_text=True)
    assert '<a href="/console/requests" aria-current="page">Requests</a>' in html


def test_a_403_keeps_the_navigation_of_what_the_role_may_open(client, login_staff) -> None:
    login_staff(client, "support")  # support may not read the audit log
    response = client.get("/console/audit/1")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert _nav_links(html) == 1
    assert 'href="/console/audit"' not in html


def test_nobody_signed_in_sees_no_console_navigation(client) -> None:
    response = client.get("/console/no-such-page")
    assert response.status_code == 404
    assert _nav_links(response.get_data(as_text=True)) == 0


def test_a_person_signed_in_to_the_dashboard_sees_no_console_navigation(client, make_subject, login_subject) -> None:
    login_subject(client, make_subject())
    response = client.get("/console/no-such-page")
    assert response.status_code == 404
    assert _nav_links(response.get_data(as_text=True)) == 0
