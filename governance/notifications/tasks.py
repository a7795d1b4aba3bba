"""The send job: read the address from the vault at send time, render, send over SMTP, audit without it.

Failure behaviour: no SMTP configured -> the job ends `skipped_no_smtp` (no retries); the person erased or
without an e-mail address, or (a renewal) no longer needing to renew -> ends skipped (audited); the server
unreachable or a temporary (4xx) answer -> the exception goes to the job queue, which retries with backoff up to
`MAX_ATTEMPTS`; a permanent (5xx) refusal -> ends skipped `refused`. Delivery is at least once: a crash between
the send and the commit sends again.
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from governance import audit, jobs
from governance.access.principals import Principal
from governance.consent import service as consent
from governance.consent.state import Reason
from governance.core.runtime import Slot, runtime
from governance.notifications.messages import language_of, render
from governance.notifications.service import MAX_ATTEMPTS, SEND_JOB, NoticeKind
from governance.settings import Settings
from governance.vault import service as vault
from governance.vault.errors import SubjectErasedError, SubjectNotFoundError

SENDER = Principal.system("notifications.sender")


@dataclass(frozen=True)
class RequestFacts:
    """How the send job reads a request's kind and outcome text (a rejection's reason) at send time. Requests
    sits above notifications (it calls `notify`) and is never imported here: the composition root
    (governance/composition.py) fills `REQUEST_FACTS` with a reader calling `requests.service.get_request`."""

    read: Callable[[Session, uuid.UUID], tuple[str | None, str | None]]


REQUEST_FACTS = Slot("notifications.request_facts", RequestFacts)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    user: str | None
    password: str | None
    sender: str
    starttls: bool
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings | None:
        """None when no SMTP host is configured (notifications are then skipped, not retried)."""
        host = settings.get("SMTP_HOST")
        if not host:
            return None
        return cls(
            host=host,
            port=settings.get_int("SMTP_PORT", 25),
            user=settings.get("SMTP_USER") or None,
            password=settings.get("SMTP_PASSWORD") or None,
            sender=settings.get("SMTP_FROM") or "privacy@localhost",
            starttls=settings.get_bool("SMTP_STARTTLS", False),
            timeout=settings.get_float("SMTP_TIMEOUT_SECONDS", 30.0),
        )


def _details(payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    details = {"kind": payload["kind"], **extra}
    for key in ("request_id", "purpose", "notice_version"):
        if payload.get(key):
            details[key] = payload[key]
    return details


def _skip(session: Session, payload: dict[str, Any], reason: str) -> dict[str, Any]:
    audit.record(
        session,
        actor=SENDER,
        action="notifications.email.skipped",
        target=("subject", payload["subject_id"]),
        details=_details(payload, reason=reason),
    )
    return {"outcome": f"skipped_{reason}", "kind": payload["kind"]}


def _contact(session: Session, subject_id: uuid.UUID) -> tuple[str | None, str | None] | str:
    """(address, language) from the vault, or the reason there is none."""
    try:
        fields = vault.read_profile(session, subject_id, actor=SENDER, view="clear")["fields"]
    except SubjectErasedError:
        return "subject_erased"
    except SubjectNotFoundError:
        return "subject_not_found"
    return fields.get("email"), fields.get("language")


def _request_facts(session: Session, request_id: str | None) -> tuple[str | None, str | None]:
    """The request's kind and outcome text (a rejection's reason), read at send time."""
    if not request_id:
        return None, None
    return runtime().get(REQUEST_FACTS).read(session, uuid.UUID(request_id))


def _renewal_facts(session: Session, payload: dict[str, Any]) -> tuple[str, str | None] | None:
    """(the purpose's title, what changed) while the person still needs to renew; None once they decided again
    (renewed, withdrew) or the grant stopped counting for another reason: the mail would then be wrong."""
    subject_id = uuid.UUID(payload["subject_id"])
    if consent.is_permitted(session, subject_id, payload["purpose"]).reason != Reason.NEEDS_RENEWAL.value:
        return None
    found = consent.purpose(payload["purpose"])
    return found.title, found.notice(int(payload["notice_version"])).change


def _facts(session: Session, kind: NoticeKind, payload: dict[str, Any]) -> dict[str, Any] | None:
    """What the message names, read at send time; None when a renewal is no longer needed."""
    if kind == NoticeKind.NOTICE_RENEWAL:
        facts = _renewal_facts(session, payload)
        return None if facts is None else {"purpose": facts[0], "change": facts[1]}
    request_kind, reason = _request_facts(session, payload.get("request_id"))
    return {"request_kind": request_kind, "reason": reason}


def _message(smtp: SmtpSettings, to: str, rendered: Any) -> EmailMessage:
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "localhost")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def _send(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Raises OSError / smtplib errors; the caller decides which are worth a retry."""
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password or "")
        client.send_message(message)


def _permanent(exc: smtplib.SMTPException) -> bool:
    """A 5xx answer to the sender, a recipient or the data will not change on retry."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500


def send_job(ctx: jobs.JobContext) -> dict[str, Any]:
    payload = ctx.payload
    kind = NoticeKind(payload["kind"])
    smtp = SmtpSettings.from_settings(ctx.app.extensions["governance.settings"])
    with ctx.session() as session, session.begin():
        if smtp is None:
            return _skip(session, payload, "no_smtp")
        facts = _facts(session, kind, payload)  # before the address is read: a mail not needed reads nothing
        if facts is None:
            return _skip(session, payload, "not_needed")
        contact = _contact(session, uuid.UUID(payload["subject_id"]))
        if isinstance(contact, str):
            return _skip(session, payload, contact)
        address, language = contact
        if not address:
            return _skip(session, payload, "no_email")
        rendered = render(kind, language=language_of(language), **facts)
        try:
            _send(smtp, _message(smtp, address, rendered))
        except smtplib.SMTPException as exc:
            if not _permanent(exc):
                raise  # temporary: the job queue retries with backoff (only the type is logged)
            return _skip(session, payload, "refused")
        audit.record(
            session,
            actor=SENDER,
            action="notifications.email.sent",
            target=("subject", payload["subject_id"]),
            details=_details(payload, language=language_of(language)),
        )
    return {"outcome": "sent", "kind": kind.value}


def register_tasks(app: Flask) -> None:
    jobs.register(SEND_JOB, lease_seconds=120, max_attempts=MAX_ATTEMPTS)(send_job)
