"""The `governance audit` commands: seal, verify, the proofs for auditors and the witness."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from governance.audit import service, witness
from governance.db import get_db
from governance.errors import DomainError


def _emit(build: Callable[[], dict], output: str | None) -> None:
    try:
        proof = build()
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    text = json.dumps(proof, indent=2, sort_keys=True) + "\n"
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {proof['kind']} proof to {output}")
    else:
        click.echo(text, nl=False)


@click.group("audit", cls=AppGroup)  # its commands run in the app context, as the app CLI's do
def audit_cli() -> None:
    """Tamper-evident audit log."""


@audit_cli.command("seal")
@click.option("--checkpoint", is_flag=True, help="sign a checkpoint even if none is due")
def seal_command(checkpoint: bool) -> None:
    """Sequence pending entries into the Merkle tree (and sign a checkpoint when due)."""
    result = service.seal_all(get_db().session, service.current_config(), force_checkpoint=checkpoint)
    click.echo(f"sealed {result.sealed} entries; tree size {result.size}")


@audit_cli.command("prove-consistency")
@click.option("--old-size", type=int, required=True, help="the size of the checkpoint you saved earlier")
@click.option("--new-size", type=int, default=None, help="a signed checkpoint size (default: sign one now)")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="write the proof to FILE")
def prove_consistency_command(old_size: int, new_size: int | None, output: str | None) -> None:
    """Print an RFC 9162 consistency proof (JSON) for the offline verifier's --proof."""
    config = service.current_config()
    if new_size is None:
        service.seal_all(get_db().session, config, force_checkpoint=True)
    with get_db().session() as session:
        _emit(lambda: service.consistency_proof(session, config, old_size, new_size), output)


@audit_cli.command("prove-inclusion")
@click.option("--seq", type=int, required=True, help="the entry's position")
@click.option("--tree-size", type=int, default=None, help="a signed checkpoint size (default: sign one now)")
@click.option("--output", type=click.Path(dir_okay=False), default=None, help="write the proof to FILE")
def prove_inclusion_command(seq: int, tree_size: int | None, output: str | None) -> None:
    """Print an RFC 9162 inclusion proof (JSON) of one entry for the offline verifier's --proof."""
    config = service.current_config()
    if tree_size is None:
        service.seal_all(get_db().session, config, force_checkpoint=True)
    with get_db().session() as session:
        _emit(lambda: service.inclusion_proof(session, config, seq, tree_size), output)


@audit_cli.command("witness")
@click.option("--key-file", required=True, help="the witness's own Ed25519 key (PEM); created if absent")
@click.option("--state-file", required=True, help="where the witness keeps the last checkpoint it cosigned")
@click.option("--log-public-key", multiple=True, help="the log's checkpoint key (PEM); default: this app's")
@click.option("--name", default="witness.governance.local/w1", help="the witness's key name")
@click.option("--listen", default="127.0.0.1:8710", help="HOST:PORT (port 0 picks a free one)")
def witness_command(key_file: str, state_file: str, log_public_key: tuple[str, ...], name: str, listen: str) -> None:
    """Run a tlog-witness that cosigns checkpoints after checking consistency (run it on another host or
    account than the service: its key and state file must be out of reach of the service's database)."""
    config = service.current_config()
    keys = list(log_public_key)
    if not keys:  # this app's checkpoint key, written out so the witness loads it like any other
        pem = current_app.extensions["governance.keys"].public_key_pem(service.SIGNING_KEY)
        handle = tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False)  # noqa: SIM115
        handle.write(pem)
        handle.close()
        keys = [handle.name]
    try:
        witness.run(
            key_file=key_file,
            state_file=state_file,
            log_public_keys=keys,
            log_key_name=service.KEY_NAME,
            origin=config.origin,
            name=name,
            listen=listen,
        )
    finally:
        if not log_public_key:
            Path(keys[0]).unlink(missing_ok=True)


@audit_cli.command("verify")
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def verify_command(as_json: bool) -> None:
    """Seal pending entries, then verify the whole log; exit status 1 when verification fails."""
    config = service.current_config()
    service.seal_all(get_db().session, config)
    with get_db().session() as session:
        report = service.verify(session, config)
    click.echo(json.dumps(report.to_dict(), default=str) if as_json else report.message)
    if not report.ok:
        raise SystemExit(1)
