"""``python -m governance.audit.offline_verify …`` (inside the repository or an installed service)."""

import sys

from .cli import main

sys.exit(main())
