"""Who accessed my data: the audit entries that touched one person, in words, with their inclusion proofs.

Read through the audit domain's service (`audit.search`, `audit.inclusion_proof`): entries whose target is the
person (staff who saw their details in clear, break-glass grants, staff reading their activity), entries about
their own requests (download links, downloads) and their export bundles (the copy prepared: that entry names the
bundle, not the request), and about dataset releases that included them.
Staff appear only by role, never by name or account id; services by their registered name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy.orm import Session

from governance.audit import service as audit
from governance.web import sources
from governance.web.i18n import N_

SUBJECT_TARGETS = ("subject", "Subject")
LIMIT_PER_TARGET = 200
ROLE_WORDS = {
    "dpo": N_("data protection officer"),
    "support": N_("customer support"),
    "admin": N_("administrator"),
    "auditor": N_("auditor"),
    "security": N_("security team"),
    "ml_engineer": N_("machine learning team"),
}
# the audit actions a person is shown, with what happened in words
SUBJECT_ACTIONS = {
    "vault.profile.read_clear": N_("saw your details in clear"),
    "access.break_glass.granted": N_("opened your details in an emergency (break-glass), giving a reason"),
    "vault.events.read": N_("looked at your recorded activity"),
}
REQUEST_ACTIONS = {
    "requests.link.issued": N_("made a download link for the copy of your data"),
    "requests.bundle.downloaded": N_("downloaded the copy of your data"),
}
BUNDLE_ACTIONS = {"requests.bundle.created": N_("prepared the copy of your data you asked for")}
RELEASE_ACTIONS = {
    "gateway.release.completed": N_("was given a dataset that included your data"),
    "gateway.release.downloaded": N_("downloaded a dataset that included your data"),
}


@dataclass(frozen=True, slots=True)
class AccessEntry:
    seq: int
    at: Any
    who: str
    what: str
    break_glass: bool


def _who(entry: dict[str, Any], roles: dict[str, list[str]], clients: dict[str, str], subject_id: str) -> str | None:
    kind, actor = entry["actor"]["kind"], str(entry["actor"]["id"])
    if kind == "staff":
        names = [gettext(ROLE_WORDS[r]) if r in ROLE_WORDS else r.replace("_", " ") for r in roles.get(actor, [])]
        if not names:
            return gettext("A member of our staff")
        joiner = " " + gettext("and") + " "
        return gettext("Our %(roles)s", roles=joiner.join(names))
    if kind == "client":
        return clients.get(actor, gettext("One of our services"))
    if kind == "subject" and actor == subject_id:
        return None  # the person's own actions are not "someone accessed my data"
    if kind == "subject":
        return None
    return gettext("Our systems")


def entries_about(
    session: Session,
    subject_id: Any,
    request_ids: list[Any],
    release_recipients: dict[str, str],
    bundle_ids: list[Any] = (),  # type: ignore[assignment]
) -> list[AccessEntry]:
    """Every shown access to the person's data, newest first. `release_recipients`: the id and recipient name of
    each dataset release that included the person; `bundle_ids`: the export bundles made for their requests."""
    roles = {s["id"]: s["roles"] for s in sources.staff(session)}
    clients = {c["id"]: c["name"] for c in sources.clients(session)}
    found: dict[int, AccessEntry] = {}

    def collect(target_kind: str, target_id: str, actions: dict[str, str], recipient: str | None = None) -> None:
        filters = audit.SearchFilters(target_kind=target_kind, target_id=target_id)
        page, _cursor = audit.search(session, filters, limit=LIMIT_PER_TARGET, newest_first=True)
        for item in page:
            entry = item["entry"]
            what = gettext(actions[entry["action"]]) if entry.get("action") in actions else None
            who = (recipient or _who(entry, roles, clients, str(subject_id))) if what else None
            if what and who:
                details = entry.get("details") or {}
                found[entry["seq"]] = AccessEntry(
                    seq=entry["seq"],
                    at=entry["time"]["$time"],
                    who=who,
                    what=what,
                    break_glass=bool(details.get("break_glass")) or entry["action"] == "access.break_glass.granted",
                )

    for kind in SUBJECT_TARGETS:
        collect(kind, str(subject_id), SUBJECT_ACTIONS)
    for request_id in request_ids:
        collect("request", str(request_id), REQUEST_ACTIONS)
    for bundle_id in bundle_ids:
        collect("bundle", str(bundle_id), BUNDLE_ACTIONS)
    for release_id, recipient in release_recipients.items():
        collect("release", str(release_id), RELEASE_ACTIONS, recipient)
    return sorted(found.values(), key=lambda e: e.seq, reverse=True)
