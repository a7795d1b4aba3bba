"""`governance staff …`, `governance clients …` and `governance dashboard-link` commands."""

from __future__ import annotations

import uuid

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from governance.access import accounts, sso, tokens
from governance.access.models import StaffAccount
from governance.access.principals import Principal
from governance.access.service import create_dashboard_link
from governance.errors import DomainError

CLI_ACTOR = Principal.system("cli")

staff_cli = AppGroup("staff", help="Staff accounts.")
clients_cli = AppGroup("clients", help="OAuth2 service clients.")


def _session():
    return current_app.extensions["governance.db"].session()


@staff_cli.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="admin, dpo, support or auditor.")
@click.password_option(help="At least 12 characters (prompted when omitted).")
def staff_add(username: str, roles: tuple[str, ...], password: str) -> None:
    """Create a staff account. Admin, DPO and auditor set up an authenticator app at first sign-in."""
    session = _session()
    try:
        with session.begin():
            staff = accounts.create_staff(
                session, username=username, password=password, roles=set(roles), actor=CLI_ACTOR
            )
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} {exc.fields or ''}".strip()) from None
    finally:
        session.close()
    click.echo(f"staff account {staff.id} created with roles {', '.join(sorted(roles))}")


@staff_cli.command("link-sso")
@click.argument("username")
@click.option("--subject", required=True, help="The person's `sub` at the configured OpenID provider.")
def staff_link_sso(username: str, subject: str) -> None:
    """Turn single sign-on on for a local account: it then signs in only through the provider (its password
    stops working, its sessions end). Keep at least one local admin unlinked as the break-glass account."""
    client = current_app.extensions.get(sso.EXTENSION_KEY)
    if client is None:
        raise click.ClickException("single sign-on is not configured (GOVERNANCE_SSO_ISSUER)")
    session = _session()
    try:
        with session.begin():
            staff = session.scalars(
                sa.select(StaffAccount).where(StaffAccount.username == username.strip().lower())
            ).first()
            if staff is None:
                raise click.ClickException("no such staff account")
            sso.link_account(session, staff, issuer=client.policy.issuer, sub=subject, actor=CLI_ACTOR)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        session.close()
    click.echo(f"staff account {staff.id} now signs in through single sign-on only")


@clients_cli.command("add")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True)
@click.option("--purpose", "purposes", multiple=True)
@click.option("--client-id", default=None, help="Choose the id (default: generated).")
def clients_add(name: str, scopes: tuple[str, ...], purposes: tuple[str, ...], client_id: str | None) -> None:
    """Register a service client. The secret is printed once and stored only as a hash."""
    session = _session()
    try:
        with session.begin():
            registered = tokens.register_client(
                session,
                name=name,
                scopes=set(scopes),
                purposes=set(purposes),
                actor=CLI_ACTOR,
                client_id=client_id,
            )
    except DomainError as exc:
        raise click.ClickException(f"{exc.message} {exc.fields or ''}".strip()) from None
    finally:
        session.close()
    click.echo(f"client_id={registered.client_id}")
    click.echo(f"client_secret={registered.client_secret}")
    click.echo("Store the secret now: it cannot be shown again.")


@click.command("dashboard-link")
@click.argument("subject_id", type=click.UUID)
@with_appcontext
def dashboard_link(subject_id: uuid.UUID) -> None:
    """Print a one-time dashboard link for a data subject (valid 10 minutes, once)."""
    session = _session()
    try:
        with session.begin():
            url = create_dashboard_link(session, subject_id, actor=CLI_ACTOR)
    finally:
        session.close()
    click.echo(url)


def register(group: click.Group) -> None:
    group.add_command(staff_cli)
    group.add_command(clients_cli)
    group.add_command(dashboard_link)
