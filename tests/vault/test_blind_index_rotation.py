"""Blind-index key rotation: a new key version, re-indexing as a resumable job, lookups by either version."""

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
from governance.vault import blind_index_rotation as rotation
from governance.vault import keymanagement, service
from governance.vault.errors import KeyRotationError, SubjectExistsError
from governance.vault.fields import lookup_key
from governance.vault.models import BlindIndexRotation, Subject
from tests.vault.conftest import ACTOR, PROFILE

MakeSubject = Callable[..., uuid.UUID]


def _make(make_subject: MakeSubject, n: int) -> uuid.UUID:
    return make_subject(external_ref=f"ref-{n}", profile={**PROFILE, "email": f"person{n}@example.com"})


def _found(session: Session, n: int) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    by_ref = service.find_subject(session, external_ref=f"ref-{n}")
    by_email = service.find_subject(session, email=f"Person{n}@Example.com")
    session.rollback()
    return (by_ref.id if by_ref else None, by_email.id if by_email else None)


def _versions(session: Session) -> dict[uuid.UUID, int]:
    versions = dict(session.execute(sa.select(Subject.id, Subject.index_version)).all())
    session.rollback()
    return versions


def test_rotation_with_lookups_mid_way_a_crash_and_the_job_finishing(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    ids = {n: _make(make_subject, n) for n in range(10)}
    with transaction(session):  # a data-key rotation keeps the encrypted reference readable for re-indexing
        keymanagement.rotate_data_key(session, ids[3], actor=ACTOR)
    erased = _make(make_subject, 99)
    with transaction(session):
        service.shred_subject(session, erased, actor=ACTOR, reason="test")
    assert rotation.index_state(session) == rotation.IndexState(1, (1,))
    session.rollback()

    with transaction(session):
        view = rotation.start_index_rotation(session, actor=ACTOR, batch_size=3)
    assert (view.from_version, view.to_version, view.total) == (1, 2, 11)
    with pytest.raises(KeyRotationError) as again, transaction(session):
        rotation.start_index_rotation(session, actor=ACTOR)
    assert again.value.code == "index_rotation_running"

    with transaction(session):
        first = rotation.reindex_batch(session, view.id, batch_size=4)
    assert first.count == 4
    versions = _versions(session)
    assert sorted(versions.values()).count(2) == 4
    # mid-rotation: every subject is found by reference and email, whichever version its row is on
    for n, subject_id in ids.items():
        assert _found(session, n) == (subject_id, subject_id)
    # uniqueness holds across versions: a row still on version 1 and one already on version 2
    on_one = next(n for n, sid in ids.items() if versions[sid] == 1)
    on_two = next(n for n, sid in ids.items() if versions[sid] == 2)
    for n in (on_one, on_two):
        with pytest.raises(SubjectExistsError), transaction(session):
            service.create_subject(session, external_ref=f"ref-{n}", actor=ACTOR, profile=PROFILE)
    during = _make(make_subject, 50)  # written with the new version at once
    assert _versions(session)[during] == 2
    assert _found(session, 50) == (during, during)

    session.begin()
    assert rotation.reindex_batch(session, view.id, batch_size=3, after=first.last).count == 3
    session.rollback()  # the process died inside this batch: nothing of it is kept
    assert sorted(_versions(session).values()).count(2) == 5

    assert drain(app, kinds=[rotation.REINDEX_JOB]) == 1
    job = get_job(session, view.job_id)
    assert job.status == "succeeded", job
    assert job.result == {"reindexed": 7, "legacy": 0, "status": "done"}
    session.rollback()
    assert set(_versions(session).values()) == {2}
    assert rotation.index_state(session) == rotation.IndexState(2, (2,))  # version 1 retired for lookups
    session.rollback()
    new_key = rotation.index_for_version(2)
    for n, subject_id in ids.items():
        assert _found(session, n) == (subject_id, subject_id)
        stored = session.get_one(Subject, subject_id)
        assert stored.external_ref_index == new_key.compute("external_ref", f"ref-{n}")
        assert stored.email_index == new_key.compute("email", lookup_key("email", f"person{n}@example.com"))
    erased_row = session.get_one(Subject, erased)
    assert (erased_row.external_ref_index, erased_row.email_index, erased_row.external_ref_ciphertext) == (None,) * 3
    session.rollback()
    # the email index of a later change is computed with the row's (new) version
    with transaction(session):
        service.update_profile(session, ids[0], {"email": "changed@example.com"}, actor=ACTOR)
    assert service.find_subject(session, email="changed@example.com").id == ids[0]


def test_legacy_subjects_keep_the_old_version_in_use_until_they_can_be_reindexed(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    """A subject created before the reference was kept encrypted cannot be re-indexed: the job moves every
    other row and stops with `legacy` counted; lookups keep matching both versions; finishing is refused."""
    ids = {n: _make(make_subject, n) for n in range(4)}
    with transaction(session):  # how rows written before revision blind_index_versions look
        session.execute(sa.update(Subject).where(Subject.id == ids[2]).values(external_ref_ciphertext=None))
    with transaction(session):
        view = rotation.start_index_rotation(session, actor=ACTOR, enqueue_job=False)
    assert rotation.run_index_rotation(session, view.id, actor=ACTOR, batch_size=2) == {
        "reindexed": 3,
        "legacy": 1,
        "status": "running",
    }
    assert rotation.index_state(session).read_versions == (2, 1)
    session.rollback()
    for n, subject_id in ids.items():
        assert _found(session, n) == (subject_id, subject_id)
    with pytest.raises(KeyRotationError) as caught, transaction(session):
        rotation.finish_index_rotation(session, view.id, actor=ACTOR)
    assert caught.value.code == "index_rotation_incomplete"
    assert caught.value.extra == {"remaining": 1}
    assert session.get_one(BlindIndexRotation, view.id).status == "running"


def test_cli_rotate_index_wait(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    subject_id = _make(make_subject, 1)
    result = app.test_cli_runner().invoke(args=["governance", "keys", "rotate-index", "--wait", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["from_version"], out["to_version"], out["status"], out["reindexed"]) == (1, 2, "done", 1)
    assert "ref-1" not in result.output
    assert _found(session, 1) == (subject_id, subject_id)
    assert _versions(session) == {subject_id: 2}


def test_lookups_and_writes_never_miss_while_the_job_reindexes(
    app: Flask, session: Session, make_subject: MakeSubject
) -> None:
    """Two threads look subjects up by reference and email and one creates subjects and changes emails while the
    job re-indexes in batches of 2: not one lookup misses, no duplicate reference gets in, and afterwards every
    row is on the new version and found."""
    ids = {n: _make(make_subject, n) for n in range(30)}
    database = app.extensions["governance.db"]
    stop = threading.Event()
    failures: list[str] = []
    counts = {"lookups": 0, "writes": 0}
    created: dict[int, uuid.UUID] = {}

    def looker() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                with database.session() as s:
                    try:
                        if _found(s, n % 30) != (ids[n % 30], ids[n % 30]):
                            failures.append("lookup missed")
                        counts["lookups"] += 1
                    except Exception as exc:
                        failures.append(f"lookup: {type(exc).__name__}")

    def writer() -> None:
        with app.app_context():
            n = 0
            while not stop.is_set():
                n += 1
                with database.session() as s:
                    try:
                        with s.begin():
                            view = service.create_subject(
                                s, external_ref=f"ref-{100 + n}", actor=ACTOR, profile=PROFILE
                            )
                        created[100 + n] = view.id
                        with s.begin():  # a taken reference, whichever version its row is on
                            service.create_subject(s, external_ref=f"ref-{n % 30}", actor=ACTOR, profile=PROFILE)
                        failures.append("duplicate reference accepted")
                    except SubjectExistsError:
                        counts["writes"] += 1
                    except Exception as exc:
                        failures.append(f"write: {type(exc).__name__}: {str(exc)[:200]}")

    with transaction(session):
        view = rotation.start_index_rotation(session, actor=ACTOR, batch_size=2)
    threads = [threading.Thread(target=looker) for _ in range(2)] + [threading.Thread(target=writer)]
    for thread in threads:
        thread.start()
    try:
        assert drain(app, kinds=[rotation.REINDEX_JOB]) == 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert counts["lookups"] > 0
    assert counts["writes"] > 0
    assert get_job(session, view.job_id).status == "succeeded"
    session.rollback()
    assert set(_versions(session).values()) == {2}
    for n, subject_id in {**ids, **created}.items():
        assert service.find_subject(session, external_ref=f"ref-{n}").id == subject_id
    session.rollback()
