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

from sqlalchemy.orm import Session

SUBJECT_TARGETS = ("subject", "Subject")
LIMIT_PER_TARGET = 200
ROLE_WORDS = {
    "dpo": "data protection officer",
    "support": "customer support",
    "admin": "administrator",
    "auditor": "auditor",
    "security": "security team",
    "ml_engineer": "machine learning team",
}
# the audit actions a person is shown, with what happened in words
SUBJECT_ACTIONS = {
    "vault.profile.read_clear": "saw your details in clear",
    "access.break_glass.granted": "opened your details in an emergency (break-glass), giving a reason",
    "vault.events.read": "looked at your recorded activity",
}
REQUEST_ACTIONS = {
    "requests.link.issued": "made a download link for the copy of your data",
    "requests.bundle.downloaded": "downloaded the copy of your data",
}
BUNDLE_ACTIONS = {"requests.bundle.created": "prepared the copy of your data you asked for"}
RELEASE_ACTIONS = {
    "gateway.release.completed": "was given a dataset that included your data",
    "gateway.release.downloaded": "downloaded a dataset that included your data",
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
        names = [ROLE_WORDS.get(r, r.replace("_", " ")) for r in roles.get(actor, [])]
        return "Our " + (" and ".join(names) if names else "staff") if names else "A member of our staff"
    if kind == "client":
        return clients.get(actor, "One of our services")
    if kind == "subject" and actor == subject_id:
        return None  # the person's own actions are not "someone accessed my data"
    if kind == "subject":
        return None
    return "Our systems"


def entries_about(
    session: Session,
    subject_id: Any,
    request_ids: list[Any],
    release_recipients: dict[str, str],
    bundle_ids: list[Any] = (),  # type: ignore[assignment]
) -> list[AccessEntry]:
    """Every shown access to the person's data, newest first. `release_recipients`: the id and recipient name of
    each dataset release that included the person; `bundle_ids`: the export bundles made for their requests."""
    from governance.audit import service as audit
    from governance.web import sources

    roles = {s["id"]: s["roles"] for s in sources.staff(session)}
    clients = {c["id"]: c["name"] for c in sources.clients(session)}
    found: dict[int, AccessEntry] = {}

    def collect(target_kind: str, target_id: str, actions: dict[str, str], recipient: str | None = None) -> None:
        filters = audit.SearchFilters(target_kind=target_kind, target_id=target_id)
        page, _cursor = audit.search(session, filters, limit=LIMIT_PER_TARGET, newest_first=True)
        for item in page:
            entry = item["entry"]
            what = actions.get(entry.get("action", ""))
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
