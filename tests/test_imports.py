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
