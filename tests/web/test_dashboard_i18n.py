"""The dashboard in English and German: which language a person gets, the switcher, German notices pinned by
their own hash and recorded in the consent evidence, and no English left on the main German pages."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from governance.web import i18n
from tests.fixtures.access import csrf_token_from
from tests.web.conftest import PROFILE

GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
NO_LANGUAGE = {k: v for k, v in PROFILE.items() if k != "language"}
POLICIES = Path(__file__).resolve().parents[2] / "policies"

# what the main pages say in English; none of it may be left on their German versions
ENGLISH_LEFTOVERS = (
    "Your data",
    "Consent",
    "Requests",
    "How your data is used",
    "Who accessed",
    "Sign out",
    "Privacy policy",
    "Skip to content",
    "The data we hold about you",
    "Your profile",
    "Show values",
    "Your activity",
    "All time",
    "What you allow",
    "Legal basis",
    "Read the notice",
    "Kept for",
    "Turn everything optional off",
    "Your receipts",
    "History of your decisions",
    "Your requests",
    "Download your data",
    "Delete your data",
    "Correct your data",
    "Object to a use",
    "Datasets",
    "Trained models",
    "Personalized recommendations",
    "Training our models",
    "Your consent",
    "Germany",
    "English",
    "Date of birth",
    " months",
    " years",
)


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([a-z]+)">', html)
    assert found, "no <html lang>"
    return found.group(1)


def _visible_text(html: str) -> str:
    """The page's text a reader sees (hidden text for screen readers too), without the language switcher, whose
    buttons name each language in that language."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r'<form[^>]*class="inline language-switch".*?</form>', " ", html, flags=re.S)
    html = re.sub(r'<span class="visually-hidden">', "<span>", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_accept_language_picks_german_and_an_unknown_language_falls_back_to_english(
    client, make_subject, login_subject
):
    login_subject(client, make_subject(NO_LANGUAGE))
    html = _html(client.get("/me", headers=GERMAN))
    assert _lang(html) == "de"
    assert "Die Daten, die wir über Sie speichern" in html
    assert "Deutschland" in html  # the country by its German name, not DE or Germany

    for header in ("fr-FR,fr;q=0.9", "xx", "", "de-CH;q=0"):
        html = _html(client.get("/me", headers={"Accept-Language": header}))
        assert _lang(html) == "en", header
        assert "The data we hold about you" in html
    response = client.get("/me", headers=GERMAN)
    assert response.headers["Content-Language"] == "de"
    assert "Accept-Language" in response.headers["Vary"]


def test_the_switcher_overrides_the_browser_and_stays_for_the_session(client, make_subject, login_subject):
    login_subject(client, make_subject(NO_LANGUAGE))
    page = _html(client.get("/me/consent", headers=GERMAN))
    assert _lang(page) == "de"
    assert '<button type="submit" name="language" value="en" lang="en"' in page

    response = client.post(
        "/me/language", data={"language": "en", "next": "/me/consent", "csrf_token": csrf_token_from(page)}
    )
    assert response.status_code == 303  # post/redirect/get
    assert response.headers["Location"] == "/me/consent"
    for path in ("/me", "/me/consent", "/me/requests"):
        assert _lang(_html(client.get(path, headers=GERMAN))) == "en", path  # the choice beats Accept-Language

    page = _html(client.get("/me"))
    response = client.post("/me/language", data={"language": "de", "csrf_token": csrf_token_from(page)})
    assert response.headers["Location"] == "/me"
    assert _lang(_html(client.get("/me/usage"))) == "de"


def test_an_answer_to_a_request_sent_before_the_switch_cannot_undo_it(app, client, make_subject, login_subject):
    """The browser applies each response's Set-Cookie as it arrives: a stylesheet or page fetched with the old
    cookie and answered after the switch would put the old language back if every response re-sent the cookie."""
    login_subject(client, make_subject(NO_LANGUAGE))
    name = app.config["SESSION_COOKIE_NAME"]
    page = _html(client.get("/me/requests", headers=GERMAN))
    before_switch = client.get_cookie(name).value
    client.post("/me/language", data={"language": "en", "next": "/me/requests", "csrf_token": csrf_token_from(page)})
    assert client.get_cookie(name).value != before_switch

    in_flight = app.test_client()  # the requests the old page had already sent, answered late
    in_flight.set_cookie(name, before_switch)
    for path in ("/me/requests", "/assets/web/css/app.css", "/me/consent"):
        with in_flight.get(path, headers=GERMAN) as response:
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path  # nothing to overwrite the switch with
    assert _lang(_html(client.get("/me/requests", headers=GERMAN))) == "en"


def test_the_switcher_refuses_bad_input_and_needs_its_csrf_token(client, make_subject, login_subject):
    login_subject(client, make_subject(NO_LANGUAGE))
    token = csrf_token_from(_html(client.get("/me")))
    assert client.post("/me/language", data={"language": "de"}).status_code in (400, 403)  # no CSRF token
    assert client.post("/me/language", data={"language": "fr", "csrf_token": token}).status_code == 422
    for next_url in ("https://evil.example/", "//evil.example/me", "/me/../console", "/console"):
        response = client.post("/me/language", data={"language": "de", "next": next_url, "csrf_token": token})
        assert response.status_code == 303
        assert response.headers["Location"] == "/me", next_url


def test_the_profile_language_is_used_before_the_browser(app, client, make_subject, login_subject):
    login_subject(client, make_subject({**PROFILE, "language": "de-AT"}))
    html = _html(client.get("/me", headers={"Accept-Language": "en-GB,en"}))
    assert _lang(html) == "de"
    assert "Deutsch (Österreich)" in html  # the profile's own language by name, in German

    other = app.test_client()
    login_subject(other, make_subject(PROFILE))  # the profile says en
    assert _lang(_html(other.get("/me", headers=GERMAN))) == "en"


def test_staff_pages_and_the_api_stay_english(client):
    for path in ("/login",):
        assert _lang(_html(client.get(path, headers=GERMAN))) == "en"
    assert _lang(_html(client.get("/", headers=GERMAN))) == "de"  # the front page is for people


def test_every_current_notice_has_a_german_text_pinned_by_its_own_hash(app):
    from governance.consent.policy import load_catalog

    catalog = load_catalog(POLICIES / "purposes.yaml")
    for purpose in catalog:
        notice = purpose.current_notice
        assert "de" in notice.translations, purpose.key
        path = POLICIES / notice.translation_file("de")
        assert path.name == f"v{notice.version}.de.md"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == notice.translations["de"].sha256
        shown = catalog.notice_shown(purpose.key, notice.version, "de")
        assert shown.language == "de"
        assert shown.sha256 != notice.sha256
        assert "de" in purpose.translations, purpose.key


def test_an_edited_german_notice_stops_the_catalog_loading(tmp_path):
    import shutil

    from governance.consent.policy import PolicyError, load_catalog

    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    notice = copy / "notices" / "model_training" / "v2.de.md"
    notice.write_text(notice.read_text() + "\nEin Satz mehr.\n")
    with pytest.raises(PolicyError, match=r"model_training v2 \(de\)"):
        load_catalog(copy / "purposes.yaml")


def test_the_german_notice_is_shown_and_its_hash_recorded_in_the_evidence(app, client, make_subject, login_subject):
    from governance.consent import service as consent
    from governance.consent.policy import load_catalog

    catalog = load_catalog(POLICIES / "purposes.yaml")
    notice = catalog["model_training"].current_notice
    subject_id = make_subject(NO_LANGUAGE)
    login_subject(client, subject_id)

    html = _html(client.get(f"/me/consent/notices/model_training/v{notice.version}", headers=GERMAN))
    assert "Training unserer Modelle" in html
    assert "Differential Privacy fügt beim Training" in html
    assert notice.translations["de"].sha256 in html  # the fingerprint of the text shown
    assert notice.sha256 not in html
    old = _html(client.get("/me/consent/notices/model_training/v1", headers=GERMAN))
    assert 'lang="en"' in old  # no German text of v1: the English one, marked as English
    assert "With your permission" in old

    page = _html(client.get("/me/consent", headers=GERMAN))
    response = client.post(
        "/me/consent/model_training",
        data={
            "decision": "grant",
            "notice_version": str(notice.version),
            "notice_language": "de",
            "csrf_token": csrf_token_from(page),
        },
        headers=GERMAN,
    )
    assert response.status_code == 303
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            event = next(e for e in consent.history(session, subject_id) if e.purpose == "model_training")
            receipt = next(r for r in consent.receipts(session, subject_id) if r["record_id"] == str(event.id))
        finally:
            session.close()
    assert event.evidence["notice_language"] == "de"
    assert event.evidence["notice_text_sha256"] == notice.translations["de"].sha256
    assert receipt["receipt"]["notice"]["sha256"] == notice.sha256  # the receipt still names the version's hash

    html = _html(client.get(f"/me/consent/receipts/{event.id}/view", headers=GERMAN))
    assert "Einwilligungsquittung" in html
    assert "Training unserer Modelle" in html


def test_evidence_naming_a_text_the_policy_does_not_pin_is_refused(app, make_subject):
    from governance.access.principals import ActorRef
    from governance.consent import service as consent
    from governance.consent.errors import InvalidDecisionError

    subject_id = make_subject(NO_LANGUAGE)
    for evidence in (
        {"notice_language": "de", "notice_text_sha256": "0" * 64},
        {"notice_language": "fr", "notice_text_sha256": "0" * 64},
        {"notice_language": "de"},
    ):
        with app.test_request_context():
            session = app.extensions["governance.db"].session()
            try:
                with pytest.raises(InvalidDecisionError), session.begin():
                    consent.record_decisions(
                        session,
                        subject_id,
                        [{"purpose": "model_training", "decision": "granted"}],
                        method="dashboard",
                        actor=ActorRef("system", "i18n-test"),
                        jurisdiction="EU",
                        evidence=evidence,
                    )
            finally:
                session.close()


@pytest.mark.parametrize("path", ["/me", "/me/consent", "/me/requests", "/me/usage", "/me/access"])
def test_no_english_leftovers_on_the_main_german_pages(client, make_subject, login_subject, path):
    login_subject(client, make_subject({**PROFILE, "language": "de"}))
    text = _visible_text(_html(client.get(path)))
    left = [phrase for phrase in ENGLISH_LEFTOVERS if phrase in text]
    assert not left, f"{path}: {left}"


def test_the_german_front_page_and_expired_link_page(client):
    home = _html(client.get("/", headers=GERMAN))
    assert "Für Kundinnen und Kunden" in home
    assert "For customers" not in home
    expired = client.get("/dashboard/start/not-a-real-token", headers=GERMAN)
    assert expired.status_code == 410
    assert "Dieser Link ist abgelaufen" in expired.get_data(as_text=True)


def test_dates_and_numbers_follow_the_language(app):
    import datetime as dt

    moment = dt.datetime(2026, 12, 2, 14, 30, tzinfo=dt.UTC)
    with app.test_request_context("/me", headers=GERMAN):
        assert i18n.format_when(moment) == "2. Dez. 2026, 14:30"
        assert i18n.format_long_day(moment) == "2. Dezember 2026"
        assert i18n.format_month(moment) == "Dezember 2026"
        assert i18n.format_number(12345) == "12.345"
        assert i18n.territory_name("DE") == "Deutschland"
        assert i18n.language_name("en") == "Englisch"
    with app.test_request_context("/me"):
        assert i18n.format_when(moment) == "2 Dec 2026, 14:30"
        assert i18n.format_long_day(moment) == "2 December 2026"
        assert i18n.format_number(12345) == "12,345"
    with app.test_request_context("/console", headers=GERMAN):
        assert i18n.format_when(moment) == "2 Dec 2026, 14:30"  # staff pages stay English
