"""'How your data is used' with a real dataset release that included the person.

k-anonymity suppresses everyone when only a few people are seeded (k is 10 or more in `policies/`), so this test
runs an app over a copy of `policies/` whose personalized-recommendations purpose asks for k = 3.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from governance.access.principals import ActorRef, Principal
from governance.settings import PROJECT_ROOT
from tests.web.conftest import PROFILE

ACTOR = ActorRef("system", "web-tests")
PURPOSE = "personalized_recommendations"


def policies_with_small_k(tmp_path: Path, k: int = 3) -> Path:
    """A copy of `policies/` where the personalized-recommendations purpose needs only `k` people per class."""
    folder = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", folder)
    purposes = folder / "purposes.yaml"
    text = purposes.read_text()
    start = text.index(f"  - key: {PURPOSE}\n")
    end = text.index("  - key: ", start + 1)
    block, count = re.subn(r"k_anonymity: \d+", f"k_anonymity: {k}", text[start:end])
    assert count == 1
    purposes.write_text(text[:start] + block + text[end:])
    return folder


def _in_transaction(app, work):
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            with session.begin():
                return work(session)
        finally:
            session.close()


def test_a_release_that_included_the_person_is_shown_with_its_protections(
    app, make_app, make_subject, login_subject, tmp_path
):
    from governance.access import tokens
    from governance.consent import service as consent
    from governance.gateway import service as gateway
    from governance.jobs.worker import drain

    small_k = make_app(POLICIES_DIR=str(policies_with_small_k(tmp_path)))
    people = [make_subject(profile={**PROFILE, "country": "DE"}) for _ in range(4)]
    outsider = make_subject(profile={**PROFILE, "country": "FR"})  # alone in its class: suppressed
    for subject_id in [*people, outsider]:
        _in_transaction(
            small_k,
            lambda s, sid=subject_id: consent.record_decisions(
                s, sid, [{"purpose": PURPOSE, "decision": "granted"}], method="api", actor=ACTOR, jurisdiction="EU"
            ),
        )
    client = Principal(
        kind="client", id="recommender", scopes=frozenset({"datasets:request"}), purposes=frozenset({PURPOSE})
    )

    def request(session):
        tokens.register_client(
            session,
            name="Recommender",
            scopes={"datasets:request"},
            purposes={PURPOSE},
            actor=ACTOR,
            client_id="recommender",
        )
        return gateway.request_release(session, client=client, spec={"purpose": PURPOSE, "profile_fields": ["country"]})

    release_id = _in_transaction(small_k, request).id
    drain(small_k, kinds=["gateway.release"])
    release = _in_transaction(small_k, lambda s: gateway.get_release(s, release_id))
    assert (release.status, release.k_required, release.k_achieved) == ("ready", 3, 4)

    browser = small_k.test_client()
    login_subject(browser, people[0])
    html = browser.get("/me/usage").get_data(as_text=True)
    table = html[html.index("Dataset releases that included you") : html.index("Trained models")]
    assert "Personalized recommendations" in table  # the purpose
    assert release.completed_at.strftime("%-d %b %Y") in table  # the date
    assert "Recommender" in table  # the recipient, by name
    assert "Pseudonymized (identifiers replaced by codes used in this dataset only)" in table
    assert "k = 4, required 3" in table
    assert "No differential privacy" in table
    assert "No model has been trained on your data." in html
    assert PROFILE["email"] not in html
    dashboard = browser.get("/me").get_data(as_text=True)
    assert "Included in 1 dataset or model." in dashboard

    other = small_k.test_client()
    login_subject(other, outsider)
    assert "No dataset has included your data." in other.get("/me/usage").get_data(as_text=True)
