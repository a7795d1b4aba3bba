"""The e-mails' texts: plain text plus a simple HTML part, in English or German (the profile's language).

Messages name no personal data beyond what the person already knows (the kind of request and, for a rejection,
the policy's reason text); they carry no links with tokens: the person signs in to the dashboard as usual."""

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

# (subject, paragraphs); {request} is the request's name, {reason} the rejection's reason text
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
    },
}


def language_of(tag: str | None) -> str:
    """German for any `de` tag (de, de-AT, ...), English otherwise."""
    return "de" if tag and tag.lower().split("-")[0] == "de" else "en"


def render(kind: NoticeKind, *, language: str, request_kind: str | None, reason: str | None) -> Rendered:
    lang = language if language in _TEMPLATES else "en"
    subject, paragraphs = _TEMPLATES[lang][kind]
    names = _REQUEST_NAMES[lang]
    values = {
        "request": names.get(request_kind or "", request_kind or ""),
        "reason": reason or ("keine Angabe" if lang == "de" else "not given"),
    }
    lines = [p.format(**values) for p in paragraphs]
    text = "\n\n".join(lines) + "\n"
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    page = f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head><body>{body}</body></html>'
    return Rendered(subject=subject, text=text, html=page)
