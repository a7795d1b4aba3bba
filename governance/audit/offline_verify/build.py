"""Build the offline verifier auditors run: ``python -m governance.audit.offline_verify.build [OUT.pyz]``.

The result is one file, a zipapp (PEP 441, what ``python -m zipapp`` makes): this package as top-level
``offline_verify`` plus a ``__main__.py``, run with ``python offline_verify.pyz EXPORT.jsonl --public-key KEY.pem``
on any machine with Python 3.11+ and ``cryptography``. The build is reproducible (sorted names, fixed
timestamps and modes), so the operator can publish the SHA-256 it prints and an auditor can rebuild from the
same source to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from pathlib import Path

SOURCE = Path(__file__).parent
SHEBANG = b"#!/usr/bin/env python3\n"
_MAIN = b"import sys\n\nfrom offline_verify.cli import main\n\nsys.exit(main())\n"
_NOT_SHIPPED = {"build.py", "__main__.py"}  # the build itself, and the in-repository entry point
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build(target: Path) -> str:
    """Write the zipapp to `target`; returns its SHA-256 (hex)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        handle.write(SHEBANG)
        with zipfile.ZipFile(handle, "w") as archive:
            _add(archive, "__main__.py", _MAIN)
            for path in sorted(SOURCE.glob("*.py")):
                if path.name not in _NOT_SHIPPED:
                    _add(archive, f"offline_verify/{path.name}", path.read_bytes())
    target.chmod(0o755)
    return hashlib.sha256(target.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the offline audit verifier (a zipapp) for auditors.")
    parser.add_argument("output", nargs="?", default="offline_verify.pyz", help="where to write it")
    args = parser.parse_args(argv)
    digest = build(Path(args.output))
    print(f"wrote {args.output} (sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
