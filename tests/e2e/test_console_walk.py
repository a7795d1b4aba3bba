"""Every member of staff walks every console page in Chromium, at 1280 px and 390 px (issue 13's "Done when").

The routes come from the app's url_map, so a new console page is walked (or the test fails) without editing
this file: each role opens each GET page it may see and gets the page, is refused (403) where the policy says
so, and for each route with an id gets a 404 with the console navigation for a malformed and an unknown id.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.e2e.browser import check_page, new_context, visible
from tests.e2e.helpers import (
    create_staff_with_totp,
    file_overdue_request,
    grant,
    release_dataset,
    seal_audit_log,
    seed_service_activity,
    sign_in,
    train_small_model,
)

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple 42"
ROLES = ("dpo", "auditor", "admin", "support")
# GET routes under /console that are not pages a person reads, with the reason; they are fetched, not rendered
NOT_PAGES = {
    "web.console_rotation_status": "the JSON the admin page's progress bar polls",
    "web.console_records_download": "a file download (HTML or JSON document)",
}
SKIPPED: dict[str, str] = {}  # endpoint -> why it is not walked (none today)


ID_ARGUMENTS = {"request_id", "seq"}  # `fmt` picks a format (an unknown one is a 422), it names no record


def _path(rule: str, values: dict[str, str]) -> str:
    """The rule with each <converter:name> replaced by its value, as typed (no converter checks it)."""
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: values[m.group(1)], rule)


def _console_rules(app) -> list[Any]:
    return sorted(
        (r for r in app.url_map.iter_rules() if r.rule.startswith("/console") and "GET" in (r.methods or ())),
        key=lambda r: r.rule,
    )


def _allowed(app, roles: set[str], endpoint: str, args: dict[str, Any]) -> bool:
    """What the policy lets this role do on the route (the walk expects the page, or a 403)."""
    from governance.access import service as access
    from governance.access.decorators import declaration_for_endpoint
    from governance.access.principals import Principal, Resource

    declaration = declaration_for_endpoint(app, endpoint)
    with app.test_request_context():
        resource = declaration.resource(args) if declaration.resource else Resource.system()
        principal = Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset(roles), mfa=True)
        return access.allowed(principal, declaration.action or "", resource)


def _ids(app) -> dict[str, dict[str, str]]:
    """For each path argument: a real value, a malformed one and an unknown one."""
    from governance.requests.models import DataSubjectRequest

    def latest(session):
        return str(session.query(DataSubjectRequest).first().id)

    from tests.e2e.helpers import in_transaction

    request_id = in_transaction(app, latest)
    return {
        "request_id": {"real": request_id, "malformed": request_id[:8], "unknown": str(uuid.UUID(int=7))},
        "seq": {"real": "1", "malformed": "not-a-number", "unknown": "999999"},
        "fmt": {"real": "json"},
    }


def _seed(app, make_subject, browser) -> None:
    subjects = [make_subject() for _ in range(2)]
    for subject_id in subjects:
        grant(app, subject_id, "personalized_recommendations")
    file_overdue_request(app, subjects[1])
    seed_service_activity(app)  # a client, a budget spend, a release and a processor
    train_small_model(app, make_subject)  # a training job
    release_dataset(app, "trainer", "model_training", ["country"])
    seal_audit_log(app)


def test_every_role_walks_every_console_page_at_both_widths(app, browser, live_server_for, make_subject):
    _seed(app, make_subject, browser)
    ids = _ids(app)
    server = live_server_for(app)
    rules = _console_rules(app)
    covered: set[str] = set()
    for role in ROLES:
        secret = create_staff_with_totp(app, f"walker-{role}", PASSWORD, {role})
        context = new_context(browser)
        context.set_default_timeout(60_000)
        page = context.new_page()
        sign_in(page, server.url, f"walker-{role}", PASSWORD, secret)
        for rule in rules:
            if rule.endpoint in SKIPPED:
                continue
            missing = [name for name in rule.arguments if name not in ids]
            assert not missing, f"{rule.rule}: add real, malformed and unknown values for {missing} to _ids()"
            real = {name: ids[name]["real"] for name in rule.arguments}
            url = server.url + _path(rule.rule, real)
            allowed = _allowed(app, {role}, rule.endpoint, real)
            name = f"walk-{role}-{rule.endpoint.removeprefix('web.').replace('_', '-')}"
            if rule.endpoint in NOT_PAGES:
                response = page.request.get(url)
                assert response.status == (200 if allowed else 403), (role, rule.rule, response.status)
            else:
                response = page.goto(url)
                assert response.status == (200 if allowed else 403), (role, rule.rule, response.status)
                assert visible(page.get_by_role("navigation", name="Console"))
                check_page(page, name)
            covered.add(rule.endpoint)
            for kind in ("malformed", "unknown"):
                if not set(rule.arguments) & ID_ARGUMENTS:
                    continue
                bad = _path(rule.rule, {n: ids[n][kind] if n in ID_ARGUMENTS else real[n] for n in rule.arguments})
                response = page.goto(server.url + bad)
                assert response.status in ((404,) if allowed else (403, 404)), (role, bad, response.status)
                if response.headers.get("content-type", "").startswith("text/html"):
                    assert visible(page.get_by_role("navigation", name="Console")), (role, bad)
                    check_page(page, f"{name}-{kind}-id")
        context.close()
    not_walked = {r.endpoint for r in rules} - covered - set(SKIPPED)
    assert not not_walked, f"console routes neither walked nor skipped with a reason: {sorted(not_walked)}"
