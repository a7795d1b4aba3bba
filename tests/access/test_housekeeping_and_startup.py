"""Housekeeping of expired credentials, and start-up refusing broken policy files."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.access import tasks
from governance.access.policy import PolicyFileError
from governance.settings import PROJECT_ROOT
from tests.access.conftest import run_sql


def count(app: Flask, table: str) -> int:
    with app.extensions["governance.db"].engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_cleanup_job_deletes_only_long_expired_rows(app: Flask, client, bearer, login_subject) -> None:  # type: ignore[no-untyped-def]
    from governance.jobs import enqueue
    from governance.jobs.worker import drain

    bearer(["subjects:link"])
    bearer(["events:write"])
    login_subject(client, uuid.uuid4())
    run_sql(
        app,
        "UPDATE access_tokens SET expires_at = :t WHERE CAST(scopes AS TEXT) LIKE '%events%'",
        t="2000-01-01 00:00:00",
    )
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            enqueue(session, tasks.CLEANUP, {})
        session.close()
    drain(app, kinds=[tasks.CLEANUP])
    assert count(app, "access_tokens") == 1
    assert count(app, "access_subject_sessions") == 1
    assert count(app, "access_dashboard_links") == 1  # still referenced by its session


def test_a_broken_policy_file_stops_start_up(make_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policies = tmp_path / "policies"
    shutil.copytree(PROJECT_ROOT / "policies", policies)
    (policies / "access" / "50_broken.cedar").write_text('// oops\n@id("oops")\npermit (principal, action)\n;')
    with pytest.raises(PolicyFileError, match=r"50_broken\.cedar:2: .*resource"):  # the rule starts on line 2
        make_app(POLICIES_DIR=str(policies))
