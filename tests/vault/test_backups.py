"""Erasure reaches backups: a real database backup taken before an erasure, restored into a fresh database once
the key schedule has run to the date the vault states, decrypts nothing of the erased person with any key the
service still holds; a person who was not erased stays readable from every backup still within its retention;
live data keeps working through every epoch change.

The clock is injected (`run_key_epoch(now=...)`, as the hourly job would run it on those days); backups are a
copy of the SQLite file (SQLite's online backup API) or `pg_dump -Fc` restored with `pg_restore` into a new
database (PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from flask import Flask
from sqlalchemy.orm import Session

from governance.db import transaction, utcnow
from governance.vault import keymanagement, service
from governance.vault.crypto import _wrap_context
from governance.vault.errors import VaultIntegrityError
from governance.vault.keyproviders import KeyProviderError
from governance.vault.models import DataKey, Event, MasterKeyVersion
from governance.vault.runtime import get_runtime, runtime_for
from tests.conftest import POSTGRES_URL_ENV, create_postgres_database, drop_postgres_database
from tests.vault.conftest import ACTOR, ALL_EVENT_CATEGORIES, PROFILE, event

MakeSubject = Callable[..., uuid.UUID]


class Backups:
    """Take and restore whole-database backups the way an operator would."""

    def __init__(self, backend: str, database_url: str, folder: Path) -> None:
        self.backend = backend
        self.database_url = database_url
        self.folder = folder
        self.restored: list[str] = []

    @staticmethod
    def _libpq(url: str) -> str:
        return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def take(self, name: str) -> Path:
        path = self.folder / f"{name}.backup"
        if self.backend == "postgresql":
            subprocess.run(
                ["pg_dump", "--format=custom", "--file", str(path), self._libpq(self.database_url)],
                check=True,
                timeout=300,
            )
        else:
            source = sqlite3.connect(sa.make_url(self.database_url).database)
            target = sqlite3.connect(path)
            try:
                source.backup(target)
            finally:
                target.close()
                source.close()
        return path

    def restore(self, path: Path) -> str:
        """A fresh database holding exactly the backup; returns its URL."""
        if self.backend == "postgresql":
            url = create_postgres_database(os.environ[POSTGRES_URL_ENV], prefix="gov_restore")
            self.restored.append(url)
            subprocess.run(
                ["pg_restore", "--no-owner", "--exit-on-error", "--dbname", self._libpq(url), str(path)],
                check=True,
                timeout=300,
            )
            return url
        copy = self.folder / f"restored-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(path, copy)
        return f"sqlite:///{copy}"

    def cleanup(self) -> None:
        for url in self.restored:
            drop_postgres_database(url)


@pytest.fixture
def backups(backend: str, database_url: str, tmp_path: Path) -> Iterator[Backups]:
    made = Backups(backend, database_url, tmp_path)
    yield made
    made.cleanup()


def _blobs(engine: sa.Engine) -> list[bytes]:
    found: list[bytes] = []
    with engine.connect() as conn:
        for table in sa.inspect(engine).get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                found.extend(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    return found


def _unwrappable(engine: sa.Engine, subject_id: uuid.UUID, providers: list[Any]) -> int:
    """How many blobs of the database unwrap as a data key of `subject_id` under any master version any of
    `providers` holds (the attacker tries every blob as a wrapped key, every version, every key version)."""
    hits = 0
    for provider in providers:
        versions = list(provider._ciphers)  # what this process holds in memory right now, not what it would reload
        for blob, version, key_version in itertools.product(_blobs(engine), versions, range(1, 4)):
            try:
                provider._cipher(version).decrypt(blob[:12], blob[12:], _wrap_context(subject_id, key_version))
                hits += 1
            except (KeyProviderError, ValueError, InvalidTag):
                continue
    return hits


def _read_everything(app: Flask, subject_id: uuid.UUID) -> tuple[dict[str, str], int]:
    with app.app_context(), app.extensions["governance.db"].session() as s, s.begin():
        fields = service.read_profile(s, subject_id, actor=ACTOR, view="clear")["fields"]
        return fields, len(list(service.iter_events(s, subject_id)))


def _wait_for(condition: Callable[[], bool], what: str, deadline_seconds: float = 120.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_backup_before_erasure_is_unreadable_for_the_erased_by_the_stated_date(
    app: Flask, session: Session, make_subject: MakeSubject, make_app: Callable[..., Flask], backups: Backups
) -> None:
    erased = make_subject(external_ref="erased", profile={**PROFILE, "name": "Erin Erased"})
    kept = make_subject(external_ref="kept", profile={**PROFILE, "name": "Kim Kept"})
    with transaction(session):
        for subject_id in (erased, kept):
            service.ingest_events(
                session,
                subject_id,
                [event(i, c) for i, c in enumerate(sorted(ALL_EVENT_CATEGORIES))],
                actor=ACTOR,
                lawful_categories=ALL_EVENT_CATEGORIES,
            )
    session.commit()
    schedule = get_runtime().schedule
    provider = get_runtime().provider
    first_version = session.scalar(sa.select(MasterKeyVersion.version).where(MasterKeyVersion.state == "active"))
    first_key = json.loads(provider.path.read_text())["keys"][str(first_version)]
    t0 = utcnow()
    before = backups.take("before-erasure")

    with transaction(session):
        report = service.shred_subject(session, erased, actor=ACTOR, reason="erasure request")
    bound_day = service.backups_unreadable_by(session, report.erased_at)
    session.commit()
    assert bound_day is not None
    # the stated bound is epoch + backup retention (+ one day for the hourly job), counted from the erasure
    days = (bound_day - report.erased_at.date()).days
    assert days <= (schedule.epoch + schedule.backup_retention + schedule.margin).days
    bound_end = dt.datetime.combine(bound_day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)

    # production reads run throughout the epoch changes: not one may fail
    database = app.extensions["governance.db"]
    stop = threading.Event()
    failures: list[str] = []
    reads = [0]

    def reader() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    with database.session() as s, s.begin():
                        fields = service.read_profile(s, kept, actor=ACTOR, view="clear")["fields"]
                        assert fields["name"] == "Kim Kept"
                        assert len(list(service.iter_events(s, kept))) == 6
                    reads[0] += 1
                except Exception as exc:  # any decrypt or unwrap failure fails the test
                    failures.append(f"{type(exc).__name__}: {str(exc)[:200]}")
                time.sleep(0.01)

    thread = threading.Thread(target=reader)
    thread.start()
    later_backup: Path | None = None
    checked_within_retention = False
    opened: list[int] = []
    destroyed: list[int] = []
    late_subject: uuid.UUID | None = None
    try:
        now = t0
        while now < bound_end:
            now += dt.timedelta(hours=6)
            with database.session() as s:
                outcome = keymanagement.run_key_epoch(s, now=min(now, bound_end))
            if outcome["opened_version"]:
                opened.append(outcome["opened_version"])
                get_runtime().envelope.clear()  # the next reads unwrap through the new version
            destroyed += outcome["destroyed_versions"]
            if later_backup is None and now >= t0 + dt.timedelta(days=20):
                late_subject = make_subject(external_ref="late", profile={**PROFILE, "name": "Lee Late"})
                later_backup = backups.take("after-erasure")
            if not checked_within_retention and now >= t0 + schedule.backup_retention - dt.timedelta(days=1):
                # the backup taken before the erasure is still within its retention: fully useful
                restored = make_app(DATABASE_URL=backups.restore(before))
                fields, events = _read_everything(restored, kept)
                assert (fields["name"], events) == ("Kim Kept", 6)
                checked_within_retention = True
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert reads[0] > 0
    assert checked_within_retention
    assert later_backup is not None
    assert late_subject is not None
    # an epoch every `epoch` days, and the first version destroyed (key file rewritten without it)
    assert len(opened) >= int((bound_end - t0) / schedule.epoch) - 1
    assert first_version in destroyed
    assert first_version not in provider.versions()
    assert first_key not in provider.path.read_text()
    for path in provider.path.parent.rglob("*"):  # no temp file or copy left behind with the key in it
        if path.is_file():
            assert first_key.encode() not in path.read_bytes()
            assert base64.b64decode(first_key) not in path.read_bytes()

    # at the stated date: the backup taken before the erasure gives nothing of the erased person
    restored = make_app(DATABASE_URL=backups.restore(before))
    engine = restored.extensions["governance.db"].engine
    providers = [get_runtime().provider, runtime_for(restored).provider]
    _wait_for(lambda: all(first_version not in p._ciphers for p in providers), "every provider to drop v1")
    with Session(engine) as s:  # the backup does hold the person's wrapped key and values
        assert s.scalar(sa.select(sa.func.count()).select_from(DataKey).where(DataKey.subject_id == erased)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(Event).where(Event.subject_id == erased)) == 6
    assert _unwrappable(engine, erased, providers) == 0
    with pytest.raises(VaultIntegrityError):
        _read_everything(restored, erased)
    # ... and, past its own retention, nothing of anyone (its key versions are gone too)
    with pytest.raises(VaultIntegrityError):
        _read_everything(restored, kept)

    # a backup taken after the erasure, still within its retention, restores everyone else
    restored_later = make_app(DATABASE_URL=backups.restore(later_backup))
    assert _read_everything(restored_later, kept) == (_read_everything(app, kept))
    assert _read_everything(restored_later, late_subject)[0]["name"] == "Lee Late"
    assert _unwrappable(restored_later.extensions["governance.db"].engine, erased, providers) == 0

    # and live data works under the current epoch, with nothing cached
    get_runtime().envelope.clear()
    fields, events = _read_everything(app, kept)
    assert (fields["name"], fields["email"], events) == ("Kim Kept", "Jane.Doe@example.com", 6)
