import re

from tests.web.layout_app import make_layout_app


def _csp(response) -> dict[str, str]:
    parts = [p.strip() for p in response.headers["Content-Security-Policy"].split(";")]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] for p in parts}


def test_csp_has_a_fresh_nonce_per_request_and_no_unsafe_inline():
    client = make_layout_app().test_client()
    first, second = client.get("/sample"), client.get("/sample")
    csp1, csp2 = _csp(first), _csp(second)
    assert "'unsafe-inline'" not in first.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in first.headers["Content-Security-Policy"]
    nonce1 = re.search(r"'nonce-([^']+)'", csp1["script-src"]).group(1)
    nonce2 = re.search(r"'nonce-([^']+)'", csp2["script-src"]).group(1)
    assert nonce1 != nonce2
    assert len(nonce1) >= 22
    # the page's script tags carry the same nonce as the header
    assert f'nonce="{nonce1}"' in first.get_data(as_text=True)
    assert csp1["frame-ancestors"] == "'none'"
    assert csp1["object-src"] == "'none'"
    assert csp1["base-uri"] == "'none'"


def test_security_headers_present():
    response = make_layout_app().test_client().get("/sample")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_hsts_in_development():
    response = make_layout_app(env="development").test_client().get("/sample")
    assert "Strict-Transport-Security" not in response.headers
    assert "Content-Security-Policy" in response.headers


def test_static_assets_are_served_and_cacheable():
    client = make_layout_app().test_client()
    response = client.get("/assets/web/css/app.css")
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"
    response.close()
    page = client.get("/sample").get_data(as_text=True)
    assert "/assets/web/js/app.js" in page
    assert "<style" not in page
    # no inline scripts: every script tag loads a file
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", page))


def test_real_pages_carry_the_headers_and_matching_nonces(client, make_subject, login_subject):
    login_subject(client, make_subject())
    for path in ("/", "/me", "/me/consent", "/login"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = _csp(response)
        nonce = re.search(r"'nonce-([^']+)'", csp["script-src"]).group(1)
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts, path
        assert all(f'nonce="{nonce}"' in tag and "src=" in tag for tag in scripts), path
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" in response.headers  # the test environment is not development


def test_a_response_that_rendered_no_nonce_gets_the_same_policy_without_one(client):
    page, body = client.get("/login"), client.get("/healthz")
    page_policy, body_policy = _csp(page), _csp(body)
    assert body_policy["script-src"] == "'self'"  # no nonce: no inline script of any kind may run
    assert re.fullmatch(r"'self' 'nonce-[^']+'", page_policy["script-src"])
    assert {k: v for k, v in page_policy.items() if k != "script-src"} == {
        k: v for k, v in body_policy.items() if k != "script-src"
    }
    for name in ("X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy", "Cache-Control"):
        assert body.headers[name] == page.headers[name], name


def test_a_header_the_view_set_is_kept_but_the_policy_is_always_ours():
    from flask import Response

    from governance.web.security import apply_security_headers

    app = make_layout_app()
    with app.test_request_context("/sample"):
        response = Response("x", headers={"Cache-Control": "private, max-age=60", "X-Frame-Options": "SAMEORIGIN"})
        response.headers["Content-Security-Policy"] = "script-src *"
        apply_security_headers(response)
    assert response.headers["Cache-Control"] == "private, max-age=60"
    assert response.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert response.headers.getlist("Content-Security-Policy") != ["script-src *"]
    assert len(response.headers.getlist("Content-Security-Policy")) == 1
