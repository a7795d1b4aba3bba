"""Release modes say what a release is: row-level releases are pseudonymized personal data, labelled so in the
manifest, the API, the console and the person's page, and only for purposes and clients whose policy permits it."""

import uuid

import pytest

from governance.gateway import service
from governance.gateway.errors import SpecNotAllowedError
from governance.gateway.modes import MODES, ReleaseMode
from governance.jobs.worker import drain
from tests.gateway.conftest import PURPOSE, client_principal

SPEC = {"purpose": PURPOSE, "profile_fields": ["country"], "format": "jsonl"}


def test_every_mode_states_its_unit_guarantee_and_what_it_does_not_cover():
    for mode in ReleaseMode:
        info = MODES[mode]
        assert all((info.unit_of_privacy, info.guarantee, info.not_covered, info.label)), mode
    assert MODES[ReleaseMode.PSEUDONYMIZED_ROWS].data_classification == "pseudonymized_personal_data"
    assert MODES[ReleaseMode.PSEUDONYMIZED_ROWS].personal_data


def test_a_row_level_release_is_labelled_pseudonymized_personal_data_in_api_and_manifest(app, client, bearer, populate):
    populate(12)
    trainer = bearer(["datasets:request"], [PURPOSE])
    created = client.post("/api/v1/datasets", json=SPEC, headers=trainer)
    assert created.status_code == 202, created.get_json()
    assert created.get_json()["mode"] == "pseudonymized_rows"
    assert created.get_json()["data_classification"] == "pseudonymized_personal_data"
    drain(app, kinds=["gateway.release"])
    shown = client.get(f"/api/v1/datasets/{created.get_json()['release_id']}", headers=trainer).get_json()
    assert shown["status"] == "ready"
    stated = shown["manifest"]["release_mode"]
    assert stated["mode"] == "pseudonymized_rows"
    assert stated["data_classification"] == "pseudonymized_personal_data"
    assert stated["personal_data"] is True
    assert stated["not_covered"]
    # the person's "how my data is used" page leads with what kind of data the release is
    from governance.gateway.models import Release
    from governance.web.dashboard.usage import _release_protections

    with app.test_request_context("/me/usage"):  # the page's labels are translated: a request picks the language
        session = app.extensions["governance.db"].session()
        try:
            release = session.get(Release, uuid.UUID(shown["release_id"]))
            protections = _release_protections(release)
        finally:
            session.close()
    assert protections[0] == "Pseudonymized personal data (row level, not anonymous)"
    assert any("everything this dataset holds about you" in p for p in protections)


def test_row_level_data_only_for_purposes_and_clients_whose_policy_permits_it(app, client, bearer):
    # product_analytics is "in aggregate": no row-level personal data, whoever asks
    analyst = bearer(["datasets:request"], ["product_analytics"])
    refused = client.post(
        "/api/v1/datasets", json={"purpose": "product_analytics", "profile_fields": ["country"]}, headers=analyst
    )
    assert refused.status_code == 403
    assert {"item": "mode", "name": "pseudonymized_rows", "reason": "pseudonymized_personal_data_not_permitted"} in (
        refused.get_json()["not_allowed"]
    )
    # chat_personalization: only clients granted it (intent-classifier), not any registered client
    spec = {"purpose": "chat_personalization", "profile_fields": ["country"]}
    purposes = frozenset({"chat_personalization"})
    with app.app_context():
        with pytest.raises(SpecNotAllowedError):
            service.check_spec("chat_personalization", client_principal("someone-else", purposes), spec)
        service.check_spec("chat_personalization", client_principal("intent-classifier", purposes), spec)


def test_training_input_is_not_a_release_mode_a_client_can_ask_for(app, session):
    with pytest.raises(SpecNotAllowedError) as refused:
        service.request_release(session, client=client_principal(), spec={**SPEC, "mode": "training_input"})
    assert refused.value.extra["not_allowed"][0]["reason"] == "not_requestable"
