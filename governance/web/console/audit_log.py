"""The audit log pages: filtered, keyset-paged entries (newest or oldest first, jumps to a position or a day),
one entry, and asking for a full verification."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any, cast

from flask import flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from governance import audit
from governance.access.decorators import current_principal, requires
from governance.audit import service as audit_service
from governance.audit.service import SearchFilters
from governance.db import get_session, transaction
from governance.errors import NotFoundError, ValidationFailedError
from governance.settings import PROJECT_ROOT
from governance.web import present
from governance.web.blueprint import bp
from governance.web.console.chrome import render, the_audit_log

AUDIT_FILTERS = ("action", "actor_kind", "actor_id", "target_type", "target_id", "request_id", "since", "until")
AUDIT_PAGE_SIZE = 50


def _audit_filters() -> tuple[dict[str, str], Any]:
    """The filter form's values (as typed) and the audit service's filters; bad values are a 422 page."""

    values = {name: request.args.get(name, "").strip() for name in AUDIT_FILTERS}
    problems = {}
    bounds = {}
    for name in ("since", "until"):
        if values[name]:
            try:
                day = dt.date.fromisoformat(values[name])
            except ValueError:
                problems[name] = "a date (YYYY-MM-DD)"
                continue
            # `until` is inclusive in the form: up to the end of that day
            bounds[name] = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(days=1 if name == "until" else 0)
    if problems:
        raise ValidationFailedError(fields=problems)
    filters = SearchFilters(
        since=bounds.get("since"),
        until=bounds.get("until"),
        actor_kind=values["actor_kind"] or None,
        actor_id=values["actor_id"] or None,
        action_prefix=values["action"] or None,
        target_kind=values["target_type"] or None,
        target_id=values["target_id"] or None,
        request_id=values["request_id"] or None,
    )
    return values, filters


def _entry_row(item: dict[str, Any]) -> dict[str, Any]:
    entry = item["entry"]
    actor = entry.get("actor") or {}
    target = entry.get("target") or {}
    details = json.dumps(entry.get("details") or {}, sort_keys=True, ensure_ascii=False)
    return {
        "seq": entry["seq"],
        "at": present.as_datetime((entry.get("time") or {}).get("$time")),
        "action": entry.get("action"),
        "actor": f"{actor.get('kind')}:{actor.get('id')}",
        "target": f"{target.get('kind')}:{target.get('id')}" if target else None,
        "details_preview": details if len(details) <= 60 else details[:57] + "…",
        "details_full": json.dumps(entry.get("details") or {}, sort_keys=True, indent=2, ensure_ascii=False)
        if len(details) > 60
        else None,
    }


def _latest_checkpoint() -> list[tuple[str, Any]] | None:
    latest = audit.latest_checkpoint(get_session())
    if latest is None:
        return None
    return [
        ("Entries covered", latest.size),
        ("Signed at", latest.time.strftime("%Y-%m-%d %H:%M:%S UTC")),
        ("Tree root", latest.root.hex()),
        ("Key", latest.key_id),
        ("Signed note", latest.to_text()),
    ]


def _previous_cursor(session: Any, filters: Any, before: int, size: int) -> tuple[bool, int | None]:
    """Keyset paging backwards: the `size` entries matching `filters` just before seq `before` are one
    newest-first search (`size` + 1 rows, whatever the log's length). Returns (whether any entry precedes
    `before`, the `after` cursor of the previous page; None when that page is the first one)."""

    items, older = audit_service.search(session, filters, before=before, limit=size, newest_first=True)
    if not items:
        return False, None
    if older is None:  # nothing older than these: the previous page is the first
        return True, None
    return True, items[-1]["entry"]["seq"] - 1


def _jump_before(session: Any, filters: Any) -> int | None:
    """The `before` cursor a "Jump to" asks for: a position (that entry at the top of the page) or a date (the
    page starts with the last entry of that day); None when neither is given. Bad values are a 422 page."""

    position, day = request.args.get("position", "").strip(), request.args.get("date", "").strip()
    if position:
        if not position.isdigit():
            raise ValidationFailedError(fields={"position": "a whole number (an entry's #)"})
        return int(position) + 1
    if day:
        try:
            end = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(), dt.UTC) + dt.timedelta(days=1)
        except ValueError:
            raise ValidationFailedError(fields={"date": "a date"}) from None
        until = min(end, filters.until) if filters.until else end
        items, _ = audit_service.search(session, dataclasses.replace(filters, until=until), limit=1, newest_first=True)
        return items[0]["entry"]["seq"] + 1 if items else 0
    return None


def _newest_first_page(session: Any, filters: Any, page_url: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of entries, newest first, from the `before` cursor (or a jump); links to newer and older pages."""

    before = _jump_before(session, filters)
    if before is None:
        before_text = request.args.get("before", "")
        before = int(before_text) if before_text.isdigit() else None
    items, older = audit_service.search(session, filters, before=before, limit=AUDIT_PAGE_SIZE, newest_first=True)
    entries = [_entry_row(item) for item in items]
    newer_url = None
    if before is not None:
        top = entries[0]["seq"] if entries else before - 1
        newer, more = audit_service.search(session, filters, after=top, limit=AUDIT_PAGE_SIZE)
        if newer:
            newer_url = page_url(before=newer[-1]["entry"]["seq"] + 1 if more is not None else None)
    page = {
        "first_url": page_url() if newer_url and "before=" in newer_url else None,
        "first_label": "Newest entries",
        "previous_url": newer_url,
        "previous_label": "Newer entries",
        "next_url": page_url(before=older) if older is not None else None,
        "next_label": "Older entries",
        "summary": f"Entries {entries[0]['seq']} down to {entries[-1]['seq']}" if entries else "",
    }
    return entries, page


