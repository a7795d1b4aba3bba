"""`/.well-known/gpc.json`: the GPC support resource, its date from the policy files, and the claim it makes
(a GPC signal really withdraws the sale/sharing purposes)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import uuid
from pathlib import Path

import yaml
from flask import Flask
from flask.testing import FlaskClient

from governance.settings import PROJECT_ROOT

SHARING = "partner_sharing"


def _newest_sharing_notice(policies: Path) -> str:
    """Read straight from the YAML, not through the service's catalog."""
    spec = yaml.safe_load((policies / "purposes.yaml").read_text())
    dates = [
        n["published"] for p in spec["purposes"] if p.get("sale_or_sharing") for n in p["notices"]
    ]  # fmt: skip
    return max(dates).isoformat()


def test_support_resource_as_the_specification_requires(client: FlaskClient) -> None:
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"gpc", "lastUpdate"}
    assert body["gpc"] is True
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", body["lastUpdate"])  # RFC 3339 full-date
    assert body["lastUpdate"] == _newest_sharing_notice(PROJECT_ROOT / "policies")
    assert "Set-Cookie" not in response.headers


def test_a_new_sharing_notice_moves_the_date(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", folder)
    text = "# Partner sharing\n\nVersion 2: the partners are now listed by name.\n"
    (folder / "notices" / SHARING / "v2.md").write_text(text)
    purposes = folder / "purposes.yaml"
    yaml_text = purposes.read_text()
    anchor = "        published: 2024-06-01\n"
    start = yaml_text.index(f"  - key: {SHARING}\n")
    # after version 1's whole entry (its translations included): the next line indented less than its fields
    at = re.compile(r"^ {0,6}\S", re.MULTILINE).search(yaml_text, yaml_text.index(anchor, start) + len(anchor)).start()
    version = (
        "      - version: 2\n"
        f"        file: notices/{SHARING}/v2.md\n"
        f"        sha256: {hashlib.sha256(text.encode()).hexdigest()}\n"
        "        published: 2026-11-20\n"
    )
    purposes.write_text(yaml_text[:at] + version + yaml_text[at:])
    moved = make_app(POLICIES_DIR=str(folder))
    body = moved.test_client().get("/.well-known/gpc.json").get_json()
    assert body == {"gpc": True, "lastUpdate": "2026-11-20"}
    assert _newest_sharing_notice(folder) == "2026-11-20"


def test_a_non_sharing_notice_does_not_move_the_date(app: Flask) -> None:
    from governance.consent import service
    from governance.consent.gpc import last_update

    with app.app_context():
        catalog = service.purposes()
        newest_any = max(n.published for p in catalog for n in p.notices)
        assert last_update(catalog) == dt.date.fromisoformat(_newest_sharing_notice(PROJECT_ROOT / "policies"))
    assert newest_any > last_update(catalog)  # recommendations v2 (2025) is newer, and is no sale or sharing


def _check(client: FlaskClient, subject: uuid.UUID, headers: dict[str, str]) -> str:
    response = client.get(f"/api/v1/consents/check?subject={subject}&purpose={SHARING}", headers=headers)
    assert response.status_code == 200
    return response.get_json()["reason"]


def _grant(client: FlaskClient, subject: uuid.UUID, headers: dict[str, str]) -> None:
    body = {"decisions": [{"purpose": SHARING, "decision": "granted"}]}
    response = client.post(
        f"/api/v1/subjects/{subject}/consents", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert response.status_code == 201, response.get_json()


def test_the_claim_holds_a_forwarded_signal_withdraws_sharing(client: FlaskClient, bearer, make_subject) -> None:  # type: ignore[no-untyped-def]
    product = bearer(["consents:write", "consents:read"])
    subject = make_subject()
    _grant(client, subject, product)
    assert _check(client, subject, product) == "granted"
    response = client.post(
        f"/api/v1/subjects/{subject}/consents",
        json={"decisions": []},
        headers={**product, "Idempotency-Key": uuid.uuid4().hex, "Sec-GPC": "1"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["gpc_withdrawn"] == [SHARING]
    assert _check(client, subject, product) == "withdrawn"


def test_the_claim_holds_on_the_dashboard(app: Flask, bearer, make_subject, login_subject) -> None:  # type: ignore[no-untyped-def]
    product = bearer(["consents:write", "consents:read"])
    subject = make_subject()
    api = app.test_client()
    _grant(api, subject, product)
    browser = app.test_client()
    login_subject(browser, subject)
    assert browser.get("/me/consent", headers={"Sec-GPC": "1"}).status_code == 200
    assert _check(api, subject, product) == "withdrawn"
