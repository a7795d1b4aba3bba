"""`flask --app wsgi governance consent ...`: the receipt signing keys (list, rotate)."""

from __future__ import annotations

import os
import tempfile

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app
from flask.cli import AppGroup
from joserfc.jwk import OKPKey

from governance import audit
from governance.access.principals import ActorRef
from governance.consent import service
from governance.consent.receipts import key_id
from governance.db import utcnow

consent_cli = AppGroup("consent", help="Consent receipts: signing keys.")


@consent_cli.command("receipt-keys")
def receipt_keys_command() -> None:
    """Every key that signed receipts (kid = RFC 7638 thumbprint), the signing one first. No key material."""
    with current_app.extensions["governance.db"].session() as session, session.begin():
        current = service._signer().kid
        for jwk in service.public_jwks(session)["keys"]:
            click.echo(f"{jwk['kid']}  {'signing' if jwk['kid'] == current else 'retired (verify only)'}")


@consent_cli.command("rotate-receipt-key")
def rotate_receipt_key_command() -> None:
    """Replace the receipt signing key file with a new Ed25519 key; the old public key stays published.

    The current key is published first (with an audit entry), so receipts it signed keep verifying. Running
    processes sign with the old key until they restart. A key given as GOVERNANCE_KEY_CONSENT_RECEIPTS is
    rotated by changing that variable instead (its public key is published with the first receipt it signs).
    """
    settings = current_app.extensions["governance.settings"]
    if settings.get(f"KEY_{service.RECEIPT_KEY_NAME.upper()}"):
        raise click.ClickException(
            f"the receipt key comes from GOVERNANCE_KEY_{service.RECEIPT_KEY_NAME.upper()}: set a new key there "
            "and restart (the current public key is kept once it has signed a receipt)"
        )
    keys = current_app.extensions["governance.keys"]
    signer = service._signer()
    path = keys.path_for(service.RECEIPT_KEY_NAME, ".pem")
    fresh = Ed25519PrivateKey.generate()
    pem = fresh.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    new_kid = key_id(OKPKey.import_key(pem))
    with current_app.extensions["governance.db"].session() as session, session.begin():
        service._publish_signing_key(session, signer, utcnow())
        audit.record(
            session,
            actor=ActorRef("system", "cli"),
            action="consent.receipt_key.rotated",
            target=("receipt_key", new_kid),
            details={"previous_kid": signer.kid, "kid": new_kid},
        )
        # Replace the file only inside the transaction: if the write fails, nothing is recorded.
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".rotate-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    click.echo(f"receipt signing key rotated: {signer.kid} -> {new_kid} (restart the service to sign with it)")
