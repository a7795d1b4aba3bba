"""Regenerate the Python client's low-level layer from the service's OpenAPI document.

Builds the app on a throw-away SQLite database, takes `/api/openapi.json`, keeps the operations a service
(client credentials) or anyone may call — session-only staff and dashboard routes are left out — and the
schemas they use, writes that document to `clients/python/openapi.json` and runs openapi-python-client (pinned
in `clients/python/codegen/requirements.txt`, installed in its own venv by `make codegen`) into
`clients/python/governance_client/_generated/`.

    python scripts/generate_client.py           # regenerate after changing a route or a model
    python scripts/generate_client.py --check   # exit 1 if the committed code or document differ (what CI runs)

`tests/client/test_generated_code.py` runs the same check, so the generated code cannot drift from the service.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CLIENT_DIR = ROOT / "clients" / "python"
DOCUMENT = CLIENT_DIR / "openapi.json"
GENERATED = CLIENT_DIR / "governance_client" / "_generated"
CONFIG = CLIENT_DIR / "codegen" / "config.yaml"


def _codegen_venv() -> Path:
    """GOVERNANCE_CODEGEN_VENV, else `.venv-codegen` here, else the one beside the (possibly linked) `.venv`."""
    if os.environ.get("GOVERNANCE_CODEGEN_VENV"):
        return Path(os.environ["GOVERNANCE_CODEGEN_VENV"])
    here = ROOT / ".venv-codegen"
    beside = (ROOT / ".venv").resolve().parent / ".venv-codegen"
    return here if here.exists() or not beside.exists() else beside


CODEGEN_VENV = _codegen_venv()
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def service_document() -> dict[str, Any]:
    """The OpenAPI document `create_app` serves, from an app on a throw-away database."""
    sys.path.insert(0, str(ROOT))
    from governance import create_app

    logging.disable(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = {
                "ENV": "test",
                "DATABASE_URL": f"sqlite:///{folder}/openapi.sqlite3",
                "INSTANCE_PATH": folder,
                "LOG_LEVEL": "ERROR",
            }
            app = create_app(config)
            try:
                response = app.test_client().get("/api/openapi.json")
                assert response.status_code == 200, response.status_code
                return response.get_json()
            finally:
                app.extensions["governance.db"].dispose()
    finally:
        logging.disable(logging.NOTSET)


def _callable_by_a_service(operation: dict[str, Any]) -> bool:
    """Public (`security: []`), or open to a bearer token or the OAuth endpoints' client authentication."""
    security = operation.get("security")
    if security is None or security == []:
        return True
    return any(("oauth2" in requirement or "client_basic" in requirement) for requirement in security)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            yield ref.rsplit("/", 1)[1]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def client_document(document: dict[str, Any]) -> dict[str, Any]:
    """The part of the document the client library is generated from: service-callable operations and the
    component schemas they reach (transitively)."""
    paths: dict[str, Any] = {}
    for path, item in document.get("paths", {}).items():
        kept = {m: op for m, op in item.items() if m in HTTP_METHODS and _callable_by_a_service(op)}
        if kept:
            paths[path] = {**{k: v for k, v in item.items() if k not in HTTP_METHODS}, **kept}
    schemas = document.get("components", {}).get("schemas", {})
    needed: set[str] = set()
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name in needed or name not in schemas:
            continue
        needed.add(name)
        pending.extend(_refs(schemas[name]))
    components = {k: v for k, v in document.get("components", {}).items() if k != "schemas"}
    components["schemas"] = {name: schemas[name] for name in sorted(needed)}
    return {**{k: v for k, v in document.items() if k not in ("paths", "components")}, "paths": paths} | {
        "components": components
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generator() -> Path:
    executable = CODEGEN_VENV / "bin" / "openapi-python-client"
    if not executable.exists():
        raise SystemExit(
            f"openapi-python-client is not installed in {CODEGEN_VENV}: run `make codegen` "
            "(or set GOVERNANCE_CODEGEN_VENV to a venv made from clients/python/codegen/requirements.txt)"
        )
    return executable


def generate(document_text: str, into: Path) -> Path:
    """Run the pinned generator on `document_text`; returns the generated package folder under `into`."""
    source = into / "openapi.json"
    source.write_text(document_text, encoding="utf-8")
    out = into / "out"
    env = {**os.environ, "PATH": f"{CODEGEN_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = [str(generator()), "generate", "--path", str(source), "--config", str(CONFIG), "--meta", "none"]
    result = subprocess.run(  # noqa: S603 - our own pinned generator, fixed arguments
        [*command, "--output-path", str(out)], cwd=into, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"openapi-python-client failed:\n{result.stdout}\n{result.stderr}")
    return out


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def differences(expected: Path, actual: Path) -> list[str]:
    """Relative paths that differ between two trees (missing on either side, or other content)."""
    left, right = _files(expected), _files(actual)
    changed = sorted(left ^ right)
    for name in sorted(left & right):
        if not filecmp.cmp(expected / name, actual / name, shallow=False):
            changed.append(name)
    return changed


def check() -> list[str]:
    """What is out of date: the committed document and every generated file that differs."""
    text = render(client_document(service_document()))
    problems = [] if DOCUMENT.exists() and DOCUMENT.read_text(encoding="utf-8") == text else [str(DOCUMENT)]
    with tempfile.TemporaryDirectory() as folder:
        fresh = generate(text, Path(folder))
        problems += [str(GENERATED / name) for name in differences(fresh, GENERATED)]
    return problems


def write() -> None:
    text = render(client_document(service_document()))
    with tempfile.TemporaryDirectory() as folder:
        fresh = generate(text, Path(folder))
        shutil.rmtree(GENERATED, ignore_errors=True)
        shutil.copytree(fresh, GENERATED, ignore=shutil.ignore_patterns("__pycache__", ".ruff_cache"))
    DOCUMENT.write_text(text, encoding="utf-8")
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {GENERATED.relative_to(ROOT)}/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when anything is out of date")
    args = parser.parse_args()
    if not args.check:
        write()
        return
    problems = check()
    if problems:
        print("out of date (run `python scripts/generate_client.py`):", *problems, sep="\n  ")
        raise SystemExit(1)
    print("the generated client matches the service's OpenAPI document")


if __name__ == "__main__":
    main()
