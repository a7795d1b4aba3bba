#!/usr/bin/env bash
# The whole test suite, twice: on SQLite, then on PostgreSQL (a fresh database per test session).
# Without a reachable PostgreSQL the second half is skipped and says so; with CI=true or
# GOVERNANCE_REQUIRE_POSTGRES=1 an unreachable PostgreSQL fails the run instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PG_URL="${GOVERNANCE_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
# pytest-xdist workers (GOVERNANCE_TEST_WORKERS=2 for both cores; 0, the default for now, runs in this process).
# Each worker has its own SQLite file or PostgreSQL database (tests/conftest.py), browser and app.
WORKERS="${GOVERNANCE_TEST_WORKERS:-0}"
ARGS=(-n "$WORKERS")
# Coverage of governance/ over both halves (GOVERNANCE_COVERAGE=1, as .ci/run sets): the figure is printed at
# the end and the run fails below the floor in pyproject.toml ([tool.coverage.report] fail_under).
COVERAGE="${GOVERNANCE_COVERAGE:-0}"
if [[ "$COVERAGE" == "1" ]]; then
  rm -f .coverage .coverage.*
  # Each half alone covers less than both: pytest-cov's own floor is off, `coverage report` below applies it.
  ARGS+=(--cov=governance --cov-report= --cov-append --cov-fail-under=0)
fi

status=0
echo "== governance tests on SQLite"
env -u GOVERNANCE_TEST_DATABASE_URL "$PY" -m pytest "${ARGS[@]}" "$@" || status=$?

echo "== governance tests on PostgreSQL ($PG_URL)"
if "$PY" - "$PG_URL" <<'PYEOF'
import sys, sqlalchemy as sa
try:
    engine = sa.create_engine(sys.argv[1], connect_args={"connect_timeout": 5})
    with engine.connect():
        pass
except Exception as exc:
    print(f"PostgreSQL unreachable: {type(exc).__name__}", file=sys.stderr)
    sys.exit(1)
PYEOF
then
  GOVERNANCE_TEST_DATABASE_URL="$PG_URL" "$PY" -m pytest "${ARGS[@]}" "$@" || status=$?
else
  if [[ "${CI:-}" == "true" || "${GOVERNANCE_REQUIRE_POSTGRES:-0}" == "1" ]]; then
    echo "FAILED: PostgreSQL is required here but cannot be reached at $PG_URL" >&2
    exit 1
  fi
  echo "!! PostgreSQL half SKIPPED: cannot reach $PG_URL (set GOVERNANCE_TEST_POSTGRES_URL)" >&2
fi
if [[ "$COVERAGE" == "1" ]]; then
  echo "== coverage of governance/ (both halves)"
  .venv/bin/coverage report || status=$?
fi
if [[ $status -ne 0 ]]; then
  echo "FAILED: at least one half of the suite failed, or coverage fell below its floor (exit $status)" >&2
fi
exit $status
