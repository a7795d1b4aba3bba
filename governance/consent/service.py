"""The consent service: what every other domain calls (docs/contracts.md). Never commits: the caller owns the
transaction, and every state change is written together with its ledger event and audit entry.

Reads are built for the hot path: the purpose catalog is loaded once, and `is_permitted` is one primary-key
lookup of the derived state row plus a pure evaluation (`state.evaluate`).
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from joserfc.jwk import OKPKey
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef, Principal
from governance.consent import state as logic
from governance.consent.errors import (
    BasisNotConsentError,
    InvalidDecisionError,
    ObjectionNotApplicableError,
    UnknownPurposeError,
)
from governance.consent.models import ConsentEvent, ConsentState, ReceiptSigningKey
from governance.consent.policy import Purpose, PurposeCatalog, load_catalog
from governance.consent.receipts import ReceiptFacts, build_receipt, key_id, sign_receipts, verify_receipt
from governance.consent.state import Decision, Method, Permission, Reason
from governance.db import utcnow
from governance.outbox import service as outbox
from governance.settings import PROJECT_ROOT

__all__ = [
    "ConsentEventView",
    "DecisionInput",
    "Permission",
    "PurposeStatus",
    "Receipt",
    "apply_gpc",
    "check_many",
    "delivery_status",
    "expire_due",
    "history",
    "is_permitted",
    "iter_permitted_subjects",
    "lawful_event_categories",
    "lift_objection",
    "notify_processors",
    "object_to",
    "overview",
    "permitted_subjects_select",
    "purpose",
    "purposes",
    "receipts",
    "record_decisions",
    "verify_receipt_token",
    "withdraw_all",
]

CATALOG_EXTENSION = "governance.consent.catalog"
SIGNER_EXTENSION = "governance.consent.signer"
KNOWN_KEYS_EXTENSION = "governance.consent.receipt_keys"
RECEIPT_KEY_NAME = "consent_receipts"
DEFAULT_CLOCK_SKEW = dt.timedelta(minutes=2)
_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6})?$")
EVIDENCE_KEYS = frozenset(
    {
        "banner_id",
        "ui_element",
        "page",
        "user_agent_sha256",
        "ip_network_sha256",
        "source_platform",
        "source_record_id",
        "request_id",
        "gpc",
    }
)
_BULK_CHUNK = 50_000  # ids per bulk-check query (one bound value, so no variable limit applies)

_default_catalog: PurposeCatalog | None = None


# --- the purpose catalog -------------------------------------------------------------------------------------


def load_purposes(policies_dir: Path) -> PurposeCatalog:
    """Load and validate `purposes.yaml` and the notices, and check the categories against the vault's catalog."""
    catalog = load_catalog(policies_dir / "purposes.yaml")
    categories = policies_dir / "categories.yaml"
    if categories.exists():
        catalog.check_categories_file(categories)
    return catalog


def purposes() -> PurposeCatalog:
    """The purpose catalog in force (the app's, else the repository's `policies/`)."""
    if has_app_context():
        catalog = current_app.extensions.get(CATALOG_EXTENSION)
        if catalog is not None:
            return catalog
    global _default_catalog
    if _default_catalog is None:
        _default_catalog = load_purposes(PROJECT_ROOT / "policies")
    return _default_catalog


def purpose(key: str) -> Purpose:
    """The purpose with `key`; raises UnknownPurposeError (422, listing the valid keys)."""
    catalog = purposes()
    found = catalog.get(key)
    if found is None:
        raise UnknownPurposeError(key, catalog.keys)
    return found


# --- views ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionInput:
    """One decision as collected by the product or the dashboard."""

    purpose: str
    decision: str  # granted | withdrawn
    collected_at: dt.datetime | None = None  # when the subject decided; default: now
    notice_version: int | None = None  # the notice shown; default: the current one

    @classmethod
    def of(cls, value: DecisionInput | Mapping[str, Any]) -> DecisionInput:
        if isinstance(value, DecisionInput):
            return value
        return cls(
            purpose=str(value["purpose"]),
            decision=str(value["decision"]),
            collected_at=value.get("collected_at"),
            notice_version=value.get("notice_version"),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    record_id: uuid.UUID
    purpose: str
    decision: str
    superseded: bool
    receipt: dict[str, Any]
    jws: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "record_id": str(self.record_id),
            "purpose": self.purpose,
            "decision": self.decision,
            "superseded": self.superseded,
            "receipt": self.receipt,
            "jws": self.jws,
        }


@dataclass(frozen=True, slots=True)
class ConsentEventView:
    id: uuid.UUID
    purpose: str
    decision: str
    seq: int
    collected_at: dt.datetime
    recorded_at: dt.datetime
    notice_version: int
    notice_sha256: str
    method: str
    jurisdiction: str
    actor_kind: str
    superseded: bool
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PurposeStatus:
    """One purpose as the dashboard and the API show it to a subject."""

    purpose: str
    title: str
    description: str
    legal_basis: str
    allowed: bool
    reason: str
    decision: str | None
    decided_at: dt.datetime | None
    notice_version: int | None
    current_notice_version: int
    needs_renewal: bool
    expires_at: dt.datetime | None
    objected: bool
    sale_or_sharing: bool


# --- reads (the hot path) ------------------------------------------------------------------------------------

_state_table = ConsentState.__table__
_STATE_BY_KEY = sa.select(
    _state_table.c.decision,
    _state_table.c.decided_at,
    _state_table.c.notice_version,
    _state_table.c.objected,
).where(_state_table.c.subject_id == sa.bindparam("s"), _state_table.c.purpose == sa.bindparam("p"))


def _row_state(row: Any) -> logic.ConsentState:
    if row is None:
        return logic.EMPTY
    return logic.ConsentState(
        decision=Decision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        notice_version=row.notice_version,
        objected=bool(row.objected),
    )


