"""A web worker stays small: creating the app must not import the heavy numerical libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["torch", "opacus", "sklearn", "diffprivlib", "pandas", "pyarrow", "scipy", "opendp", "polars", "jax", "mbi"]


def test_creating_the_app_imports_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import sys, json\n"
        "from governance import create_app\n"
        f"create_app({{'ENV': 'test', 'INSTANCE_PATH': {str(tmp_path)!r}, 'LOG_LEVEL': 'ERROR'}})\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parent.parent,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_creating_the_app_computes_no_password_hash(tmp_path: Path) -> None:
    """The Argon2id dummy hash (for unknown accounts) is made on first sign-in, not by every starting worker;
    and verifying against it still answers False."""
    code = (
        "from governance import create_app\n"
        "from governance.access import credentials\n"
        f"create_app({{'ENV': 'development', 'INSTANCE_PATH': {str(tmp_path)!r}, 'LOG_LEVEL': 'ERROR'}})\n"
        "print(credentials._DUMMY_HASH is None)\n"
        "print(credentials.verify_password(None, 'correct horse battery'), credentials._DUMMY_HASH is None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    )
    assert out.stdout.split() == ["True", "False", "False"]
