"""Master-key rotation (job, CLI, concurrent reads and writes) and per-subject data-key rotation."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from governance.db import transaction
from governance.jobs import get_job
from governance.jobs.worker import drain
from governance.vault import keymanagement, service
from governance.vault.errors import KeyRotationError
from governance.vault.models import DataKey, Event, MasterKeyVersion
from governance.vault.runtime import get_runtime
from tests.vault.conftest import ACTOR, ALL_EVENT_CATEGORIES, PROFILE, event

MakeSubject = Callable[..., uuid.UUID]


def _versions(session: Session) -> dict[int, str]:
    return dict(session.execute(sa.select(MasterKeyVersion.version, MasterKeyVersion.state)).all())


def _master_versions_in_use(session: Session) -> set[int]:
    return set(session.scalars(sa.select(DataKey.master_version).distinct()))


def test_rotation_job_rewraps_everything_and_retires_the_old_version(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    ids = [make_subject() for _ in range(7)]
    old = _master_versions_in_use(session)
    assert len(old) == 1
    with transaction(session):
        rotation = keymanagement.start_master_rotation(session, actor=ACTOR)
    assert rotation.total == 7
    assert rotation.job_id is not None
    assert _versions(session)[rotation.target_version] == "active"
    session.commit()

    drain(app, kinds=["vault.rotate_master_key"])
    job = get_job(session, rotation.job_id)
    assert job.status == "succeeded", job
    assert job.progress_done == 7
    session.expire_all()
    assert _master_versions_in_use(session) == {rotation.target_version}
    states = _versions(session)
    assert all(states[v] == "retired" for v in old)
    assert rotation.target_version in get_runtime().provider.versions()
    # kept for the backup retention (backups taken before the rotation must stay restorable), then destroyed
    assert set(old) <= set(get_runtime().provider.versions())
    retention = get_runtime().schedule.backup_retention
    for version in old:
        row = session.get(MasterKeyVersion, version)
        assert row.destroyed_at is None
        assert row.destroy_after == row.retired_at + retention
    get_runtime().envelope.clear()  # prove the values unwrap through the new version, not from the cache
    for subject_id in ids:
        assert service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]["phone"] == "******42"
    with pytest.raises(KeyRotationError), transaction(session):  # unknown rotation
        keymanagement.finish_master_rotation(session, uuid.uuid4(), actor=ACTOR)


def test_second_rotation_while_one_runs_is_refused(session: Session, make_subject: MakeSubject) -> None:
    make_subject()
    with transaction(session):
        keymanagement.start_master_rotation(session, actor=ACTOR, enqueue_job=False)
    with pytest.raises(KeyRotationError), transaction(session):
        keymanagement.start_master_rotation(session, actor=ACTOR, enqueue_job=False)


def test_finish_refuses_while_data_keys_use_the_old_version(session: Session, make_subject: MakeSubject) -> None:
    make_subject()
    with transaction(session):
        rotation = keymanagement.start_master_rotation(session, actor=ACTOR, enqueue_job=False)
    with pytest.raises(KeyRotationError), transaction(session):
        keymanagement.finish_master_rotation(session, rotation.id, actor=ACTOR)


def test_cli_rotate_wait_and_status(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    make_subject()
    make_subject()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["governance", "keys", "rotate", "--wait", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["rewrapped"] == 2
    assert outcome["retired_versions"]
    status = runner.invoke(args=["governance", "keys", "status"])
    assert f"v{outcome['active_version']}: active, 2 data keys" in status.output
    assert "retired, 0 data keys" in status.output


def test_rotation_under_concurrent_reads_and_writes(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    """Readers, writers and intake run on their own connections while the rotation re-wraps in small batches;
    not one decrypt fails, and every value is readable afterwards through the new master version only."""
    ids = [make_subject(profile={**PROFILE, "name": f"Person {n}"}) for n in range(60)]
    database = app.extensions["governance.db"]
    stop = threading.Event()
    failures: list[str] = []
    operations = {"reads": 0, "writes": 0, "creates": 0}
    created: list[uuid.UUID] = []

    def reader() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                subject_id = ids[n % len(ids)]
                n += 1
                with database.session() as s:
                    try:
                        with s.begin():
                            fields = service.read_profile(s, subject_id, actor=ACTOR, view="masked")["fields"]
                        if fields["phone"] != "******42":
                            failures.append("wrong value")
                        operations["reads"] += 1
                    except Exception as exc:  # any decrypt or unwrap failure is a test failure
                        failures.append(f"read: {type(exc).__name__}")

    def writer() -> None:
        with app.app_context():
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
                            created.append(
                                service.create_subject(s, external_ref=f"during-{n}", actor=ACTOR, profile=PROFILE).id
                            )
                        operations["writes"] += 1
                        operations["creates"] += 1
                    except Exception as exc:
                        failures.append(f"write: {type(exc).__name__}: {str(exc)[:300]}")

    threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        rotation_session = database.session()
        with app.app_context():
            view = keymanagement.run_master_rotation(rotation_session, actor=ACTOR, batch_size=5)
        rotation_session.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert operations["reads"] > 0
    assert operations["writes"] > 0
    session.expire_all()
    assert _master_versions_in_use(session) == {view.target_version}
    get_runtime().envelope.clear()
    for subject_id in ids + created:
        fields = service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]
        assert fields["phone"] == "******42"
    for subject_id in ids:
        list(service.iter_events(session, subject_id))  # every event decrypts


def test_data_key_rotation_reencrypts_one_subject(session: Session, make_subject: MakeSubject) -> None:
    subject_id, other = make_subject(), make_subject()
    with transaction(session):
        service.ingest_events(
            session,
            subject_id,
            [event(i, "view") for i in range(5)],
            actor=ACTOR,
            lawful_categories=ALL_EVENT_CATEGORIES,
        )
    old_blob = session.scalar(sa.select(Event.ciphertext).where(Event.subject_id == subject_id).limit(1))
    with transaction(session):
        version = keymanagement.rotate_data_key(session, subject_id, actor=ACTOR)
    assert version == 2
    keys = session.scalars(sa.select(DataKey.version).where(DataKey.subject_id == subject_id)).all()
    assert keys == [2]
    assert old_blob not in session.scalars(sa.select(Event.ciphertext)).all()
    get_runtime().envelope.clear()
    assert (
        service.read_profile(session, subject_id, actor=ACTOR, view="clear")["fields"]["email"]
        == "Jane.Doe@example.com"
    )
    assert len(list(service.iter_events(session, subject_id))) == 5
    with transaction(session):
        changed = service.update_profile(session, subject_id, {"name": "Jane Q. Doe"}, actor=ACTOR)
    assert changed == ["name"]
    assert service.get_subject(session, subject_id).key_version == 2
    assert service.get_subject(session, other).key_version == 1


def test_keys_never_reach_logs_audit_or_output(
    app: Flask, session: Session, make_subject: MakeSubject, caplog: pytest.LogCaptureFixture
) -> None:
    import base64
    import logging

    from governance.audit.models import AuditEntry
    from tests.conftest import dump_all_rows

    caplog.set_level(logging.DEBUG)
    subject_id = make_subject()
    result = app.test_cli_runner().invoke(args=["governance", "keys", "rotate", "--wait"])
    assert result.exit_code == 0, result.output
    provider = get_runtime().provider
    key_file = json.loads(provider.path.read_text())
    secrets = [key_file["keys"][v] for v in key_file["keys"]]
    secrets += [
        base64.b64encode(
            get_runtime().envelope.unwrap(service._wrapped(session.get(DataKey, (subject_id, 1))))
        ).decode()
    ]
    secrets += [base64.b64encode(get_runtime().blind_index._key).decode()]
    audit_text = " ".join(str(e.details) for e in session.scalars(sa.select(AuditEntry)))
    session.commit()  # SQLite: every transaction holds the write lock (BEGIN IMMEDIATE); the dump needs its own
    dump = dump_all_rows(session.get_bind())
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in result.output
        assert secret not in audit_text
        assert secret not in dump
        assert base64.b64decode(secret).hex() not in dump


def test_data_key_rotation_under_concurrent_reads_and_writes(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    ids = [make_subject() for _ in range(3)]
    database = app.extensions["governance.db"]
    stop = threading.Event()
    failures: list[str] = []
    done = {"reads": 0, "writes": 0}

    def reader() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                with database.session() as s:
                    try:
                        with s.begin():
                            fields = service.read_profile(s, ids[n % 3], actor=ACTOR, view="masked")["fields"]
                            list(service.iter_events(s, ids[n % 3]))
                        assert fields["phone"] == "******42"
                        done["reads"] += 1
                    except Exception as exc:
                        failures.append(f"read: {type(exc).__name__}: {str(exc)[:200]}")

    def writer() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                with database.session() as s:
                    try:
                        with s.begin():
                            service.get_subject(s, ids[n % 3])  # loaded before the locking read, as routes do
                            service.ingest_events(
                                s, ids[n % 3], [event(n, "click")], actor=ACTOR, lawful_categories={"click"}
                            )
                            service.update_profile(s, ids[n % 3], {"postal_code": f"{20000 + n}"}, actor=ACTOR)
                        done["writes"] += 1
                    except Exception as exc:
                        failures.append(f"write: {type(exc).__name__}: {str(exc)[:200]}")

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        with app.app_context():
            for _ in range(4):
                for subject_id in ids:
                    with database.session() as s, s.begin():
                        keymanagement.rotate_data_key(s, subject_id, actor=ACTOR)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert done["reads"] > 0
    assert done["writes"] > 0
    get_runtime().envelope.clear()
    session.expire_all()
    for subject_id in ids:
        assert service.get_subject(session, subject_id).key_version == 5
        assert service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]["phone"] == "******42"
        assert all(e.category == "click" for e in service.iter_events(session, subject_id))


def test_rewrap_sweeps_keys_that_appear_behind_the_cursor(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    from governance.db import utcnow
    from governance.vault.crypto import new_data_key
    from governance.vault.models import Subject

    for _ in range(5):
        make_subject()
    old_version = next(iter(_master_versions_in_use(session)))
    session.commit()
    with transaction(session):
        rotation = keymanagement.start_master_rotation(session, actor=ACTOR, enqueue_job=False)
    straggler = uuid.UUID(int=1)  # sorts before every random id: behind the cursor after the first batch
    database = app.extensions["governance.db"]

    def add_straggler(done: int) -> None:
        if done != 2:
            return
        with database.session() as s, s.begin():
            now = utcnow()
            s.add(
                Subject(id=straggler, jurisdiction="EU", status="active", key_version=1, created_at=now, updated_at=now)
            )
            s.flush()
            wrapped = get_runtime().envelope.wrap(straggler, 1, new_data_key(), old_version)
            s.add(DataKey(subject_id=straggler, version=1, master_version=old_version, wrapped=wrapped.wrapped))

    rewrapped = keymanagement.rewrap_all(session, rotation.id, batch_size=2, on_batch=add_straggler)
    assert rewrapped == 6
    with transaction(session):
        keymanagement.finish_master_rotation(session, rotation.id, actor=ACTOR)
    assert _master_versions_in_use(session) == {rotation.target_version}


def test_key_epoch_job_opens_an_epoch_and_destroys_versions_past_the_backup_retention(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    """The hourly job (through the scheduler and a worker) rotates when the active version is older than the
    epoch, and destroys a retired version in the key file once its backup retention is over, not before."""
    from datetime import timedelta

    from governance.db import utcnow
    from governance.jobs.registry import periodic_specs
    from governance.jobs.service import enqueue_periodic
    from governance.vault.tasks import EPOCH_JOB

    spec = next(s for s in periodic_specs() if s.kind == EPOCH_JOB)
    assert spec.every_seconds == 3600
    subject_id = make_subject()
    schedule = get_runtime().schedule
    first = session.scalar(sa.select(MasterKeyVersion).where(MasterKeyVersion.state == "active"))
    first_version = first.version
    first.created_at = utcnow() - schedule.epoch - timedelta(minutes=1)  # the epoch began a week ago
    session.commit()

    assert enqueue_periodic(session, EPOCH_JOB, spec.every_seconds, spec.payload)
    assert drain(app, kinds=[EPOCH_JOB]) == 1
    session.expire_all()
    states = _versions(session)
    assert states[first_version] == "retired"
    (opened,) = [v for v, state in states.items() if state == "active"]
    assert opened > first_version
    assert _master_versions_in_use(session) == {opened}
    assert first_version in get_runtime().provider.versions()  # kept: backups taken last week need it
    retired = session.get(MasterKeyVersion, first_version)
    assert retired.destroy_after is not None
    assert retired.destroy_after > utcnow() + schedule.backup_retention - timedelta(minutes=5)

    with transaction(session):  # the backup retention has passed
        session.get(MasterKeyVersion, first_version).destroy_after = utcnow() - timedelta(minutes=1)
    with transaction(session):
        from governance.jobs.models import Job

        session.execute(sa.delete(Job).where(Job.kind == EPOCH_JOB))  # a new slot
    assert enqueue_periodic(session, EPOCH_JOB, spec.every_seconds, spec.payload)
    assert drain(app, kinds=[EPOCH_JOB]) == 1
    session.expire_all()
    assert session.get(MasterKeyVersion, first_version).destroyed_at is not None
    assert first_version not in get_runtime().provider.versions()
    assert str(first_version) not in json.loads(get_runtime().provider.path.read_text())["keys"]
    get_runtime().envelope.clear()
    assert service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]["phone"] == "******42"
    status = keymanagement.key_status(session)
    assert status["epochs"]["epoch_overdue"] is False
    assert status["epochs"]["destruction_overdue"] == []
