"""A minimal app with only the web domain's layout, for tests of base.html and the security headers that must
not depend on the other domains."""

from __future__ import annotations

from flask import Flask, render_template_string

from governance.composition import register_web
from governance.settings import PROJECT_ROOT

SAMPLE = """{% extends "base.html" %}
{% block title %}Layout sample{% endblock %}
{% block header_nav %}<nav class="site-nav" aria-label="Main"><ul>
<li><a href="#" aria-current="page">Home</a></li>
<li><a href="#">Other</a></li></ul></nav>{% endblock %}
{% block content %}
<h1>Layout sample</h1>
<div class="card"><h2>A purpose</h2>
<form method="post" data-autosubmit><input type="hidden" name="csrf_token" value="x">
<label class="switch"><input type="checkbox" role="switch" name="on" checked> Allowed</label>
<button type="submit" data-autosubmit-button>Save</button></form></div>
<div class="field"><label for="q">Search</label><input id="q" type="search" name="q"></div>
<div class="records-wrap"><table class="records"><caption>Rows</caption><thead>
<tr><th scope="col">A</th><th scope="col">B</th></tr>
</thead><tbody><tr class="is-overdue"><td data-label="A">1</td><td data-label="B">overdue</td></tr></tbody>
</table></div>
<span class="badge badge--bad">failed</span> <span class="badge badge--ok">ok</span>
<div class="alarm" role="alert"><h2>Alarm</h2><p>Verification failed.</p></div>
{% endblock %}"""


def make_layout_app(env: str = "test") -> Flask:
    app = Flask(__name__, template_folder=str(PROJECT_ROOT / "templates"))
    app.config.update(SECRET_KEY="layout-test-only", GOVERNANCE_ENV=env, TESTING=True)
    register_web(app)

    @app.get("/sample")
    def sample() -> str:
        return render_template_string(SAMPLE)

    return app