def is_permitted(
    session: Session, subject_id: uuid.UUID, purpose: str, *, now: dt.datetime | None = None
) -> Permission:
    """Whether `purpose` may use the subject's data now, with the reason (see `state.Reason`)."""
    found = purposes().get(purpose)
    if found is None:
        return logic.PERMISSIONS[Reason.UNKNOWN_PURPOSE]
    if not found.requires_consent and not found.objectable:
        return logic.PERMISSIONS[Reason.BASIS_NOT_CONSENT]
    row = session.execute(_STATE_BY_KEY, {"s": subject_id, "p": purpose}).first()
    return logic.evaluate(found, _row_state(row), now or utcnow())


def _chunks(items: Sequence[uuid.UUID], size: int = _BULK_CHUNK) -> Iterator[Sequence[uuid.UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason_sql(found: Purpose, moment: dt.datetime) -> sa.ColumnElement[str]:
    """`state.evaluate` as a SQL CASE over the state row, for bulk reads (tests keep the two in agreement)."""
    t = _state_table.c
    whens: list[tuple[sa.ColumnElement[bool], str]] = []
    if found.objectable:
        whens.append((t.objected.is_(True), Reason.OBJECTED.value))
    if not found.requires_consent:
        return sa.case(*whens, else_=sa.literal(Reason.BASIS_NOT_CONSENT.value))
    whens += [
        (t.decision.is_(None), Reason.NO_CONSENT.value),
        (t.decision == Decision.WITHDRAWN.value, Reason.WITHDRAWN.value),
        (t.decision == Decision.EXPIRED.value, Reason.EXPIRED.value),
        (sa.func.coalesce(t.notice_version, 0) < found.renewal_from_version, Reason.NEEDS_RENEWAL.value),
    ]
    if found.max_consent_age is not None:
        whens.append((t.decided_at <= moment - found.max_consent_age, Reason.EXPIRED.value))
    return sa.case(*whens, else_=sa.literal(Reason.GRANTED.value))


def check_many(
    session: Session, subject_ids: Iterable[uuid.UUID], purpose: str, *, now: dt.datetime | None = None
) -> dict[uuid.UUID, Permission]:
    """`is_permitted` for many subjects at once: the database evaluates the rule in one query per 50,000 ids.

    The ids travel as ONE bound value (a JSON array read with `json_each` on SQLite, a `uuid[]` on PostgreSQL),
    not one placeholder each: no SQL text to render per call, no variable limit, and the statement is cached.
    Each id is one probe of the (purpose, subject_id, …) covering index.
    """
    found = purposes().get(purpose)
    if found is None:
        return dict.fromkeys(subject_ids, logic.PERMISSIONS[Reason.UNKNOWN_PURPOSE])
    if not found.requires_consent and not found.objectable:
        return dict.fromkeys(subject_ids, logic.PERMISSIONS[Reason.BASIS_NOT_CONSENT])
    moment = now or utcnow()
    # Subjects without a state row keep the default; one dict pass also removes duplicates (UUID hashing is slow).
    result = dict.fromkeys(subject_ids, logic.evaluate(found, logic.EMPTY, moment))
    ids = list(result)
    permissions = {r.value: p for r, p in logic.PERMISSIONS.items()}
    stmt = _check_many_statement(session, found, moment)
    if session.get_bind().dialect.name == "postgresql":
        for chunk in _chunks(ids, _BULK_CHUNK):
            for sid, reason in session.execute(stmt, {"ids": list(chunk)}).all():
                result[sid] = permissions[reason]
        return result
    # SQLite: ids go out and come back as the 32 hex digits our Uuid column stores; map them to the caller's objects.
    for chunk in _chunks(ids, _BULK_CHUNK):
        by_hex = {sid.hex: sid for sid in chunk}
        for key, reason in session.execute(stmt, {"ids": json.dumps(list(by_hex))}).all():
            result[by_hex[key]] = permissions[reason]
    return result


def _check_many_statement(session: Session, found: Purpose, moment: dt.datetime) -> sa.Select[Any]:
    t = _state_table.c
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        wanted: sa.ColumnElement[bool] = t.subject_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Uuid())))
        subject = t.subject_id
    else:
        ids = sa.func.json_each(sa.bindparam("ids", type_=sa.String())).table_valued("value")
        wanted = sa.type_coerce(t.subject_id, sa.String()).in_(sa.select(ids.c.value))
        subject = sa.type_coerce(t.subject_id, sa.String())
    return sa.select(subject, _reason_sql(found, moment)).where(t.purpose == found.key, wanted)


def permitted_subjects_select(purpose: str, *, now: dt.datetime | None = None) -> sa.Select[Any] | None:
    """The ids `iter_permitted_subjects` gives, as one SELECT of a `subject_id` column that another domain can
    embed in its own statement (e.g. `vault.bounded_event_count`: an aggregate without shipping the ids), for
    consent purposes; None for other bases (their rule needs the vault's subjects: use the iterator)."""
    found = purposes().get(purpose)
    if found is None:
        raise UnknownPurposeError(purpose, purposes().keys)
    if not found.requires_consent:
        return None
    t = _state_table.c
    conditions = [
        t.purpose == purpose,
        t.decision == Decision.GRANTED.value,
        t.notice_version >= found.renewal_from_version,
        t.objected.is_(False),
    ]
    if found.max_consent_age is not None:
        conditions.append(t.decided_at > (now or utcnow()) - found.max_consent_age)
    return sa.select(t.subject_id).where(*conditions)


