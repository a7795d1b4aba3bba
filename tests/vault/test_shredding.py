"""Crypto-shredding: after `shred_subject`, nothing in a full database dump decrypts, even with the master key."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask
from sqlalchemy.orm import Session

from governance.db import transaction
from governance.vault import service
from governance.vault.crypto import SubjectCipher
from governance.vault.errors import SubjectErasedError
from governance.vault.keyproviders import KeyProviderError
from governance.vault.models import DataKey, Event, ProfileFieldValue, Subject, Tombstone
from governance.vault.runtime import get_runtime
from tests.vault.conftest import ACTOR, ALL_EVENT_CATEGORIES, PROFILE, event

MakeSubject = Callable[..., uuid.UUID]


def _all_blobs(engine: sa.Engine) -> list[bytes]:
    """Every binary value in every column of every table: what a stolen dump would hold."""
    blobs: list[bytes] = []
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                blobs.extend(bytes(v) for v in row if isinstance(v, bytes | memoryview))
    return blobs


def _candidate_keys(engine: sa.Engine, subject_id: uuid.UUID) -> list[bytes]:
    """Try to unwrap every wrapped blob in the dump as the erased subject's data key, with every master version."""
    provider = get_runtime().provider
    from governance.vault.crypto import _wrap_context

    keys = []
    for blob, version, key_version in itertools.product(_all_blobs(engine), provider.versions(), range(1, 4)):
        try:
            keys.append(provider.unwrap(version, blob, _wrap_context(subject_id, key_version)))
        except (KeyProviderError, ValueError, InvalidTag):
            continue
    return keys


def test_full_dump_decrypts_nothing_after_shredding(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    erased, other = make_subject(external_ref="to-erase"), make_subject(external_ref="stays")
    with transaction(session):
        for subject_id in (erased, other):
            service.ingest_events(
                session,
                subject_id,
                [event(i, c) for i, c in enumerate(sorted(ALL_EVENT_CATEGORIES))],
                actor=ACTOR,
                lawful_categories=ALL_EVENT_CATEGORIES,
            )
    engine = session.get_bind()
    # before: the erased subject's key unwraps from the dump and decrypts its email
    before = _candidate_keys(engine, erased)
    assert len(before) == 1
    email_blob = session.get(ProfileFieldValue, (erased, "email")).ciphertext
    assert SubjectCipher(before[0], erased, 1).decrypt("email", email_blob) == b"Jane.Doe@example.com"

    with transaction(session):
        report = service.shred_subject(session, erased, actor=ACTOR, reason="erasure request R-1")
    assert (report.fields_destroyed, report.events_destroyed, report.keys_destroyed) == (len(PROFILE), 6, 1)

    # after: no wrapped key of the erased subject unwraps with any master version, so nothing of it decrypts
    assert _candidate_keys(engine, erased) == []
    blobs = _all_blobs(engine)
    assert email_blob not in blobs
    # and the only data key left (the other subject's) decrypts none of the erased subject's former values
    other_key = get_runtime().envelope.unwrap(service._wrapped(session.get(DataKey, (other, 1))))
    for blob in blobs:
        for name in (*PROFILE, *(f"event:evt-{i}" for i in range(6))):
            with pytest.raises((InvalidTag, ValueError)):
                AESGCM(other_key).decrypt(blob[1:13], blob[13:], _field_aad(erased, 1, name))
    for table in (DataKey, ProfileFieldValue, Event):
        assert session.scalar(sa.select(sa.func.count()).select_from(table).where(table.subject_id == erased)) == 0

    subject = session.get(Subject, erased)
    assert subject.status == "erased"
    assert subject.external_ref_index is None
    assert subject.email_index is None
    tombstone = session.get(Tombstone, erased)
    assert tombstone.reason == "erasure request R-1"
    assert tombstone.destroyed["events"] == 6
    with pytest.raises(SubjectErasedError):
        service.get_subject(session, erased)
    assert service.find_subject(session, external_ref="to-erase") is None
    assert service.read_profile(session, other, actor=ACTOR, view="masked")["fields"]["email"] == "J***@example.com"


def _field_aad(subject_id: uuid.UUID, version: int, name: str) -> bytes:
    from governance.vault.crypto import _FIELD_AAD_PREFIX

    return _FIELD_AAD_PREFIX + subject_id.bytes + version.to_bytes(4, "big") + name.encode()


def test_shredding_is_idempotent_and_audited(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    with transaction(session):
        first = service.shred_subject(session, subject_id, actor=ACTOR, reason="erasure")
    with transaction(session):
        second = service.shred_subject(session, subject_id, actor=ACTOR, reason="erasure")
    assert second.already_erased
    assert not first.already_erased
    assert second.fields_destroyed == first.fields_destroyed
    from governance.audit.models import AuditEntry

    entries = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "vault.subject.shred")).all()
    assert len(entries) == 1
    assert entries[0].details["fields"] == len(PROFILE)


