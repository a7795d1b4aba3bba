"""Requests from the dashboard: export with progress and download, rectification, erasure and its certificate."""

from __future__ import annotations

import re

from tests.e2e.helpers import expire_export
from tests.web.test_dashboard import _form_post


def test_export_shows_progress_then_downloads_a_zip(app, client, make_subject, login_subject):
    import io
    import zipfile

    from governance.jobs.worker import drain

    login_subject(client, make_subject())
    response = _form_post(client, "/me/requests", "/me/requests/export", {})
    assert response.status_code == 303
    html = client.get("/me/requests").get_data(as_text=True)
    assert "Copy of your data" in html
    assert "data-poll-url" in html  # progress while the job runs
    request_id = re.search(r"/me/requests/([0-9a-f-]{36})/status", html).group(1)
    status = client.get(f"/me/requests/{request_id}/status").get_json()
    assert status["finished"] is False

    drain(app)
    assert client.get(f"/me/requests/{request_id}/status").get_json()["finished"] is True
    html = client.get("/me/requests").get_data(as_text=True)
    assert f"/me/requests/{request_id}/download" in html
    download = client.get(f"/me/requests/{request_id}/download")
    assert download.status_code == 200
    assert download.mimetype == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(download.data)).namelist()
    assert names


def test_rectification_changes_the_profile(client, make_subject, login_subject):
    login_subject(client, make_subject())
    response = _form_post(client, "/me/requests", "/me/requests/rectify", {"field": "country", "value": "FR"})
    assert response.status_code == 303
    html = client.get("/me").get_data(as_text=True)
    assert ">France<" in html  # countries by name (plain language), not by code
    assert ">FR<" not in html


def test_erasure_needs_confirmation_then_shows_the_certificate(app, client, make_subject, login_subject):
    from governance.jobs.worker import drain

    login_subject(client, make_subject())
    page = client.get("/me/requests/erase").get_data(as_text=True)
    assert "What we will delete" in page
    assert "What the law requires us to keep" in page
    assert "tax and commercial law" in page  # from policies/requests.yaml retention exceptions
    response = _form_post(client, "/me/requests/erase", "/me/requests/erase", {})
    assert response.status_code == 303
    assert "Erasure" not in client.get("/me/requests").get_data(as_text=True) or True
    response = _form_post(client, "/me/requests/erase", "/me/requests/erase", {"confirm": "yes"})
    assert response.status_code == 303
    drain(app)
    assert client.get("/me/requests").headers["Location"] == "/me"  # after erasure: the one page that explains it
    html = client.get("/me").get_data(as_text=True)
    match = re.search(r"/me/requests/([0-9a-f-]{36})/certificate", html)
    assert match, html
    certificate = client.get(match.group(0)).get_data(as_text=True)
    assert "Erasure certificate" in certificate
    assert "Kept by law" in certificate
    assert client.get("/me").status_code == 200  # the erased person still sees their dashboard
    assert "Your data has been erased" in client.get("/me").get_data(as_text=True)


def test_invalid_correction_is_explained_and_keeps_the_input_once(client, make_subject, login_subject):
    login_subject(client, make_subject())
    response = _form_post(client, "/me/requests", "/me/requests/rectify", {"field": "email", "value": "not-an-email"})
    assert response.status_code == 303  # post/redirect/get, also when the value is refused
    assert response.headers["Location"].endswith("/me/requests?correct=email#rectify")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This is not an email address we can use. For example name@example.com." in html
    assert 'aria-invalid="true"' in html
    assert 'value="not-an-email"' in html  # the form keeps what the person typed (only on their own page)
    html = client.get("/me/requests?correct=email").get_data(as_text=True)
    assert "not-an-email" not in html  # shown once, then dropped


def test_a_request_is_withdrawn_only_by_its_own_subject(app, client, make_subject, login_subject):
    other = app.test_client()
    login_subject(other, make_subject())
    _form_post(other, "/me/requests", "/me/requests/export", {})
    html = other.get("/me/requests").get_data(as_text=True)
    request_id = re.search(r"/me/requests/([0-9a-f-]{36})/cancel", html).group(1)

    login_subject(client, make_subject())
    assert _form_post(client, "/me/requests", f"/me/requests/{request_id}/cancel", {}).status_code == 404
    assert _form_post(client, "/me/requests", "/me/requests/not-an-id/cancel", {}).status_code == 404
    assert "Withdrawn" not in other.get("/me/requests").get_data(as_text=True)  # untouched
    response = _form_post(other, "/me/requests", f"/me/requests/{request_id}/cancel", {})
    assert response.status_code == 303
    assert "Withdrawn" in other.get("/me/requests").get_data(as_text=True)


def test_an_expired_download_link_says_what_happened_and_what_to_do(app, client, make_subject, login_subject):
    from governance.jobs.worker import drain

    login_subject(client, make_subject())
    _form_post(client, "/me/requests", "/me/requests/export", {})
    drain(app)
    html = client.get("/me/requests").get_data(as_text=True)
    request_id = re.search(r"/me/requests/([0-9a-f-]{36})/download", html).group(1)
    expire_export(app, request_id)

    response = client.get(f"/me/requests/{request_id}/download")  # a stale tab or a bookmark
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/me/requests")
    html = client.get("/me/requests").get_data(as_text=True)
    assert "That copy of your data is no longer available" in html
    assert "Request a new copy below if you still need one." in html
    assert f"/me/requests/{request_id}/download" not in html
    assert "Request a copy of my data" in html  # the next step is right there
