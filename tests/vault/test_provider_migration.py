"""Moving the master key from the key file into an HSM (SoftHSM2) while reads and writes go on."""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.db import transaction, utcnow
from governance.jobs import get_job
from governance.jobs.models import Job
from governance.jobs.worker import drain
from governance.vault import keymanagement, service
from governance.vault.crypto import Envelope, WrappedKey
from governance.vault.errors import KeyRotationError
from governance.vault.keyproviders import FileKeyProvider
from governance.vault.models import DataKey, KeyRotation, MasterKeyVersion
from governance.vault.pkcs11_provider import Pkcs11KeyProvider
from governance.vault.provider_migration import MigratingKeyProvider, start_provider_migration
from governance.vault.runtime import get_runtime, runtime_for
from tests.vault.conftest import ACTOR, PROFILE, HsmToken, event

MakeSubject = Callable[..., uuid.UUID]


def _migrating_app(make_app: Callable[..., Flask], hsm_token: HsmToken) -> Flask:
    """An app configured as every process is during the migration: the HSM plus the key file as legacy."""
    app = make_app(**hsm_token.app_settings(), VAULT_LEGACY_KEY_PROVIDER="file")
    assert isinstance(runtime_for(app).provider, MigratingKeyProvider)
    return app


@contextlib.contextmanager
def _session(app: Flask) -> Iterator[Session]:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            yield session
        finally:
            session.close()


def _states(session: Session) -> dict[int, tuple[str, str]]:
    rows = session.execute(sa.select(MasterKeyVersion.version, MasterKeyVersion.state, MasterKeyVersion.provider))
    return {version: (state, provider) for version, state, provider in rows}


def _assert_every_key_unwraps_in_the_hsm_alone(session: Session, hsm_token: HsmToken) -> int:
    """Every stored data key unwraps with a bare HSM provider (no key file): the migration is complete."""
    provider = Pkcs11KeyProvider(hsm_token.settings())
    try:
        envelope = Envelope(provider)
        keys = [
            WrappedKey(r.subject_id, r.version, r.master_version, r.wrapped)
            for r in session.scalars(sa.select(DataKey))
        ]
        results = envelope.unwrap_many(keys)
        assert all(isinstance(value, bytes) for value in results)
        return len(keys)
    finally:
        provider.close()


def test_migration_needs_a_legacy_provider(session: Session) -> None:
    with pytest.raises(KeyRotationError) as caught, transaction(session):
        start_provider_migration(session, actor=ACTOR)
    assert caught.value.code == "provider_not_migrating"


def test_online_migration_from_the_key_file_to_the_hsm(
    app: Flask, make_app: Callable[..., Flask], hsm_token: HsmToken, make_subject: MakeSubject
) -> None:
    """Subjects written under the key file; every process then runs with HSM + legacy file; readers, writers
    and new subjects go on while the job re-wraps in small batches: not one decrypt fails, every key ends in
    the HSM, the file's version is retired (kept for the backup retention) and then destroyed."""
    ids = [make_subject(profile={**PROFILE, "name": f"Person {n}"}) for n in range(40)]
    file_path = runtime_for(app).provider.path
    file_versions = list(FileKeyProvider(file_path).versions())
    hsm_app = _migrating_app(make_app, hsm_token)
    database = hsm_app.extensions["governance.db"]
    stop = threading.Event()
    failures: list[str] = []
    operations = {"reads": 0, "writes": 0}
    created: list[uuid.UUID] = []

    def reader() -> None:
        with hsm_app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                get_runtime().envelope.clear()  # every read unwraps: through the file or the HSM
                with database.session() as s:
                    try:
                        with s.begin():
                            fields = service.read_profile(s, ids[n % len(ids)], actor=ACTOR, view="masked")["fields"]
                        if fields["phone"] != "******42":
                            failures.append("wrong value")
                        operations["reads"] += 1
                    except Exception as exc:  # any unwrap or decrypt failure fails the test
                        failures.append(f"read: {type(exc).__name__}")

    def writer() -> None:
        with hsm_app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                with database.session() as s:
                    try:
                        with s.begin():
                            service.update_profile(s, ids[n % len(ids)], {"postal_code": f"{10000 + n}"}, actor=ACTOR)
                            service.ingest_events(
                                s, ids[n % len(ids)], [event(n, "click")], actor=ACTOR, lawful_categories={"click"}
                            )
                        with s.begin():
                            ref = f"during-{n}"
                            created.append(service.create_subject(s, external_ref=ref, actor=ACTOR, profile=PROFILE).id)
                        operations["writes"] += 1
                    except Exception as exc:
                        failures.append(f"write: {type(exc).__name__}: {str(exc)[:200]}")

    threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        with _session(hsm_app) as s:
            deadline = time.monotonic() + 120
            while operations["writes"] < 3 and time.monotonic() < deadline:  # writes under the file version first
                time.sleep(0.05)
            with s.begin():
                view = start_provider_migration(s, actor=ACTOR, batch_size=3)
            assert view.target_version == max(file_versions) + 1
            assert drain(hsm_app, kinds=[keymanagement.REWRAP_JOB]) == 1
            job = get_job(s, view.job_id)
            assert job.status == "succeeded", job
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert operations["reads"] > 0
    assert operations["writes"] > 0

    with _session(hsm_app) as s:
        states = _states(s)
        assert states[view.target_version] == ("active", "pkcs11")
        assert all(states[v][0] == "retired" for v in file_versions if v in states)
        assert set(s.scalars(sa.select(DataKey.master_version).distinct())) == {view.target_version}
        assert _assert_every_key_unwraps_in_the_hsm_alone(s, hsm_token) == len(ids) + len(created)
        get_runtime().envelope.clear()
        for subject_id in ids + created:
            assert service.read_profile(s, subject_id, actor=ACTOR, view="masked")["fields"]["phone"] == "******42"
        assert file_path.exists()  # the retired file version is kept for backups taken before the migration
        later = utcnow() + get_runtime().schedule.backup_retention + dt.timedelta(days=1)
        s.rollback()
        with s.begin():
            destroyed = keymanagement.destroy_expired_versions(s, actor=ACTOR, now=later)
        assert set(destroyed) == {v for v in file_versions if v in states}
        assert not file_path.exists()  # its last version destroyed: the key file is gone
        get_runtime().envelope.clear()
        assert service.read_profile(s, ids[0], actor=ACTOR, view="masked")["fields"]["phone"] == "******42"


