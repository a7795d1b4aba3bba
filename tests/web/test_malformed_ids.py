"""Every page that takes an id in its path answers a malformed id (a short id, a typo) with a 4xx, never a 500.

Staff with every role and a signed-in person walk every GET page route of the app with each path argument
replaced by values a person might type or paste: the 8-character short id the console shows, a UUID with a
character cut off, and a word."""

from __future__ import annotations

import pytest
from flask import Flask
from werkzeug.routing import Rule

MALFORMED = ("3f2a9c1e", "3f2a9c1e-0b7d-4c2e-9a51-6d8e0f4b2a7", "not-an-id")
STAFF_ROLES = ("admin", "dpo", "support", "auditor")


def _page_rules(app: Flask) -> list[Rule]:
    """GET routes outside the JSON API (those are fuzzed from the OpenAPI document) that take a string argument."""
    rules = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(("/api/", "/static")):
            continue
        converters = {name: type(rule._converters[name]).__name__ for name in rule.arguments}
        if converters and all(
            kind in {"UnicodeConverter", "PathConverter", "AnyConverter"} for kind in converters.values()
        ):
            rules.append(rule)
    return rules


def _urls(rule: Rule) -> list[str]:
    urls = []
    for value in MALFORMED:
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", value).replace(f"<path:{name}>", value)
        if "<" not in path:  # a converter with options (any(...)) is already checked by werkzeug
            urls.append(path)
    return urls


def test_the_walk_covers_the_console_request_page(app: Flask) -> None:
    assert "/console/requests/<request_id>" in {rule.rule for rule in _page_rules(app)}


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_no_page_answers_a_malformed_id_with_a_server_error_for_staff(app, client, login_staff, role) -> None:
    login_staff(client, role)
    failures = []
    for rule in _page_rules(app):
        for url in _urls(rule):
            status = client.get(url).status_code
            if status >= 500:
                failures.append(f"{url} -> {status}")
    assert not failures


def test_no_page_answers_a_malformed_id_with_a_server_error_for_a_person(app, client, make_subject, login_subject):
    login_subject(client, make_subject())
    failures = [
        f"{url} -> {status}"
        for rule in _page_rules(app)
        for url in _urls(rule)
        if (status := client.get(url).status_code) >= 500
    ]
    assert not failures


def test_a_short_request_id_in_the_console_is_a_404_page(client, login_staff) -> None:
    login_staff(client, "dpo")
    response = client.get("/console/requests/3f2a9c1e")
    assert response.status_code == 404
    assert "text/html" in response.content_type
    assert "3f2a9c1e" not in response.get_data(as_text=True)  # nothing typed is echoed back


def test_a_person_s_unknown_request_pages_are_404_like_another_person_s(client, make_subject, login_subject) -> None:
    """An id that is no request of this person, malformed, unknown or someone else's, answers the same 404."""
    login_subject(client, make_subject())
    unknown = "3f2a9c1e-0b7d-4c2e-9a51-6d8e0f4b2a7c"
    for path in ("status", "download", "certificate", "certificate.jwt"):
        for request_id in (unknown, "3f2a9c1e"):
            response = client.get(f"/me/requests/{request_id}/{path}")
            assert response.status_code == 404, (path, request_id, response.status_code)
    assert client.post(f"/me/requests/{unknown}/cancel").status_code in {400, 404}  # CSRF may refuse first
