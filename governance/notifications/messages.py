"""The e-mails' texts: plain text plus a simple HTML part, in English or German (the profile's language).

Messages name no personal data beyond what the person already knows (the kind of request and, for a rejection,
the policy's reason text; for a renewal, the purpose and what changed in its notice, from the policy); they carry
no links with tokens: the person signs in to the dashboard as usual."""

from __future__ import annotations

import html
from dataclasses import dataclass

from governance.notifications.service import NoticeKind


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


_REQUEST_NAMES = {
    "en": {
        "access": "access to your data",
        "portability": "a copy of your data",
        "erasure": "erasure of your data",
        "rectification": "correction of your data",
        "objection": "objection to a use of your data",
    },
    "de": {
        "access": "Auskunft über Ihre Daten",
        "portability": "eine Kopie Ihrer Daten",
        "erasure": "Löschung Ihrer Daten",
        "rectification": "Berichtigung Ihrer Daten",
        "objection": "Widerspruch gegen eine Nutzung Ihrer Daten",
    },
}

# (subject, paragraphs); {request} is the request's name, {reason} the rejection's reason text, {purpose} and
# {change} a purpose's title and what changed in its notice
_TEMPLATES: dict[str, dict[NoticeKind, tuple[str, tuple[str, ...]]]] = {
    "en": {
        NoticeKind.EXPORT_READY: (
            "Your data export is ready",
            (
                "The copy of your data you asked for ({request}) is ready.",
                "Sign in to your privacy dashboard to download it. The download is kept for a limited time only.",
            ),
        ),
        NoticeKind.REQUEST_REJECTED: (
            "Your request could not be carried out",
            (
                "We could not carry out your request ({request}).",
                "Reason: {reason}",
                "Your privacy dashboard shows the details and what you can do next.",
            ),
        ),
        NoticeKind.REQUEST_COMPLETED: (
            "Your request has been completed",
            (
                "Your request ({request}) has been completed.",
                "Your privacy dashboard shows what was done.",
            ),
        ),
        NoticeKind.NOTICE_RENEWAL: (
            "Your consent needs renewing",
            (
                "We changed what we tell you about {purpose}, and the change matters for what you agreed to.",
                "What changed: {change}",
                "Until you decide again, we do not use your data for it. Sign in to your privacy dashboard to read "
                "the new notice and decide. If you do nothing, it stays off.",
            ),
        ),
    },
    "de": {
        NoticeKind.EXPORT_READY: (
            "Ihr Datenexport liegt bereit",
            (
                "Die angeforderte Kopie Ihrer Daten ({request}) liegt bereit.",
                "Melden Sie sich in Ihrem Datenschutz-Dashboard an, um sie herunterzuladen. "
                "Der Download steht nur für begrenzte Zeit bereit.",
            ),
        ),
        NoticeKind.REQUEST_REJECTED: (
            "Ihr Antrag konnte nicht ausgeführt werden",
            (
                "Wir konnten Ihren Antrag ({request}) nicht ausführen.",
                "Grund: {reason}",
                "Ihr Datenschutz-Dashboard zeigt die Einzelheiten und Ihre nächsten Schritte.",
            ),
        ),
        NoticeKind.REQUEST_COMPLETED: (
            "Ihr Antrag wurde erledigt",
            (
                "Ihr Antrag ({request}) wurde erledigt.",
                "Ihr Datenschutz-Dashboard zeigt, was getan wurde.",
            ),
        ),
        NoticeKind.NOTICE_RENEWAL: (
            "Ihre Einwilligung muss erneuert werden",
            (
                "Wir haben unseren Hinweis zu „{purpose}“ geändert, und die Änderung betrifft das, wozu Sie "
                "eingewilligt haben.",
                "Was sich geändert hat: {change}",
                "Bis Sie neu entscheiden, nutzen wir Ihre Daten dafür nicht. Melden Sie sich in Ihrem "
                "Datenschutz-Dashboard an, um den neuen Hinweis zu lesen und zu entscheiden. Wenn Sie nichts tun, "
                "bleibt es ausgeschaltet.",
            ),
        ),
    },
}


def language_of(tag: str | None) -> str:
    """German for any `de` tag (de, de-AT, ...), English otherwise."""
    return "de" if tag and tag.lower().split("-")[0] == "de" else "en"


def render(
    kind: NoticeKind,
    *,
    language: str,
    request_kind: str | None = None,
    reason: str | None = None,
    purpose: str | None = None,
    change: str | None = None,
) -> Rendered:
    lang = language if language in _TEMPLATES else "en"
    subject, paragraphs = _TEMPLATES[lang][kind]
    names = _REQUEST_NAMES[lang]
    not_given = "keine Angabe" if lang == "de" else "not given"
    values = {
        "request": names.get(request_kind or "", request_kind or ""),
        "reason": reason or not_given,
        "purpose": purpose or "",
        "change": change or not_given,
    }
    lines = [p.format(**values) for p in paragraphs]
    text = "\n\n".join(lines) + "\n"
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>{body}</body></html>'
    return Rendered(subject=subject, text=text, html=page)