def iter_permitted_subjects(
    session: Session, purpose: str, *, now: dt.datetime | None = None, batch_size: int = 5000
) -> Iterator[uuid.UUID]:
    """Every subject `purpose` may use now, streamed (the database filters; memory stays bounded).

    For consent purposes: granted, to a notice at or after the last material change, not over age, no
    objection. For other bases: every active subject (from the vault) minus those who objected.
    """
    found = purposes().get(purpose)
    if found is None:
        raise UnknownPurposeError(purpose, purposes().keys)
    moment = now or utcnow()
    t = _state_table.c
    permitted = permitted_subjects_select(purpose, now=moment)
    if permitted is not None:
        yield from _stream_ids(session, permitted, batch_size)
        return
    from governance.vault import service as vault

    objected: set[uuid.UUID] = set()
    if found.objectable:
        objected = set(session.scalars(sa.select(t.subject_id).where(t.purpose == purpose, t.objected.is_(True))))
    for subject_id in vault.all_active_subject_ids(session):
        if subject_id not in objected:
            yield subject_id


def _stream_ids(session: Session, stmt: sa.Select[Any], batch_size: int) -> Iterator[uuid.UUID]:
    """Stream one Uuid column, reading the DB-API cursor directly: building a SQLAlchemy Row per id costs more
    than the query. Memory stays bounded and other statements may run on the session between items.

    PostgreSQL: a named (server-side) psycopg cursor, fetched `batch_size` rows at a time; the statement's bound
    values are plain (str, int, aware datetime), so SQLAlchemy's compiled parameters pass through unchanged.
    SQLite: its cursors step the statement lazily already; ids come back as the 32 hex digits the Uuid column
    stores. (SQLAlchemy's `stream_results` strategy pre-fetches a row into its own buffer, so it is not used.)
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        compiled = stmt.compile(dialect=connection.dialect)
        dbapi = connection.connection.dbapi_connection
        with dbapi.cursor(name=f"consent_ids_{uuid.uuid4().hex}") as cursor:  # type: ignore[union-attr]
            cursor.execute(str(compiled), compiled.params)
            while rows := cursor.fetchmany(batch_size):
                yield from map(_first, rows)
        return
    result = connection.execute(stmt)
    try:
        while rows := result.cursor.fetchmany(batch_size):
            yield from map(_uuid_from_hex, map(_first, rows))
    finally:
        result.close()


_first = operator.itemgetter(0)
_new_object = object.__new__
_set_attribute = object.__setattr__


def _uuid_from_hex(value: str) -> uuid.UUID:
    """uuid.UUID(hex=…) without its argument parsing: the value comes from our own Uuid column (32 hex digits)."""
    result = _new_object(uuid.UUID)
    _set_attribute(result, "int", int(value, 16))
    _set_attribute(result, "is_safe", uuid.SafeUUID.unknown)
    return result


def _states_of(session: Session, subject_id: uuid.UUID) -> dict[str, logic.ConsentState]:
    t = _state_table.c
    rows = session.execute(
        sa.select(t.purpose, t.decision, t.decided_at, t.notice_version, t.objected).where(t.subject_id == subject_id)
    )
    return {row.purpose: _row_state(row) for row in rows}


def lawful_event_categories(session: Session, subject_id: uuid.UUID, *, now: dt.datetime | None = None) -> set[str]:
    """Event categories that at least one purpose permitted for the subject may use (collection minimization)."""
    states = _states_of(session, subject_id)
    moment = now or utcnow()
    categories: set[str] = set()
    for item in purposes():
        if logic.evaluate(item, states.get(item.key), moment).allowed:
            categories.update(item.event_categories)
    return categories


def overview(session: Session, subject_id: uuid.UUID, *, now: dt.datetime | None = None) -> list[PurposeStatus]:
    """Every purpose with the subject's current state: what the dashboard and `GET …/consents` show."""
    states = _states_of(session, subject_id)
    moment = now or utcnow()
    out = []
    for item in purposes():
        current = states.get(item.key, logic.EMPTY)
        permission = logic.evaluate(item, current, moment)
        out.append(
            PurposeStatus(
                purpose=item.key,
                title=item.title,
                description=item.description,
                legal_basis=item.legal_basis.value,
                allowed=permission.allowed,
                reason=permission.reason,
                decision=current.decision.value if current.decision else None,
                decided_at=current.decided_at,
                notice_version=current.notice_version,
                current_notice_version=item.current_notice.version,
                needs_renewal=permission.reason == Reason.NEEDS_RENEWAL,
                expires_at=logic.expires_at(item, current),
                objected=current.objected,
                sale_or_sharing=item.sale_or_sharing,
            )
        )
    return out


def history(session: Session, subject_id: uuid.UUID) -> list[ConsentEventView]:
    """The subject's ledger, oldest recorded first (superseded events included and marked)."""
    rows = session.scalars(
        sa.select(ConsentEvent)
        .where(ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.purpose, ConsentEvent.seq)
    )
    return [
        ConsentEventView(
            id=e.id,
            purpose=e.purpose,
            decision=e.decision,
            seq=e.seq,
            collected_at=e.collected_at,
            recorded_at=e.recorded_at,
            notice_version=e.notice_version,
            notice_sha256=e.notice_sha256,
            method=e.method,
            jurisdiction=e.jurisdiction,
            actor_kind=e.actor_kind,
            superseded=e.superseded,
            evidence=dict(e.evidence or {}),
        )
        for e in rows
    ]


def receipts(session: Session, subject_id: uuid.UUID) -> list[dict[str, Any]]:
    """Every receipt issued for the subject, as issued (body and signed JWS), oldest first."""
    rows = session.execute(
        sa.select(ConsentEvent.id, ConsentEvent.purpose, ConsentEvent.decision, ConsentEvent.superseded)
        .add_columns(ConsentEvent.receipt_jws)
        .where(ConsentEvent.subject_id == subject_id)
        .order_by(ConsentEvent.recorded_at, ConsentEvent.purpose, ConsentEvent.seq)
    )
    keys = public_keys(session)
    return [
        Receipt(
            record_id=row.id,
            purpose=row.purpose,
            decision=row.decision,
            superseded=row.superseded,
            receipt=verify_receipt(row.receipt_jws, keys),
            jws=row.receipt_jws,
        ).as_dict()
        for row in rows
    ]