def test_shredding_rolls_back_completely(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()

    def shred_then_fail() -> None:
        with transaction(session):
            service.shred_subject(session, subject_id, actor=ACTOR, reason="erasure")
            raise RuntimeError("the caller's transaction fails after the shred")

    with pytest.raises(RuntimeError):
        shred_then_fail()
    get_runtime().envelope.clear()
    assert service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]["name"] == "J*** D***"


def test_keep_categories_keeps_only_those_under_a_fresh_key(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    with transaction(session):
        service.ingest_events(
            session,
            subject_id,
            [event(1), event(2, "purchase", value=10.0), event(3, "purchase", value=5.0)],
            actor=ACTOR,
            lawful_categories=ALL_EVENT_CATEGORIES,
        )
    with transaction(session):
        report = service.shred_subject(
            session, subject_id, actor=ACTOR, reason="erasure; invoices kept", keep_categories={"purchase"}
        )
    assert (report.events_kept, report.events_destroyed) == (2, 1)
    keys = session.scalars(sa.select(DataKey).where(DataKey.subject_id == subject_id)).all()
    assert [k.version for k in keys] == [2]  # the original key is destroyed
    kept = session.scalars(sa.select(Event).where(Event.subject_id == subject_id)).all()
    assert {e.category for e in kept} == {"purchase"}
    assert {e.key_version for e in kept} == {2}
    assert session.scalar(sa.select(sa.func.count()).select_from(ProfileFieldValue)) == 0


def test_client_chosen_event_ids_never_stay_in_clear(app: Flask, session: Session, make_subject: MakeSubject) -> None:
    """Issue 18.13: an event kept under a retention exception kept its client-chosen `event_id` in clear after
    erasure. Ids are stored as keyed hashes (blind-index key): a database dump holds no client id, before or
    after erasure, while reads return the client's id and a retried batch is still recognised."""
    from tests.conftest import dump_all_rows

    subject_id = make_subject()
    chosen = "order-canary-7731-for-jane"
    purchase = {**event(1, "purchase", value=10.0), "event_id": chosen}
    with transaction(session):
        first = service.ingest_events(session, subject_id, [purchase], actor=ACTOR, lawful_categories={"purchase"})
    assert first.accepted == 1
    engine = app.extensions["governance.db"].engine
    assert chosen not in dump_all_rows(engine)
    with transaction(session):
        views = list(service.iter_events(session, subject_id))
    assert [v.event_id for v in views] == [chosen]
    with transaction(session):
        again = service.ingest_events(session, subject_id, [purchase], actor=ACTOR, lawful_categories={"purchase"})
    assert (again.accepted, again.duplicates) == (0, 1)
    with transaction(session):
        report = service.shred_subject(
            session, subject_id, actor=ACTOR, reason="erasure; invoices kept", keep_categories={"purchase"}
        )
    assert report.events_kept == 1
    assert chosen not in dump_all_rows(engine)


def test_events_stored_with_clear_ids_by_an_older_version_still_count_as_duplicates(
    session: Session, make_subject: MakeSubject
) -> None:
    subject_id = make_subject()
    with transaction(session):
        service.ingest_events(session, subject_id, [event(1)], actor=ACTOR, lawful_categories=ALL_EVENT_CATEGORIES)
    with transaction(session):  # what a row written before the ids were hashed looks like
        session.execute(sa.update(Event).where(Event.subject_id == subject_id).values(event_id="evt-1"))
    service.forget_clear_id_check()
    with transaction(session):
        again = service.ingest_events(
            session, subject_id, [event(1), event(2)], actor=ACTOR, lawful_categories=ALL_EVENT_CATEGORIES
        )
    assert (again.accepted, again.duplicates) == (1, 1)
