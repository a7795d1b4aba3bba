"""Personal data sent anywhere in a request never comes back in an error body, nor reaches a log line, an audit
entry or a metric (issue 18).

Driven by the OpenAPI document, so a new route is covered without touching this file: for every operation, each
canary shape (an email, a phone number, a person's name) is put into every path, query and header parameter and
every string of a body built from the operation's schema (nested objects, arrays, map keys), and sent as each
caller (bearer client, data subject, DPO). The service may keep what it legitimately stores (a profile email is
stored, encrypted, and shown back to whoever may read it), so success bodies are not searched; every error body,
every log record the service writes (with its structured fields), every audit row and `/metrics` are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import text

from tests.conftest import truncate_all
from tests.fuzz_callers import CALLERS, Callers

pytestmark = pytest.mark.slow

CANARIES = {
    "email": "zeb.canarywick.7731@example.org",
    "phone": "+447911123731",
    "name": "Zebediah Canarywick",
}
# What would betray each canary even in part or transformed (lower-cased, URL-encoded, digits only).
NEEDLES = ["canarywick", "7911123731", "7731@example", "7731%40example"]
METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 6


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.dumps(record.__dict__, default=str))


@pytest.fixture(scope="module")
def callers(base_app: Flask) -> Iterator[Callers]:
    truncate_all(base_app.extensions["governance.db"].engine)
    yield Callers(base_app)
    truncate_all(base_app.extensions["governance.db"].engine)


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    capture = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(capture)
    yield capture
    root.removeHandler(capture)
    root.setLevel(previous)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _fill(document: dict[str, Any], schema: dict[str, Any], canary: str, depth: int = 0) -> Any:
    """A value of `schema` whose every string (and every free-form key) is the canary."""
    schema = _resolve(document, schema)
    if depth > MAX_DEPTH:
        return canary
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(combinator, []) if _resolve(document, o).get("type") != "null"]
        if options:
            return _fill(document, options[0], canary, depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        value = {name: _fill(document, sub, canary, depth + 1) for name, sub in schema.get("properties", {}).items()}
        if schema.get("additionalProperties") not in (None, False) or not schema.get("properties"):
            extra = schema.get("additionalProperties")
            value[canary] = _fill(document, extra if isinstance(extra, dict) else {}, canary, depth + 1)
        return value
    if kind == "array":
        return [_fill(document, schema.get("items", {}), canary, depth + 1)]
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    return canary  # strings, enums, formats (uuid, date-time...): the canary goes where text goes


def _requests(document: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS or not (operation.get("parameters") or operation.get("requestBody")):
                continue  # nothing to carry a canary (the probes)
            for canary in CANARIES.values():
                url = path
                query: dict[str, str] = {}
                headers: dict[str, str] = {}
                for parameter in operation.get("parameters", []):
                    where, name = parameter["in"], parameter["name"]
                    if where == "path":
                        url = url.replace("{" + name + "}", quote(canary, safe=""))
                    elif where == "query":
                        query[name] = canary
                    elif where == "header":
                        headers[name] = canary.encode("ascii", "replace").decode()
                kwargs: dict[str, Any] = {"query_string": query, "headers": headers}
                content = (operation.get("requestBody") or {}).get("content", {})
                if "application/json" in content:
                    kwargs["json"] = _fill(document, content["application/json"]["schema"], canary)
                elif "application/x-www-form-urlencoded" in content:
                    form = _fill(document, content["application/x-www-form-urlencoded"]["schema"], canary)
                    kwargs["data"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in form.items()}
                yield method.upper(), path, url, kwargs


def _leaks(blob: str) -> list[str]:
    lowered = blob.lower()
    return [needle for needle in NEEDLES if needle in lowered]


def test_canaries_in_every_field_leak_nowhere(base_app: Flask, callers: Callers, captured_logs: _Capture) -> None:
    document = base_app.test_client().get("/api/openapi.json").get_json()
    requests = list(_requests(document))
    assert len(requests) > 140, "the document lost its operations"
    leaks: list[str] = []
    for caller in CALLERS:
        for method, template, url, kwargs in requests:
            call = callers.call_kwargs(caller)
            client = call["session"]
            for name, value in call["cookies"].items():
                if value:
                    client.set_cookie(name, value, domain="localhost")
            headers = {**call["headers"], **kwargs["headers"]}
            body = {k: v for k, v in kwargs.items() if k != "headers"}
            response = client.open(url, method=method, headers=headers, **body)
            if response.status_code >= 500:
                leaks.append(f"{method} {template} as {caller}: {response.status_code}")
            if response.status_code >= 400:
                found = _leaks(response.get_data(as_text=True) + json.dumps(dict(response.headers)))
                if found:
                    leaks.append(f"error body of {method} {url.split('?')[0]} as {caller}: {found}")
    log_leaks = [line[:300] for line in captured_logs.lines if _leaks(line)]
    with base_app.app_context():
        engine = base_app.extensions["governance.db"].engine
        with engine.connect() as conn:
            rows = list(conn.execute(text("SELECT * FROM audit_entries")))
    assert rows, "nothing was audited"
    audit_leaks = []
    for row in rows:
        if _leaks(repr(tuple(row))):
            audit_leaks.append(repr(tuple(row))[:300])
    metrics = base_app.test_client().get("/metrics").get_data(as_text=True)
    assert metrics.strip(), "no metrics"
    problems = leaks + [f"log: {line}" for line in log_leaks[:10]] + [f"audit: {row}" for row in audit_leaks[:10]]
    if _leaks(metrics):
        problems.append("metrics: " + ", ".join(_leaks(metrics)))
    assert problems == [], f"{len(problems)} leaks:\n" + "\n".join(sorted(set(problems)))
