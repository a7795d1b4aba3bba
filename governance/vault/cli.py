"""`flask --app wsgi governance keys ...`: master-key rotation and status."""

from __future__ import annotations

import json
import time
import uuid

import click
from flask import current_app
from flask.cli import AppGroup

from governance.access.principals import Principal
from governance.vault import blind_index_rotation, keymanagement
from governance.vault.errors import KeyRotationError
from governance.vault.provider_migration import start_provider_migration

keys_cli = AppGroup("keys", help="Vault encryption keys: status and rotation.")
CLI_ACTOR = Principal.system("cli")


def _session():
    return current_app.extensions["governance.db"].session()


@keys_cli.command("status")
def status_command() -> None:
    """Master-key versions (state, data keys wrapped by each) and recent rotations. No key material."""
    with _session() as session, session.begin():
        status = keymanagement.key_status(session)
    for version in status["versions"]:
        line = f"master key v{version['version']}: {version['state']}, {version['data_keys']} data keys"
        if version["destroyed_at"] is not None:
            line += f", destroyed {version['destroyed_at']:%Y-%m-%d}"
        elif version["destroy_after"] is not None:
            line += f", kept for backups until {version['destroy_after']:%Y-%m-%d}"
        click.echo(line)
    epochs = status["epochs"]
    next_epoch = epochs["next_epoch_at"]
    click.echo(
        f"key epochs: every {epochs['epoch_days']:g} days, backups kept {epochs['backup_retention_days']:g} days, "
        f"next epoch {next_epoch:%Y-%m-%d %H:%M} UTC"
        if next_epoch is not None
        else "key epochs: no active master-key version recorded yet"
        + (" (OVERDUE: is a job worker running?)" if epochs["epoch_overdue"] else "")
        + ("" if epochs["automatic"] else " (provider rotated by the operator)")
    )
    for version in epochs["destruction_overdue"]:
        click.echo(f"master key v{version}: past its destruction date and still held: remove it from the provider")
    for rotation in status["rotations"]:
        click.echo(
            f"rotation {rotation.id} -> v{rotation.target_version}: {rotation.status} "
            f"({rotation.done}/{rotation.total})"
        )


@keys_cli.command("rotate")
@click.option("--wait", is_flag=True, help="Re-wrap inline in this process instead of leaving it to a worker.")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
def rotate_command(wait: bool, batch_size: int) -> None:
    """Add a master-key version, make it active and re-wrap every data key (a resumable job with progress).

    Reads and writes continue meanwhile; the old version is retired once no data key uses it, and its key
    material destroyed after the backup retention (GOVERNANCE_BACKUP_RETENTION_DAYS). Without
    --wait, a worker runs the job (`governance worker`); follow it with `governance keys status` or
    GET /api/v1/jobs/<job_id>.
    """
    session = _session()
    try:
        if wait:
            started = time.perf_counter()
            view = keymanagement.run_master_rotation(session, actor=CLI_ACTOR, batch_size=batch_size)
            click.echo(
                json.dumps(
                    {
                        "rotation_id": str(view.id),
                        "active_version": view.target_version,
                        "rewrapped": view.total,
                        "retired_versions": view.retired_versions,
                        "seconds": round(time.perf_counter() - started, 2),
                    }
                )
            )
            return
        with session.begin():
            view = keymanagement.start_master_rotation(session, actor=CLI_ACTOR)
        click.echo(
            json.dumps(
                {
                    "rotation_id": str(view.id),
                    "active_version": view.target_version,
                    "data_keys": view.total,
                    "job_id": str(view.job_id),
                }
            )
        )
    except keymanagement.KeyRotationError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        session.close()


@keys_cli.command("migrate")
@click.option("--batch-size", default=2000, show_default=True, type=click.IntRange(1, 100_000))
def migrate_command(batch_size: int) -> None:
    """Move every data key from GOVERNANCE_VAULT_LEGACY_KEY_PROVIDER to GOVERNANCE_VAULT_KEY_PROVIDER (an HSM):
    a master-key rotation whose new version is created by the new provider, run by a worker as a resumable
    job. Reads and writes continue; docs/vault.md, "Master key in an HSM"."""
    session = _session()
    try:
        with session.begin():
            view = start_provider_migration(session, actor=CLI_ACTOR, batch_size=batch_size)
        click.echo(
            json.dumps(
                {
                    "rotation_id": str(view.id),
                    "active_version": view.target_version,
                    "data_keys": view.total,
                    "job_id": str(view.job_id),
                }
            )
        )
    except KeyRotationError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        session.close()


@keys_cli.command("rotate-index")
@click.option("--wait", is_flag=True, help="Re-index inline in this process instead of leaving it to a worker.")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
def rotate_index_command(wait: bool, batch_size: int) -> None:
    """Open the next blind-index key version (`vault_blind_index_v<N>` in the key directory) and re-index every
    subject under it (a resumable job). Lookups match either version until it is done; docs/vault.md."""
    session = _session()
    try:
        with session.begin():
            view = blind_index_rotation.start_index_rotation(
                session, actor=CLI_ACTOR, enqueue_job=not wait, batch_size=batch_size
            )
        out: dict[str, object] = {
            "rotation_id": str(view.id),
            "from_version": view.from_version,
            "to_version": view.to_version,
            "subjects": view.total,
            "job_id": str(view.job_id) if view.job_id else None,
        }
        if wait:
            out.update(
                blind_index_rotation.run_index_rotation(session, view.id, actor=CLI_ACTOR, batch_size=batch_size)
            )
        click.echo(json.dumps(out))
    except KeyRotationError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        session.close()


@keys_cli.command("rotate-subject")
@click.argument("subject_id", type=click.UUID)
def rotate_subject_command(subject_id: uuid.UUID) -> None:
    """Give one subject a fresh data key (re-encrypts its fields and events)."""
    with _session() as session, session.begin():
        version = keymanagement.rotate_data_key(session, subject_id, actor=CLI_ACTOR)
    click.echo(json.dumps({"subject_id": str(subject_id), "key_version": version}))
