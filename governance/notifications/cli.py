"""`flask --app wsgi governance notifications ...`: e-mails sent on an operator's word (a notice renewal)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError

from governance.access.principals import ActorRef
from governance.consent.errors import UnknownPurposeError
from governance.notifications import service

notifications_cli = AppGroup("notifications", help="E-mails to data subjects.")


@notifications_cli.command("announce-renewal")
@click.argument("purpose")
def announce_renewal_command(purpose: str) -> None:
    """Queue one e-mail to each person whose consent to PURPOSE no longer counts because its notice changed
    materially (run after deploying the new notice version). Safe to run again: nobody is mailed twice for the
    same version. Prints counts only, never an address."""
    try:
        with current_app.extensions["governance.db"].session() as session, session.begin():
            done = service.announce_renewal(session, purpose, actor=ActorRef("system", "cli"))
    except UnknownPurposeError as exc:
        raise click.ClickException(f"unknown purpose {purpose!r}") from exc
    except IntegrityError as exc:  # a dedupe key taken by a run at the same moment: this run queued nothing
        raise click.ClickException("another run queued some of these e-mails at the same time; run again") from exc
    click.echo(
        f"{done.purpose} notice v{done.notice_version}: {done.queued} e-mail(s) queued, "
        f"{done.already_queued} already queued by an earlier run (the job worker sends them)"
    )