# --- receipt keys --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Signer:
    """This process's receipt signing key. `published` turns true once its public key is known to be committed
    in `consent_receipt_keys` (until then every write also inserts it, in the write's own transaction)."""

    key: OKPKey
    kid: str
    public: OKPKey
    raw: Any = None  # the cryptography Ed25519PrivateKey (receipts of one request are signed with it in one pass)
    published: bool = False


def _signer() -> _Signer:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signer = app.extensions.get(SIGNER_EXTENSION)
    if signer is None:
        from cryptography.hazmat.primitives import serialization

        private = app.extensions["governance.keys"].signing_key(RECEIPT_KEY_NAME)
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key = OKPKey.import_key(pem)
        signer = _Signer(key, key_id(key), OKPKey.import_key(key.as_dict(private=False)), raw=private)
        app.extensions[SIGNER_EXTENSION] = signer
        _known_keys(app)[signer.kid] = signer.public
    return signer


def _known_keys(app: Any) -> dict[str, OKPKey]:
    """Public receipt keys by kid, cached per app (a kid names one key forever: it is the key's thumbprint)."""
    return app.extensions.setdefault(KNOWN_KEYS_EXTENSION, {})


def _publish_signing_key(session: Session, signer: _Signer, now: dt.datetime) -> None:
    """Make sure the key signing this write's receipts is in `consent_receipt_keys` when the write commits, so
    that its receipts stay verifiable after the key is rotated.

    Until the process knows the row is committed, each write looks for it in its own transaction: found, and not
    inserted by this very transaction (whose insert might still roll back), means committed, and later writes
    skip the check. Otherwise the write inserts it (ON CONFLICT DO NOTHING). No second connection is used: on
    SQLite it would wait for the write lock this transaction holds.
    """
    if signer.published:
        return
    pending: set[str] = session.info.setdefault(_KEYS_INSERTED, set())
    found = session.scalar(sa.select(ReceiptSigningKey.kid).where(ReceiptSigningKey.kid == signer.kid))
    if found is not None and signer.kid not in pending:
        signer.published = True
        return
    if found is None:
        from governance.consent.receipts import public_jwk

        inserted = session.scalar(
            _dialect_insert(session)(ReceiptSigningKey)
            .values(kid=signer.kid, public_jwk=public_jwk(signer.public), first_used_at=now)
            .on_conflict_do_nothing()
            .returning(ReceiptSigningKey.kid)
        )
        if inserted is not None:  # not when a concurrent transaction published it first
            audit.record(
                session,
                actor=ActorRef("system", "consent.receipts"),
                action="consent.receipt_key.published",
                target=("receipt_key", signer.kid),
                details={"kid": signer.kid, "alg": "Ed25519"},
            )
        pending.add(signer.kid)
        if not sa.event.contains(session, "after_transaction_end", _forget_inserted_keys):
            sa.event.listen(session, "after_transaction_end", _forget_inserted_keys)


_KEYS_INSERTED = "governance.consent.receipt_keys_inserted"


