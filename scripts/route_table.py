"""Print the route table of docs/access.md ("Every route") for the app as it is now.

Use it after adding or changing a route: `python scripts/route_table.py` and paste the table into docs/access.md
(tests/access/test_route_matrix.py fails until the page and the app agree). Runs on a throw-away SQLite database.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from governance import create_app
from governance.access.routetable import render, route_rows
from governance.migrations_support import upgrade


def main() -> None:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/routes.sqlite3"
        upgrade(url)
        app = create_app({"ENV": "test", "DATABASE_URL": url, "INSTANCE_PATH": folder, "LOG_LEVEL": "ERROR"})
        print(render(route_rows(app)))
        app.extensions["governance.db"].dispose()


if __name__ == "__main__":
    main()
