"""The client's generated low-level layer cannot drift from the service: the committed document is the one
`create_app` serves now (restricted to what a service may call), and running the pinned generator on it gives
exactly the committed code. After changing a route or a model: `python scripts/generate_client.py`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINT = "out of date: run `python scripts/generate_client.py` (needs `make codegen`) and commit the result"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("generate_client", ROOT / "scripts" / "generate_client.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_client", module)
    spec.loader.exec_module(module)
    return module


def test_the_committed_document_is_the_services_current_one(generator) -> None:
    current = generator.render(generator.client_document(generator.service_document()))
    assert generator.DOCUMENT.read_text(encoding="utf-8") == current, HINT


def test_the_document_holds_only_what_a_service_may_call(generator) -> None:
    document = generator.client_document(generator.service_document())
    operations = [op for item in document["paths"].values() for m, op in item.items() if m in generator.HTTP_METHODS]
    assert "/api/v1/consents/check" in document["paths"]
    assert "/oauth/token" in document["paths"]
    assert "/api/v1/access/staff" not in document["paths"]  # staff sessions only
    for operation in operations:
        security = operation.get("security") or []
        assert security == [] or any("oauth2" in s or "client_basic" in s for s in security)


@pytest.mark.slow
def test_the_committed_code_is_what_the_pinned_generator_makes(generator) -> None:
    if not (generator.CODEGEN_VENV / "bin" / "openapi-python-client").exists():
        pytest.fail(f"the generator venv {generator.CODEGEN_VENV} is missing: run `make codegen`")
    assert generator.check() == [], HINT
