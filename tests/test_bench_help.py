"""Every bench script answers `--help` with its usage and returns at once: no population, no database, no files.

Each runs in its own interpreter with an empty working directory and an empty temporary directory (where the
bench populations live), so a script that starts work for `--help` either times out or leaves something behind.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
# a script has a `__main__` block; shared helpers (`_http.py`, `*_common.py`, ...) are imported by the scripts
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if 'if __name__ == "__main__":' in p.read_text())


def test_the_bench_folder_has_scripts() -> None:
    assert len(SCRIPTS) >= 20


def test_every_file_without_a_main_block_is_a_helper_the_scripts_import() -> None:
    """A script that forgot its `__main__` block would escape the --help check below: every other file must be a
    helper some script imports."""
    sources = "\n".join(p.read_text() for p in SCRIPTS)
    helpers = sorted(p for p in BENCH.glob("*.py") if p not in SCRIPTS)
    assert [p.name for p in helpers if not re.search(rf"\b(import|from) (bench\.)?{p.stem}\b", sources)] == []


def _tree(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_prints_usage_and_starts_no_work(script: Path, tmp_path: Path) -> None:
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    bench_before = _tree(BENCH)
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONDONTWRITEBYTECODE": "1"}
    # generous: a busy 2-core machine; the populations these scripts build take minutes to hours
    out = subprocess.run(
        [sys.executable, str(script), "--help"], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("usage:"), out.stdout[:500]
    assert "--help" in out.stdout
    # the description (the module docstring) names the figure and its sizes
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc
    assert doc.splitlines()[0] in out.stdout
    assert re.search(r"\d", out.stdout.split("options:")[0])
    assert _tree(cwd) == []
    assert _tree(tmp) == []
    assert _tree(BENCH) == bench_before
