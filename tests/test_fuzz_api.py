"""Fuzzing the JSON API with schemathesis, from the OpenAPI document the service publishes (issue 18).

Every operation of `/api/openapi.json` (new routes are covered without touching this file) is called with
generated requests, valid and invalid, in-process through WSGI, as three callers: a bearer client holding every
scope (registered for every purpose), a data subject's dashboard session and a DPO's staff session (cookie plus
CSRF token). Then a stateful phase chains operations through the links schemathesis infers from the document
(an id a POST returns is used by the GETs and POSTs on it). A run fails on any 5xx, any status the document
does not list for the operation, any body or header that does not match the documented schema or media type.

Bounded and reproducible: `derandomize=True` (the examples are a function of the test), and the example counts
come from `GOVERNANCE_FUZZ_EXAMPLES` (per operation and generation mode, default 5) and `GOVERNANCE_FUZZ_STATEFUL`
(scenarios per caller, default 10). Raise them locally for a deeper run; CI keeps the defaults.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import truncate_all
from tests.fuzz_callers import Callers

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("GOVERNANCE_FUZZ_EXAMPLES", "5"))
STATEFUL_SCENARIOS = int(os.environ.get("GOVERNANCE_FUZZ_STATEFUL", "10"))
TIMINGS_FILE = os.environ.get("GOVERNANCE_FUZZ_TIMINGS", "")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CALLERS = ("client", "subject", "dpo")
FUZZ_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": list(HealthCheck),
    "phases": [Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found, quickly
}


@pytest.fixture(scope="module")
def callers(base_app: Flask) -> Iterator[Callers]:
    truncate_all(base_app.extensions["governance.db"].engine)
    yield Callers(base_app)
    truncate_all(base_app.extensions["governance.db"].engine)


@pytest.fixture(scope="module")
def api_schema(base_app: Flask, callers: Callers) -> Any:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", base_app)


def _failure(exc: BaseException, caller: str, case: Any) -> str:
    """One line per failure: which check, on what, for whom (the full report is in the exception)."""
    titles = sorted({getattr(f, "title", type(f).__name__) for f in getattr(exc, "exceptions", [exc])})
    return f"{case.operation.label} as {caller}: {'; '.join(titles)} ({type(exc).__name__})"


def _fuzz_operation(operation: Any, mode: GenerationMode, callers: Callers, failures: list[str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, **FUZZ_SETTINGS)
    def run(case: Any) -> None:
        for caller in CALLERS:
            try:
                case.call_and_validate(checks=CHECKS, **callers.call_kwargs(caller))
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(_failure(exc, caller, case))
                details.setdefault(failures[-1], str(exc)[:3000])

    details: dict[str, str] = {}
    try:
        run()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to make invalid (no parameters)
    _DETAILS.update(details)


_DETAILS: dict[str, str] = {}


def test_stateless(api_schema: Any, callers: Callers) -> None:
    """Every operation, valid and invalid requests, each sent by every caller (one generation, three points of
    view). Failures are collected across operations and reported together, the first example of each in full."""
    failures: list[str] = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 50, "the document lost its operations"
    timings: dict[str, float] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            started = time.perf_counter()
            _fuzz_operation(operation, mode, callers, failures)
            timings[f"{operation.label} ({mode.value})"] = round(time.perf_counter() - started, 3)
    if TIMINGS_FILE:  # where the time goes, slowest first (to keep the CI step bounded)
        ranked = dict(sorted(timings.items(), key=lambda item: -item[1]))
        Path(TIMINGS_FILE).write_text(json.dumps({"total_s": round(sum(timings.values()), 1), **ranked}, indent=1))
    unique = sorted(set(failures))
    report = "\n".join(f"- {line}\n    {_DETAILS.get(line, '')[:1500]}" for line in unique[:40])
    assert not unique, f"{len(unique)} distinct failures ({len(failures)} in all):\n{report}"


@pytest.mark.parametrize("caller", CALLERS)
def test_stateful(api_schema: Any, caller: str, callers: Callers) -> None:
    machine = api_schema.as_state_machine()

    class Scenario(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return callers.call_kwargs(caller)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    run_state_machine_as_test(
        Scenario,
        settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=8, **FUZZ_SETTINGS),
    )
