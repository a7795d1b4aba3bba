"""The vault's services on a real database: subjects, profiles, views, events, integrity."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit.models import AuditEntry
from governance.db import transaction
from governance.vault import service
from governance.vault.errors import (
    IntakeTooLargeError,
    ProfileInvalidError,
    SubjectErasedError,
    SubjectExistsError,
    SubjectNotFoundError,
    VaultIntegrityError,
)
from governance.vault.models import Event, ProfileFieldValue, Subject
from tests.conftest import dump_all_rows
from tests.vault.conftest import ACTOR, ALL_EVENT_CATEGORIES, PROFILE, event

MakeSubject = Callable[..., uuid.UUID]


def _audit(session: Session, action: str) -> list[AuditEntry]:
    return list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


def test_nothing_personal_is_stored_in_clear(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject(external_ref="product-user-98431")
    with transaction(session):
        service.ingest_events(
            session, subject_id, [event(1, "search")], actor=ACTOR, lawful_categories=ALL_EVENT_CATEGORIES
        )
    dump = dump_all_rows(session.get_bind()).lower()
    for secret in ("jane", "doe", "example.com", "2345", "10115", "berlin", "1990-02-03", "product-user-98431"):
        assert secret not in dump
    assert "red running shoes" not in dump
    assert str(subject_id) in dump or subject_id.hex in dump  # only the internal id is in clear


def test_find_subject_through_blind_indexes(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject(external_ref="ref-1")
    assert service.find_subject(session, external_ref="ref-1").id == subject_id
    assert service.find_subject(session, email="  jane.doe@EXAMPLE.com").id == subject_id
    assert service.find_subject(session, external_ref="ref-2") is None
    assert service.find_subject(session, email="nobody@example.com") is None
    assert service.find_subject(session, email="not an email") is None


def test_subject_jurisdiction_answers_as_get_subject_refuses(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject(jurisdiction="US-CA")
    assert service.subject_jurisdiction(session, subject_id) == service.get_subject(session, subject_id).jurisdiction
    assert service.subject_jurisdiction(session, subject_id) == "US-CA"
    with pytest.raises(SubjectNotFoundError):
        service.subject_jurisdiction(session, uuid.uuid4())
    with transaction(session):
        service.shred_subject(session, subject_id, actor=ACTOR, reason="test")
    with pytest.raises(SubjectErasedError):
        service.get_subject(session, subject_id)
    with pytest.raises(SubjectErasedError):
        service.subject_jurisdiction(session, subject_id)


def test_invalid_profile_names_fields_and_stores_nothing(session: Session) -> None:
    with pytest.raises(ProfileInvalidError) as caught, transaction(session):
        service.create_subject(
            session,
            external_ref="u-1",
            actor=ACTOR,
            profile={**PROFILE, "email": "secret-person-at-nowhere", "birth_date": "2999-01-01", "shoe": "42"},
        )
    assert set(caught.value.fields) == {"email", "birth_date", "(unknown 1)"}  # unknown names by position
    assert "secret-person" not in str(caught.value.body())
    assert session.scalar(sa.select(sa.func.count()).select_from(Subject)) == 0


def test_duplicate_external_ref_conflicts(session: Session, make_subject: MakeSubject) -> None:
    make_subject(external_ref="same")
    with pytest.raises(SubjectExistsError), transaction(session):
        service.create_subject(session, external_ref="same", actor=ACTOR)


def test_bad_jurisdiction_is_rejected(session: Session) -> None:
    with pytest.raises(ProfileInvalidError) as caught, transaction(session):
        service.create_subject(session, external_ref="j", actor=ACTOR, jurisdiction="Atlantis")
    assert "jurisdiction" in caught.value.fields


def test_update_profile_reports_only_changes_and_deletes(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    with transaction(session):
        changed = service.update_profile(
            session,
            subject_id,
            {"email": "new@example.org", "country": "DE", "phone": None},
            actor=ACTOR,
        )
    assert changed == ["email", "phone"]  # country normalizes to the stored DE: unchanged
    with transaction(session):
        profile = service.read_profile(session, subject_id, actor=ACTOR, view="clear")["fields"]
    assert profile["email"] == "new@example.org"
    assert "phone" not in profile
    assert service.find_subject(session, email="new@example.org").id == subject_id
    assert service.find_subject(session, email="jane.doe@example.com") is None
    with pytest.raises(ProfileInvalidError), transaction(session):
        service.update_profile(session, subject_id, {"email": "x@example.com", "birth_date": "tomorrow"}, actor=ACTOR)
    with transaction(session):
        unchanged = service.read_profile(session, subject_id, actor=ACTOR, view="clear")["fields"]
    assert unchanged["email"] == "new@example.org"


def test_views_clear_masked_summary(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    with transaction(session):
        service.ingest_events(
            session,
            subject_id,
            [event(1), event(2), event(3, "purchase", value=19.99)],
            actor=ACTOR,
            lawful_categories=ALL_EVENT_CATEGORIES,
        )
    with transaction(session):
        clear = service.read_profile(session, subject_id, actor=ACTOR, view="clear")
    assert clear["fields"]["email"] == "Jane.Doe@example.com"
    assert clear["fields"]["phone"] == "+4915123456742"
    assert clear["fields"]["country"] == "DE"
    entries = _audit(session, "vault.profile.read_clear")
    assert len(entries) == 1
    assert entries[0].target_id == str(subject_id)
    assert "Jane" not in str(entries[0].details)

    masked = service.read_profile(session, subject_id, actor=ACTOR, view="masked")["fields"]
    assert masked["email"] == "J***@example.com"
    assert masked["phone"] == "******42"
    assert masked["name"] == "J*** D***"
    assert masked["postal_address"] == "***"
    assert masked["birth_date"] == "1990-**-**"

    summary = service.read_profile(session, subject_id, actor=ACTOR, view="summary")
    assert "fields" not in summary
    assert summary["fields_present"] == sorted(PROFILE)
    assert summary["event_counts"] == {"view": 2, "purchase": 1}
    assert summary["events_total"] == 3
    session.commit()
    assert len(_audit(session, "vault.profile.read_clear")) == 1  # masked and summary reads are not clear reads


def test_intake_valid_invalid_duplicate_and_no_lawful_basis(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    batch = [
        event(1),
        event(2, "rating"),
        event(3, "rating", value=9),  # out of range
        event(4, "teleport"),  # unknown category
        event(5, "chat_intent"),  # no lawful basis below
        event(1),  # duplicate within the batch
        {"event_id": "evt-6", "category": "view", "occurred_at": "2026-01-01T10:00:00"},  # naive time
        event(7, "view", context={"email": "jane@example.com"}),  # context key not allowed
        "not an object",
        event(8, "search"),
    ]
    lawful = {"view", "rating", "search"}
    with transaction(session):
        report = service.ingest_events(session, subject_id, batch, actor=ACTOR, lawful_categories=lawful)
    assert report.accepted == 3
    assert report.duplicates == 1
    assert {(r.index, r.error) for r in report.rejected} == {
        (2, "invalid_event"),
        (3, "unknown_category"),
        (4, "no_lawful_basis"),
        (6, "invalid_event"),
        (7, "invalid_event"),
        (8, "invalid_event"),
    }
    assert "jane@example.com" not in str(report)
    stored = {e.event_id for e in service.iter_events(session, subject_id)}
    assert stored == {"evt-1", "evt-2", "evt-8"}
    assert "evt-5" not in stored  # the event without lawful basis is absent

    with transaction(session):
        again = service.ingest_events(session, subject_id, batch[:2], actor=ACTOR, lawful_categories=lawful)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert session.scalar(sa.select(sa.func.count()).select_from(Event)) == 3
    details = _audit(session, "vault.events.ingest")[0].details
    assert details["accepted"] == 3
    assert details["rejected"]["no_lawful_basis"] == 1


def test_intake_limit(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    with pytest.raises(IntakeTooLargeError):
        service.ingest_events(
            session, subject_id, [event(i) for i in range(10_001)], actor=ACTOR, lawful_categories={"view"}
        )


def test_events_decrypt_with_filters(session: Session, make_subject: MakeSubject) -> None:
    subject_id = make_subject()
    events = [event(i, "view" if i % 2 else "click") for i in range(20)]
    with transaction(session):
        service.ingest_events(session, subject_id, events, actor=ACTOR, lawful_categories=ALL_EVENT_CATEGORIES)
    views = list(service.iter_events(session, subject_id, categories=["view"]))
    assert len(views) == 10
    assert views[0].value == 12.5
    assert views[0].context == {"time_of_day": "evening", "device": "mobile"}
    assert views[0].item_id == "item-1"
    assert [v.occurred_at for v in views] == sorted(v.occurred_at for v in views)
    since = views[2].occurred_at
    assert len(list(service.iter_events(session, subject_id, since=since))) == 20 - 5
    assert service.event_counts(session, subject_id) == {"view": 10, "click": 10}
    assert service.event_counts_by_month(session, subject_id) == {"2026-01": {"view": 10, "click": 10}}
    assert service.event_counts_by_month(session, subject_id, since=since) == {"2026-01": {"view": 8, "click": 7}}


def test_release_rows_stream_in_order_and_skip_erased(session: Session, make_subject: MakeSubject) -> None:
    ids = [make_subject() for _ in range(4)]
    with transaction(session):
        for n, subject_id in enumerate(ids):
            service.ingest_events(
                session,
                subject_id,
                [event(n), event(n + 100, "click")],
                actor=ACTOR,
                lawful_categories={"view", "click"},
            )
        service.shred_subject(session, ids[1], actor=ACTOR, reason="erasure request")
    rows = list(
        service.iter_release_rows(
            session,
            [ids[3], ids[1], ids[0], ids[2]],
            fields=["country", "birth_date"],
            event_categories=["view"],
            since=None,
            until=None,
        )
    )
    assert [r.subject_id for r in rows] == [ids[3], ids[0], ids[2]]
    assert rows[0].profile == {"country": "DE", "birth_date": "1990-02-03"}
    assert [e.category for e in rows[0].events] == ["view"]
    assert service.erased_ids(session, ids) == {ids[1]}
    assert set(service.all_active_subject_ids(session)) == {ids[0], ids[2], ids[3]}


def test_tampered_or_moved_ciphertext_is_detected(session: Session, make_subject: MakeSubject) -> None:
    alice, bob, carol = make_subject(), make_subject(), make_subject()
    with transaction(session):
        row = session.get(ProfileFieldValue, (alice, "email"))
        tampered = bytearray(row.ciphertext)
        tampered[-1] ^= 1
        row.ciphertext = bytes(tampered)
        # Bob's name ciphertext copied into Carol's name field (another subject's key and associated data)
        session.get(ProfileFieldValue, (carol, "name")).ciphertext = session.get(
            ProfileFieldValue, (bob, "name")
        ).ciphertext
        # Carol's own email ciphertext copied into her phone field (same key, another field)
        session.get(ProfileFieldValue, (bob, "phone")).ciphertext = session.get(
            ProfileFieldValue, (bob, "email")
        ).ciphertext
    for subject_id in (alice, bob, carol):
        with pytest.raises(VaultIntegrityError) as caught:
            service.read_profile(session, subject_id, actor=ACTOR, view="masked")
        assert "Jane" not in str(caught.value)
        session.rollback()


def test_unknown_subject(session: Session) -> None:
    with pytest.raises(SubjectNotFoundError):
        service.get_subject(session, uuid.uuid4())


def test_catalog_is_exposed() -> None:
    from flask import Flask

    app = Flask("bare")
    with app.app_context(), pytest.raises(RuntimeError, match="not configured"):
        service.categories()


def test_create_subjects_in_bulk_is_create_subject_many_times(session: Session) -> None:
    items = [
        {"external_ref": "bulk-1", "profile": PROFILE},
        {"external_ref": "bulk-2", "profile": {"country": "fr"}, "jurisdiction": "us-ca"},
        {"external_ref": "bulk-3"},
    ]
    with transaction(session):
        views = service.create_subjects(session, items, actor=ACTOR)
    dump = dump_all_rows(session.get_bind()).lower()
    assert "jane" not in dump
    assert "bulk-1" not in dump
    assert [v.jurisdiction for v in views] == ["EU", "US-CA", "EU"]
    assert service.find_subject(session, external_ref="bulk-2").id == views[1].id
    assert service.find_subject(session, email="jane.doe@example.com").id == views[0].id
    assert service.read_profile(session, views[1].id, actor=ACTOR, view="clear")["fields"] == {"country": "FR"}
    rows = list(
        service.iter_release_rows(
            session, [v.id for v in views], fields=["country"], event_categories=["view"], since=None, until=None
        )
    )
    assert [r.profile for r in rows] == [{"country": "DE"}, {"country": "FR"}, {}]
    created = {e.target_id for e in _audit(session, "vault.subject.create")}
    assert {str(v.id) for v in views} <= created


def test_create_subjects_validates_everything_first(session: Session) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(Subject))
    with pytest.raises(ProfileInvalidError) as caught, transaction(session):
        service.create_subjects(
            session,
            [{"external_ref": "ok-1"}, {"external_ref": "ok-2", "profile": {"email": "not an email", "shoe": 1}}],
            actor=ACTOR,
        )
    assert set(caught.value.fields) == {"1.email", "1.(unknown 1)"}  # unknown names by position
    with pytest.raises(SubjectExistsError), transaction(session):
        service.create_subjects(session, [{"external_ref": "dup"}, {"external_ref": "dup"}], actor=ACTOR)
    with transaction(session):
        service.create_subjects(session, [{"external_ref": "dup"}], actor=ACTOR)
    with pytest.raises(SubjectExistsError), transaction(session):
        service.create_subjects(session, [{"external_ref": "new"}, {"external_ref": "dup"}], actor=ACTOR)
    assert session.scalar(sa.select(sa.func.count()).select_from(Subject)) == (before or 0) + 1


def test_release_reads_use_the_subject_index(session: Session, backend: str) -> None:
    """The per-chunk event read must seek by subject, not scan every event of the categories: SQLite plans it
    without statistics; on PostgreSQL it is planned on an analyzed table of 20,000 subjects x 10 events (inside
    a transaction that is rolled back, statistics included)."""
    ids = [uuid.uuid4() for _ in range(500)]
    query = service._release_event_query(ids, ["view", "click", "purchase"], None, None)
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
    try:
        if backend == "postgresql":
            session.execute(
                sa.text(
                    "INSERT INTO vault_subjects (id, jurisdiction, status, key_version, created_at, updated_at) "
                    "SELECT md5(g::text)::uuid, 'EU', 'active', 1, now(), now() FROM generate_series(1, 20000) g"
                )
            )
            session.execute(
                sa.text(
                    "INSERT INTO vault_events (subject_id, event_id, category, occurred_at, received_at, key_version,"
                    " ciphertext) SELECT s.id, 'e' || e, (ARRAY['view', 'click', 'purchase', 'search', 'rating'])"
                    "[1 + e % 5], now() - e * interval '1 hour', now(), 1, '\\x00'::bytea "
                    "FROM vault_subjects s, generate_series(1, 10) e"
                )
            )
            session.execute(sa.text("ANALYZE vault_subjects"))
            session.execute(sa.text("ANALYZE vault_events"))
            ids = list(session.scalars(sa.text("SELECT id FROM vault_subjects ORDER BY random() LIMIT 500")))
            query = service._release_event_query(ids, ["view", "click", "purchase"], None, None)
            compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        plan = " ".join(str(row) for row in session.execute(sa.text(explain + str(compiled))))
    finally:
        session.rollback()
    if backend == "sqlite":
        assert "ix_vault_events_subject_id_category_occurred_at" in plan
    assert "ix_vault_events_category_occurred_at" not in plan


def test_release_reads_detect_moved_event_ciphertexts(session: Session, make_subject: MakeSubject) -> None:
    alice, bob = make_subject(), make_subject()
    with transaction(session):
        for n, subject_id in enumerate((alice, bob)):
            service.ingest_events(session, subject_id, [event(n)], actor=ACTOR, lawful_categories={"view"})
    with transaction(session):
        # Bob's event ciphertext copied onto Alice's event (another subject's key and another event id)
        theirs = session.scalar(sa.select(Event).where(Event.subject_id == bob))
        session.scalar(sa.select(Event).where(Event.subject_id == alice)).ciphertext = theirs.ciphertext

    def read(ids: list[uuid.UUID]) -> list[service.SubjectRows]:
        return list(
            service.iter_release_rows(session, ids, fields=[], event_categories=["view"], since=None, until=None)
        )

    assert len(read([bob])[0].events) == 1
    with pytest.raises(VaultIntegrityError):
        read([alice, bob])
    session.rollback()