def _oldest_first_page(session: Any, filters: Any, page_url: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    after_text = request.args.get("after", "")
    after = int(after_text) if after_text.lstrip("-").isdigit() and int(after_text) >= -1 else None
    page_items, next_after = audit_service.search(session, filters, after=after, limit=AUDIT_PAGE_SIZE)
    entries = [_entry_row(item) for item in page_items]
    first_seq = entries[0]["seq"] if entries else None
    has_previous, previous_after = False, None
    if after is not None:
        before = first_seq if first_seq is not None else after + 1
        has_previous, previous_after = _previous_cursor(session, filters, before, AUDIT_PAGE_SIZE)
    page = {
        # "First page" only when "Previous page" does not already lead there
        "first_url": page_url() if after is not None and previous_after is not None else None,
        "previous_url": page_url(after=previous_after) if has_previous else None,
        "next_url": page_url(after=next_after) if next_after is not None else None,
        "summary": f"Entries {first_seq} to {entries[-1]['seq']}" if entries else "",
    }
    return entries, page


@bp.get("/console/audit")
@requires("audit.read", resource=the_audit_log)
def console_audit() -> str:
    values, filters = _audit_filters()
    order = request.args.get("order") or "newest"
    if order not in ("newest", "oldest"):
        raise ValidationFailedError(fields={"order": "newest or oldest"})
    active = {k: v for k, v in values.items() if v}

    def page_url(**cursor: int | None) -> str:
        args: dict[str, Any] = dict(active)
        if order != "newest":
            args["order"] = order
        args.update({name: value for name, value in cursor.items() if value is not None})
        return url_for("web.console_audit", **args)

    session = get_session()
    build = _newest_first_page if order == "newest" else _oldest_first_page
    entries, page = build(session, filters, page_url)
    export_urls = {
        fmt: url_for("audit_api.export_entries", format=fmt, **cast(dict[str, Any], _api_filters(values)))
        for fmt in ("jsonl", "csv")
    }
    return render(
        "web/console/audit.html",
        "web.console_audit",
        checkpoint=_latest_checkpoint(),
        filters=values,
        filters_active=bool(active),
        order=order,
        jump={"position": request.args.get("position", ""), "date": request.args.get("date", "")},
        entries=entries,
        page=page,
        export_urls=export_urls,
        known_actions=_known_actions(),
    )


def _api_filters(values: dict[str, str]) -> dict[str, str]:
    """The audit API's names for the console's filters (its export streams with inclusion proofs)."""
    out = {
        "action": values["action"],
        "actor_kind": values["actor_kind"],
        "actor_id": values["actor_id"],
        "target_kind": values["target_type"],
        "target_id": values["target_id"],
        "request_id": values["request_id"],
    }
    if values["since"]:
        out["since"] = f"{values['since']}T00:00:00Z"
    if values["until"]:
        until = dt.date.fromisoformat(values["until"]) + dt.timedelta(days=1)
        out["until"] = f"{until.isoformat()}T00:00:00Z"
    return {k: v for k, v in out.items() if v}


def _known_actions() -> list[str]:
    """Action names documented in docs/audit-actions.md (suggestions for the filter)."""

    path = PROJECT_ROOT / "docs" / "audit-actions.md"
    if not path.exists():
        return []
    return sorted(set(re.findall(r"`([a-z_]+\.[a-z_]+(?:\.[a-z_]+)+)`", path.read_text())))


@bp.get("/console/audit/<int:seq>")
@requires("audit.read", resource=the_audit_log)
def console_audit_entry(seq: int) -> str:
    items, _ = audit_service.search(get_session(), SearchFilters(), after=seq - 1, limit=1)
    if not items or items[0]["entry"]["seq"] != seq:
        raise NotFoundError("No such audit entry.")
    entry = items[0]["entry"]
    row = _entry_row(items[0])
    facts = [
        ("Sequence", seq),
        ("Time", row["at"].strftime("%Y-%m-%d %H:%M:%S.%f UTC") if row["at"] else "—"),
        ("Action", row["action"]),
        ("Actor", row["actor"]),
        ("Target", row["target"] or "—"),
        ("Request id", entry.get("request_id") or "—"),
        ("Policy version", entry.get("policy_version") or "—"),
        ("Leaf hash", items[0]["leaf_hash"]),
    ]
    return render(
        "web/console/audit_entry.html",
        "web.console_audit",
        entry={"seq": seq, "facts": facts, "details_json": json.dumps(entry.get("details"), indent=2)},
    )


@bp.post("/console/audit/verify")
@requires("audit.verify", resource=the_audit_log)
def console_audit_verify() -> ResponseReturnValue:
    """Ask for a full verification now (a job, audited); the page shows its report once it is stored."""
    with transaction(get_session()) as session:
        audit.request_verification(session, actor=current_principal())
    flash("Verification of the whole log started; its report appears here when it finishes.", "success")
    return redirect(url_for("web.console_audit"), code=303)
