"""The receipt signing key of this process and every public key that ever signed a receipt here: the key is
published in `consent_receipt_keys` with the first write it signs, so receipts stay verifiable after a rotation."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import current_app
from joserfc.jwk import OKPKey
from sqlalchemy.orm import Session

from governance import audit
from governance.access.principals import ActorRef
from governance.consent.models import ConsentEvent, ConsentState, ReceiptSigningKey
from governance.consent.receipts import key_id, public_jwk, verify_receipt
from governance.db import dialect_insert

SIGNER_EXTENSION = "governance.consent.signer"
KNOWN_KEYS_EXTENSION = "governance.consent.receipt_keys"
RECEIPT_KEY_NAME = "consent_receipts"


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
        inserted = session.scalar(
            dialect_insert(session)(ReceiptSigningKey)
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