def _forget_inserted_keys(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its inserts are committed or gone
        session.info.pop(_KEYS_INSERTED, None)


class _ReceiptKeys(Mapping[str, OKPKey]):
    """Every public key that ever signed a receipt here, by kid: the current one, then `consent_receipt_keys`."""

    def __init__(self, session: Session | None) -> None:
        self._session = session
        self._cache = _known_keys(current_app._get_current_object())  # type: ignore[attr-defined]
        _signer()

    def __getitem__(self, kid: str) -> OKPKey:
        key = self._cache.get(kid)
        if key is None and self._session is not None and len(kid) <= 64:
            jwk = self._session.scalar(sa.select(ReceiptSigningKey.public_jwk).where(ReceiptSigningKey.kid == kid))
            if jwk is not None:
                key = self._cache[kid] = OKPKey.import_key({k: v for k, v in jwk.items() if k in ("kty", "crv", "x")})
        if key is None:
            raise KeyError(kid)
        return key

    def __iter__(self) -> Iterator[str]:
        kids = list(self._cache)
        if self._session is not None:
            stored = self._session.scalars(sa.select(ReceiptSigningKey.kid).order_by(ReceiptSigningKey.first_used_at))
            kids += [kid for kid in stored if kid not in self._cache and self.get(kid) is not None]
        return iter(kids)

    def __len__(self) -> int:
        return len(list(iter(self)))


def public_keys(session: Session | None = None) -> Mapping[str, OKPKey]:
    """The public keys receipts can be verified with, by key id: the current signing key and, given a session,
    every earlier one recorded in `consent_receipt_keys` (receipts stay verifiable after a key rotation)."""
    return _ReceiptKeys(session)


def public_jwks(session: Session | None = None) -> dict[str, Any]:
    """The receipt verification keys as a JWK Set (published for offline verification), current key first."""
    from governance.consent.receipts import public_jwk

    keys = public_keys(session)
    current = _signer().kid
    kids = [current, *(kid for kid in keys if kid != current)]
    return {"keys": [public_jwk(keys[kid]) for kid in kids]}


def verify_receipt_token(session: Session, token: str) -> dict[str, Any]:
    """Verify a receipt's signature and say whether the record is in the ledger and still in force.

    Raises InvalidReceiptError when the signature does not verify.
    """
    body = verify_receipt(token, public_keys(session))
    result: dict[str, Any] = {"valid": True, "receipt": body, "in_ledger": False, "current": False}
    try:
        record_id = uuid.UUID(str(body.get("record_id")))
    except ValueError:
        return result
    event = session.get(ConsentEvent, record_id)
    if event is None or event.receipt_jws != token:
        return result
    result["in_ledger"] = True
    state_row = session.get(ConsentState, (event.subject_id, event.purpose))
    result["current"] = bool(
        state_row is not None
        and not event.superseded
        and (state_row.decided_seq == event.seq or state_row.objection_seq == event.seq)
    )
    return result


# --- writes --------------------------------------------------------------------------------------------------


def _clock_skew() -> dt.timedelta:
    if has_app_context():
        settings = current_app.extensions.get("governance.settings")
        if settings is not None:
            return dt.timedelta(seconds=settings.get_int("CONSENT_CLOCK_SKEW_SECONDS", 120))
    return DEFAULT_CLOCK_SKEW


def _actor_ref(actor: Principal | ActorRef) -> ActorRef:
    return actor.ref if isinstance(actor, Principal) else actor


def _clean_evidence(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    """Evidence is an allow-list of short, non-personal values (hashes, ids of the banner or page shown)."""
    cleaned: dict[str, Any] = {}
    for key, value in (evidence or {}).items():
        if key not in EVIDENCE_KEYS:
            raise InvalidDecisionError(
                "Evidence may only hold: " + ", ".join(sorted(EVIDENCE_KEYS)) + ".",
                fields={f"evidence.{key}"[:80]: "not an accepted evidence field"},
            )
        if isinstance(value, bool) or (isinstance(value, str) and len(value) <= 128):
            cleaned[key] = value
        else:
            raise InvalidDecisionError(fields={f"evidence.{key}": "must be a string of at most 128 characters"})
    return cleaned


def _check_jurisdiction(jurisdiction: str) -> str:
    if not isinstance(jurisdiction, str) or not _JURISDICTION.match(jurisdiction):
        raise InvalidDecisionError(
            "Jurisdiction must be an ISO 3166 code such as EU, DE, US-CA.", fields={"jurisdiction": "invalid"}
        )
    return jurisdiction


@dataclass(frozen=True, slots=True)
class _Planned:
    purpose: Purpose
    decision: Decision
    collected_at: dt.datetime
    notice_version: int


def _validate(decisions: Sequence[DecisionInput], *, now: dt.datetime, allowed: frozenset[Decision]) -> list[_Planned]:
    catalog = purposes()
    skew = _clock_skew()
    planned: list[_Planned] = []
    seen: set[str] = set()
    for index, item in enumerate(decisions):
        where = f"decisions.{index}"
        found = catalog.get(item.purpose)
        if found is None:
            raise UnknownPurposeError(item.purpose, catalog.keys)
        if item.purpose in seen:
            raise InvalidDecisionError(
                "A purpose may appear only once per request.", fields={f"{where}.purpose": "duplicate"}
            )
        seen.add(item.purpose)
        try:
            decision = Decision(item.decision)
        except ValueError:
            decision = None
        if decision is None or decision not in allowed:
            names = ", ".join(sorted(d.value for d in allowed))
            raise InvalidDecisionError(f"Decision must be one of: {names}.", fields={f"{where}.decision": "invalid"})
        if decision in logic.CONSENT_DECISIONS and not found.requires_consent:
            raise BasisNotConsentError(
                f"Purpose '{found.key}' rests on {found.legal_basis.value}, not consent: no consent is recorded.",
                fields={f"{where}.purpose": "legal basis is not consent"},
            )
        collected_at = item.collected_at or now
        if collected_at.tzinfo is None:
            raise InvalidDecisionError(
                "Times must carry a time zone.", fields={f"{where}.collected_at": "naive datetime"}
            )
        if collected_at > now + skew:
            raise InvalidDecisionError(
                "The collection time is in the future.",
                code="collected_at_in_future",
                fields={f"{where}.collected_at": "in the future beyond the allowed clock skew"},
            )
        version = item.notice_version if item.notice_version is not None else found.current_notice.version
        try:
            notice = found.notice(version)
        except KeyError:
            raise InvalidDecisionError(
                f"Purpose '{found.key}' has no notice version {version}.",
                fields={f"{where}.notice_version": "unknown version"},
            ) from None
        if decision == Decision.GRANTED and collected_at.date() < notice.published:
            raise InvalidDecisionError(
                "The consent is dated before its notice version was published.",
                fields={f"{where}.collected_at": "before the notice was published"},
            )
        planned.append(_Planned(found, decision, collected_at.astimezone(dt.UTC), version))
    return planned


def _dialect_insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


@dataclass(slots=True)
class _StateRow:
    """A locked `consent_state` row as plain values (the write path uses Core: an ORM object per row cost more
    CPU than the statements)."""

    subject_id: uuid.UUID
    purpose: str
    decision: str | None
    decided_at: dt.datetime | None
    decided_seq: int
    notice_version: int | None
    objected: bool
    objection_at: dt.datetime | None
    objection_seq: int
    last_seq: int
    updated_at: dt.datetime


_STATE_FIELDS = tuple(_StateRow.__dataclass_fields__)


def _lock_states(
    session: Session, subject_id: uuid.UUID, keys: Iterable[str], now: dt.datetime
) -> dict[str, _StateRow]:
    """The state rows of (subject, purposes), created if absent and locked, in ONE statement; empty when the
    subject is unknown or erased (the vault's row is read in the same statement: no separate subject lookup).

    `INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING` creates missing rows and row-locks existing ones
    (PostgreSQL locks a conflicting row to update it, and holds the lock to the end of the transaction) in the
    order of the SELECT, which is sorted by purpose: concurrent writers lock in the same order, so they cannot
    deadlock. The no-op update touches no indexed column. (SQLite: the transaction already holds the database
    write lock.) The purposes travel as ONE bound value, so the statement is compiled once per process.
    """
    ordered = sorted(set(keys))
    if session.get_bind().dialect.name == "postgresql":
        bound = {"s": subject_id, "purposes": ordered, "now": now}
        stmt = _LOCK_STATES["postgresql"]
    else:
        bound = {"s": subject_id, "purposes": json.dumps(ordered), "now": now}
        stmt = _LOCK_STATES["sqlite"]
    return {row.purpose: _StateRow(*row) for row in session.execute(stmt, bound)}


def _lock_states_statement(dialect: str) -> Any:
    from governance.vault.models import Subject

    t = _state_table
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY, insert

        unnest = sa.func.unnest(sa.bindparam("purposes", type_=ARRAY(sa.String())))
        wanted = unnest.table_valued("value").render_derived(name="wanted")  # unnest(...) AS wanted(value)
    else:
        from sqlalchemy.dialects.sqlite import insert

        wanted = sa.func.json_each(sa.bindparam("purposes", type_=sa.String())).table_valued("value")
    vault = Subject.__table__
    rows = (
        sa.select(
            vault.c.id,
            sa.cast(wanted.c.value, sa.String()),
            sa.literal(0),
            sa.false(),
            sa.literal(0),
            sa.literal(0),
            sa.bindparam("now", type_=t.c.updated_at.type),
        )
        .select_from(vault.join(wanted, sa.true()))
        .where(vault.c.id == sa.bindparam("s", type_=sa.Uuid()), vault.c.status == "active")
        .order_by(wanted.c.value)
    )
    columns = ["subject_id", "purpose", "decided_seq", "objected", "objection_seq", "last_seq", "updated_at"]
    stmt = insert(t).from_select(columns, rows)
    return stmt.on_conflict_do_update(
        index_elements=[t.c.subject_id, t.c.purpose],
        set_={"last_seq": t.c.last_seq},  # unchanged: the update is only there to lock the row
    ).returning(*(t.c[name] for name in _STATE_FIELDS))


_LOCK_STATES = {"postgresql": _lock_states_statement("postgresql"), "sqlite": _lock_states_statement("sqlite")}
_STATE_MAPPER = sa.inspect(ConsentState)


def _save_states_statement(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(_state_table)
    return stmt.on_conflict_do_update(
        index_elements=[_state_table.c.subject_id, _state_table.c.purpose],
        set_={name: stmt.excluded[name] for name in _STATE_FIELDS if name not in ("subject_id", "purpose")},
    )


_SAVE_STATES = {"postgresql": _save_states_statement("postgresql"), "sqlite": _save_states_statement("sqlite")}


def _save_states(session: Session, rows: Iterable[_StateRow]) -> None:
    """Write locked state rows back in ONE cached statement (an upsert of rows that exist and are locked, sent
    as one executemany), and expire any ORM copy of them this session holds."""
    values = [{name: getattr(row, name) for name in _STATE_FIELDS} for row in rows]
    dialect = "postgresql" if session.get_bind().dialect.name == "postgresql" else "sqlite"
    session.execute(_SAVE_STATES[dialect], values)
    for row in values:
        key = _STATE_MAPPER.identity_key_from_primary_key((row["subject_id"], row["purpose"]))
        cached = session.identity_map.get(key)
        if cached is not None:
            session.expire(cached)


def _to_logic(row: _StateRow) -> logic.ConsentState:
    return logic.ConsentState(
        decision=Decision(row.decision) if row.decision else None,
        decided_at=row.decided_at,
        decided_seq=row.decided_seq,
        notice_version=row.notice_version,
        objected=row.objected,
        objection_at=row.objection_at,
        objection_seq=row.objection_seq,
    )


def _record(
    session: Session,
    subject_id: uuid.UUID,
    planned: list[_Planned],
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str,
    evidence: dict[str, Any],
    now: dt.datetime,
    import_ref: tuple[uuid.UUID, int] | None = None,
) -> list[Receipt]:
    """Append the events, update the state rows, write the audit entries, sign the receipts, notify processors.

    The statements, whatever the number of purposes: the state rows locked (with the subject's check), then the
    events, the state rows and the audit entries written (one statement each), then the outbox; processors are
    read only for withdrawals. Unknown or erased subject: the vault's error, nothing written.
    """
    if not planned:
        return []
    method = Method(method).value
    ref = _actor_ref(actor)
    catalog = purposes()
    signer = _signer()
    _publish_signing_key(session, signer, now)
    rows = _lock_states(session, subject_id, (p.purpose.key for p in planned), now)
    if not rows:
        _check_subject(session, subject_id)  # raises the vault's 404/410
        raise RuntimeError("consent state rows were not created")
    bodies: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    entries: list[audit.Entry] = []
    for plan in planned:
        row = rows[plan.purpose.key]
        seq = row.last_seq + 1
        new_state, superseded = logic.apply(
            _to_logic(row),
            logic.LedgerEntry(plan.decision, plan.collected_at, plan.notice_version, seq, received_at=now),
        )
        event_id = uuid.uuid4()
        notice = plan.purpose.notice(plan.notice_version)
        facts = ReceiptFacts(
            record_id=event_id,
            subject_id=subject_id,
            purpose=plan.purpose,
            decision=plan.decision.value,
            notice_version=plan.notice_version,
            notice_sha256=notice.sha256,
            method=method,
            jurisdiction=jurisdiction,
            collected_at=plan.collected_at,
            recorded_at=now,
            actor_kind=ref.kind,
            superseded=superseded,
            language=notice.language,
        )
        bodies.append(build_receipt(facts, catalog.controller, issued_at=now))
        events.append(
            {
                "id": event_id,
                "subject_id": subject_id,
                "purpose": plan.purpose.key,
                "seq": seq,
                "decision": plan.decision.value,
                "collected_at": plan.collected_at,
                "recorded_at": now,
                "notice_version": plan.notice_version,
                "notice_sha256": notice.sha256,
                "method": method,
                "jurisdiction": jurisdiction,
                "actor_kind": ref.kind,
                "actor_id": str(ref.id)[:128],
                "superseded": superseded,
                "evidence": evidence,
                "import_id": import_ref[0] if import_ref else None,
                "import_row": import_ref[1] if import_ref else None,
            }
        )
        row.last_seq = seq
        row.decision = new_state.decision.value if new_state.decision else None
        row.decided_at = new_state.decided_at
        row.decided_seq = new_state.decided_seq
        row.notice_version = new_state.notice_version
        row.objected = new_state.objected
        row.objection_at = new_state.objection_at
        row.objection_seq = new_state.objection_seq
        row.updated_at = now
        entries.append(
            audit.Entry(
                actor=ref,
                action="consent.decision.recorded",
                target=("subject", subject_id),
                details={
                    "record_id": str(event_id),
                    "purpose": plan.purpose.key,
                    "decision": plan.decision.value,
                    "method": method,
                    "notice_version": plan.notice_version,
                    "seq": seq,
                    "superseded": superseded,
                },
            )
        )
    tokens = sign_receipts(bodies, signer.raw, kid=signer.kid)
    issued: list[Receipt] = []
    for event, body, token in zip(events, bodies, tokens, strict=True):
        event["receipt_jws"] = token
        issued.append(Receipt(event["id"], event["purpose"], event["decision"], event["superseded"], body, token))
    session.execute(_INSERT_EVENTS, events)
    _save_states(session, (rows[key] for key in dict.fromkeys(p.purpose.key for p in planned)))
    audit.record_many(session, entries)
    _notify_stops(session, subject_id, issued, now)
    _announce(session, subject_id, issued, method, now)
    return issued


_INSERT_EVENTS = sa.insert(ConsentEvent.__table__)


_STOP_EVENTS = {
    Decision.WITHDRAWN.value: "consent.withdrawn",
    Decision.EXPIRED.value: "consent.expired",
    Decision.OBJECTED.value: "consent.objected",
}


def _notify_stops(session: Session, subject_id: uuid.UUID, issued: list[Receipt], now: dt.datetime) -> None:
    """Withdrawals, expiries and objections that took effect go to the registered processors."""
    by_event: dict[str, list[Receipt]] = {}
    for receipt in issued:
        name = _STOP_EVENTS.get(receipt.decision)
        if name and not receipt.superseded:
            by_event.setdefault(name, []).append(receipt)
    for name, items in by_event.items():
        notify_processors(
            session,
            event=name,
            subject_id=subject_id,
            payload={
                "purposes": [r.purpose for r in items],
                "record_ids": [str(r.record_id) for r in items],
                "effective_at": now.isoformat(),
            },
        )


def _announce(session: Session, subject_id: uuid.UUID, issued: list[Receipt], method: str, now: dt.datetime) -> None:
    """Every change that took effect goes to the outbox (the broker), in this transaction: one INSERT, with one
    message per event name in the webhook's shape (`consent.granted`, `.withdrawn`, `.expired`, `.objected`,
    `.objection_lifted`; a GPC signal is a withdrawal with method `gpc`)."""
    by_event: dict[str, list[Receipt]] = {}
    for receipt in issued:
        if not receipt.superseded:
            by_event.setdefault(f"consent.{receipt.decision}", []).append(receipt)
    outbox.write(
        session,
        [
            outbox.OutboxEvent(
                name,
                subject_id,
                {
                    "purposes": [r.purpose for r in items],
                    "record_ids": [str(r.record_id) for r in items],
                    "effective_at": now.isoformat(),
                    "method": method,
                },
            )
            for name, items in by_event.items()
        ],
        now=now,
    )


def _check_subject(session: Session, subject_id: uuid.UUID) -> None:
    """Unknown subject → the vault's SubjectNotFoundError (404); erased → SubjectErasedError."""
    from governance.vault import service as vault

    vault.get_subject(session, subject_id)


def record_decisions(
    session: Session,
    subject_id: uuid.UUID,
    decisions: Iterable[DecisionInput | Mapping[str, Any]],
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str,
    evidence: Mapping[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> list[Receipt]:
    """Record grants and withdrawals collected from the subject; one signed receipt per ledger event.

    A decision collected before the decision in force for its purpose is kept in the ledger, marked superseded,
    and changes nothing. Raises UnknownPurposeError, BasisNotConsentError, InvalidDecisionError (422) and the
    vault's subject errors (404/410). Does not commit.
    """
    moment = now or utcnow()
    inputs = [DecisionInput.of(d) for d in decisions]
    if not inputs:
        raise InvalidDecisionError("No decisions given.", fields={"decisions": "empty"})
    planned = _validate(inputs, now=moment, allowed=frozenset({Decision.GRANTED, Decision.WITHDRAWN}))
    cleaned = _clean_evidence(evidence)
    _check_jurisdiction(jurisdiction)
    return _record(  # checks the subject in the statement that locks its state rows
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=jurisdiction,
        evidence=cleaned,
        now=moment,
    )


def withdraw_all(
    session: Session,
    subject_id: uuid.UUID,
    *,
    method: str,
    actor: Principal | ActorRef,
    jurisdiction: str | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Withdraw every consent the subject has granted (erasure, account closure). Returns the events recorded."""
    moment = now or utcnow()
    states = _states_of(session, subject_id)
    keys = [key for key, st in states.items() if st.decision == Decision.GRANTED and key in purposes()]
    if not keys:
        return 0
    planned = [
        _Planned(purposes()[key], Decision.WITHDRAWN, moment, purposes()[key].current_notice.version) for key in keys
    ]
    receipts_ = _record(
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=jurisdiction or purposes().controller.default_jurisdiction,
        evidence={},
        now=moment,
    )
    return sum(1 for r in receipts_ if not r.superseded)


def apply_gpc(
    session: Session,
    subject_id: uuid.UUID,
    *,
    actor: Principal | ActorRef,
    jurisdiction: str | None = None,
    explicit: Iterable[str] = (),
    now: dt.datetime | None = None,
) -> list[Receipt]:
    """Honour a Global Privacy Control signal: withdraw every granted sale/sharing purpose (method `gpc`).

    Purposes the subject decided explicitly in the same request are left to that decision.
    """
    moment = now or utcnow()
    keys = logic.gpc_withdrawals(purposes(), _states_of(session, subject_id), explicit=explicit)
    planned = [
        _Planned(purposes()[key], Decision.WITHDRAWN, moment, purposes()[key].current_notice.version) for key in keys
    ]
    return _record(
        session,
        subject_id,
        planned,
        method=Method.GPC.value,
        actor=actor,
        jurisdiction=jurisdiction or purposes().controller.default_jurisdiction,
        evidence={"gpc": True},
        now=moment,
    )


def _objection(
    session: Session,
    subject_id: uuid.UUID,
    keys: Iterable[str],
    decision: Decision,
    *,
    actor: Principal | ActorRef,
    method: str,
    now: dt.datetime | None,
) -> list[Receipt]:
    moment = now or utcnow()
    planned = []
    for key in dict.fromkeys(keys):
        found = purpose(key)
        if not found.objectable:
            raise ObjectionNotApplicableError(
                f"Purpose '{key}' rests on {found.legal_basis.value}; an objection does not apply.",
                fields={"purposes": key},
            )
        planned.append(_Planned(found, decision, moment, found.current_notice.version))
    if not planned:
        raise InvalidDecisionError("No purposes given.", fields={"purposes": "empty"})
    return _record(
        session,
        subject_id,
        planned,
        method=method,
        actor=actor,
        jurisdiction=purposes().controller.default_jurisdiction,
        evidence={},
        now=moment,
    )


def object_to(
    session: Session,
    subject_id: uuid.UUID,
    purposes: Iterable[str],
    *,
    actor: Principal | ActorRef,
    method: str = Method.REQUEST.value,
    now: dt.datetime | None = None,
) -> None:
    """Record an objection (Art. 21) or restriction: `is_permitted` then says `objected` for those purposes.

    Raises UnknownPurposeError and ObjectionNotApplicableError (contract, legal obligation).
    """
    _objection(session, subject_id, purposes, Decision.OBJECTED, actor=actor, method=method, now=now)


def lift_objection(
    session: Session,
    subject_id: uuid.UUID,
    purposes: Iterable[str],
    *,
    actor: Principal | ActorRef,
    method: str = Method.REQUEST.value,
    now: dt.datetime | None = None,
) -> None:
    """Withdraw an objection (the subject changed their mind, or a restriction ended)."""
    _objection(session, subject_id, purposes, Decision.OBJECTION_LIFTED, actor=actor, method=method, now=now)


def expire_due(session: Session, *, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Record `expired` for granted consents older than their purpose's maximum age (at most `limit` rows).

    The event carries the moment the consent expired as its collection time. Returns the events recorded.
    """
    moment = now or utcnow()
    system = ActorRef("system", "consent.expiry")
    t = _state_table.c
    recorded = 0
    for item in purposes():
        age = item.max_consent_age
        if age is None or recorded >= limit:
            continue
        due = session.execute(
            sa.select(t.subject_id)
            .where(t.purpose == item.key, t.decision == Decision.GRANTED.value, t.decided_at <= moment - age)
            .order_by(t.subject_id)
            .limit(limit - recorded)
        ).scalars()
        for subject_id in list(due):
            row = _lock_states(session, subject_id, [item.key], moment).get(item.key)
            if row is None:  # the subject was erased meanwhile
                continue
            expiry = logic.due_for_expiry(item, _to_logic(row), moment)
            if expiry is None:  # renewed meanwhile
                continue
            version = row.notice_version or item.current_notice.version
            receipts_ = _record(
                session,
                subject_id,
                [_Planned(item, Decision.EXPIRED, expiry, version)],
                method=Method.EXPIRY.value,
                actor=system,
                jurisdiction=purposes().controller.default_jurisdiction,
                evidence={},
                now=moment,
            )
            recorded += len(receipts_)
    return recorded


def subject_exists(session: Session, subject_id: uuid.UUID) -> None:
    """Raise the vault's SubjectNotFoundError (404) / SubjectErasedError for an unknown or erased subject."""
    _check_subject(session, subject_id)


# --- idempotency keys ----------------------------------------------------------------------------------------


def idempotent_replay(session: Session, actor: str, key: str, request_sha256: str) -> dict[str, Any] | None:
    """The stored response for (actor, key) if the request is the same; IdempotencyConflictError if not."""
    from governance.consent.errors import IdempotencyConflictError
    from governance.consent.models import ConsentIdempotencyKey

    row = session.get(ConsentIdempotencyKey, (actor, key))
    if row is None:
        return None
    if row.request_sha256 != request_sha256:
        raise IdempotencyConflictError()
    return dict(row.response)


def remember_response(
    session: Session, actor: str, key: str, request_sha256: str, subject_id: uuid.UUID, response: dict[str, Any]
) -> None:
    """Store the response of a keyed write in its transaction (a replay or a concurrent duplicate fails on the
    key with IntegrityError, and the caller's transaction rolls back). One cached Core INSERT."""
    session.execute(
        _INSERT_IDEMPOTENCY_KEY,
        {"actor": actor, "key": key, "request_sha256": request_sha256, "subject_id": subject_id,
         "response": response, "created_at": utcnow()},
    )  # fmt: skip


def _idempotency_insert() -> Any:
    from governance.consent.models import ConsentIdempotencyKey

    return sa.insert(ConsentIdempotencyKey.__table__)


_INSERT_IDEMPOTENCY_KEY = _idempotency_insert()


# Processors and webhooks (contract functions of this domain, implemented in processors.py).
from governance.consent.processors import delivery_status, notify_processors  # noqa: E402