def test_migration_resumes_after_a_crash_at_each_step(
    app: Flask, make_app: Callable[..., Flask], hsm_token: HsmToken, make_subject: MakeSubject
) -> None:
    """A crash after the HSM made its key but before the commit leaves no second key; a crash inside a
    batch loses only that batch; the job then finishes from what was committed."""
    ids = [make_subject() for _ in range(12)]
    hsm_app = _migrating_app(make_app, hsm_token)
    with _session(hsm_app) as s:
        provider = get_runtime().provider
        assert isinstance(provider, MigratingKeyProvider)
        s.begin()
        crashed = start_provider_migration(s, actor=ACTOR, batch_size=2)
        s.rollback()  # the process died before its commit: the token holds a version the database never saw
        assert list(provider.target.versions()) == [crashed.target_version]
        with s.begin():
            view = start_provider_migration(s, actor=ACTOR, batch_size=2)
        assert view.target_version == crashed.target_version  # reused, not a second key in the token
        assert list(provider.target.versions()) == [view.target_version]

        with s.begin():
            first = keymanagement.rewrap_batch(s, view.id, batch_size=2)
        assert first.count == 2
        s.begin()
        assert keymanagement.rewrap_batch(s, view.id, batch_size=2, after=first.last).count == 2
        s.rollback()  # died inside the second batch
        under_hsm = s.scalar(sa.select(sa.func.count()).where(DataKey.master_version == view.target_version))
        assert under_hsm == 2
        s.rollback()

        assert drain(hsm_app, kinds=[keymanagement.REWRAP_JOB]) == 1
        assert get_job(s, view.job_id).status == "succeeded"
        s.expire_all()
        assert s.get_one(KeyRotation, view.id).status == "done"
        assert _assert_every_key_unwraps_in_the_hsm_alone(s, hsm_token) == len(ids)


WORKER_SCRIPT = """
import sys, threading
from governance import create_app
from governance.jobs.worker import Worker

database_url, instance, library, label, pin_file = sys.argv[1:6]
app = create_app({"ENV": "test", "DATABASE_URL": database_url, "INSTANCE_PATH": instance, "LOG_LEVEL": "ERROR",
                  "VAULT_KEY_PROVIDER": "pkcs11", "VAULT_LEGACY_KEY_PROVIDER": "file", "VAULT_PKCS11_LIBRARY": library,
                  "VAULT_PKCS11_TOKEN_LABEL": label, "VAULT_PKCS11_PIN_FILE": pin_file})
Worker(app, worker_id="killed", kinds=["vault.rotate_master_key"]).run(threading.Event(), poll_seconds=0.1)
"""


@pytest.mark.slow
def test_a_worker_killed_mid_migration_leaves_a_resumable_job(
    app: Flask,
    make_app: Callable[..., Flask],
    hsm_token: HsmToken,
    database_url: str,
    instance_dir: Path,
    tmp_path: Path,
) -> None:
    """SIGKILL to a real worker process in the middle of the re-wrap (batches of 1); once its lease has run out
    the job is claimed again and finishes; every data key unwraps in the HSM and none was lost."""
    with _session(app) as s, s.begin():
        service.create_subjects(
            s,
            [{"external_ref": f"bulk-{n}", "profile": {"email": f"p{n}@example.com"}} for n in range(400)],
            actor=ACTOR,
        )
    hsm_app = _migrating_app(make_app, hsm_token)
    with _session(hsm_app) as s:
        with s.begin():
            view = start_provider_migration(s, actor=ACTOR, batch_size=1)
        script = tmp_path / "worker.py"
        script.write_text(WORKER_SCRIPT)
        command = [
            sys.executable,
            str(script),
            database_url,
            str(instance_dir),
            hsm_token.library,
            hsm_token.label,
            str(hsm_token.pin_file),
        ]
        process = subprocess.Popen(command, cwd=Path(__file__).resolve().parents[2])
        try:
            deadline = time.monotonic() + 300

            def done() -> int:
                s.expire_all()
                with s.begin():
                    return s.get_one(KeyRotation, view.id).done

            while done() < 20:
                assert process.poll() is None, f"the worker exited with {process.returncode}"
                assert time.monotonic() < deadline, "the worker never started re-wrapping"
                time.sleep(0.05)
            process.kill()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
        with s.begin():
            rotation = s.get_one(KeyRotation, view.id)
            assert rotation.status == "running"
            assert 20 <= rotation.done < 400
            # the lease running out (300 s) is the clock's part; the test moves it instead of waiting
            s.execute(
                sa.update(Job).where(Job.id == view.job_id).values(lease_expires_at=utcnow() - dt.timedelta(seconds=1))
            )
        assert drain(hsm_app, kinds=[keymanagement.REWRAP_JOB]) == 1
        s.expire_all()
        assert get_job(s, view.job_id).status == "succeeded"
        assert s.get_one(KeyRotation, view.id).status == "done"
        assert _assert_every_key_unwraps_in_the_hsm_alone(s, hsm_token) == 400
