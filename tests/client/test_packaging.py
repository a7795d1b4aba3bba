"""The client is a package of its own that pip builds: the wheel holds the hand-written modules, the generated
layer and the typing marker, and declares its extras, with nothing of the service in it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"


@pytest.mark.slow
def test_pip_builds_a_wheel_with_the_generated_layer_and_extras(tmp_path) -> None:
    source = tmp_path / "source"  # a copy: setuptools writes build/ and *.egg-info next to the sources
    shutil.copytree(CLIENT, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    wheels = tmp_path / "wheels"
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    build = subprocess.run(
        [*command, "-w", str(wheels), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("governance_client-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = next(archive.read(n).decode() for n in names if n.endswith("METADATA"))
    for module in ("client", "auth", "retry", "errors", "resources", "releases", "pagination", "py.typed"):
        suffix = "" if module == "py.typed" else ".py"
        assert f"governance_client/{module}{suffix}" in names
    assert "governance_client/_generated/client.py" in names
    assert "governance_client/_generated/api/consent/consent_api_check_consents_check_get.py" in names
    assert not any(n.startswith("governance/") for n in names)
    assert "Name: governance-client" in metadata
    for extra in ("arrow", "pandas", "torch", "all"):
        assert f"Provides-Extra: {extra}" in metadata
