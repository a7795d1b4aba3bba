"""Whose data a dashboard page shows: always the session's own subject, or one of that subject's requests.

The `@resource_of` functions give each route's declaration its resource; the helpers turn a page URL's ids into
UUIDs (anything else is a 404) and say whether the subject has been erased.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort
from flask_babel import gettext as _

from governance.access.decorators import current_principal, resource_of
from governance.access.principals import Resource
from governance.db import get_session
from governance.errors import NotFoundError
from governance.requests import service as requests
from governance.vault import service as vault
from governance.vault.errors import SubjectErasedError, SubjectNotFoundError


@resource_of("Subject")
def own_subject(_args: dict[str, Any]) -> Resource:
    """The data subject of the current dashboard session (nobody else's data is ever reachable here)."""
    subject_id = current_principal().subject_id
    if subject_id is None:
        return Resource(type="Subject", id="none")
    return Resource.subject(subject_id)


@resource_of("Request")
def own_request(args: dict[str, Any]) -> Resource:
    """A request of the session's subject; an unknown or foreign id gives a resource the policy refuses (404)."""
    request_id = uuid_or_none(args.get("request_id"))
    owner = requests.request_owner(get_session(), request_id) if request_id else None
    if owner is None and current_principal().kind == "subject":
        # unknown to a person is the same answer as another person's request: it does not exist for them
        raise NotFoundError(_("No such request."))
    return Resource(type="Request", id=str(request_id), owner_subject_id=owner[0] if owner else None)


def request_uuid(request_id: str) -> uuid.UUID:
    """The request id of a page URL; anything that is not a whole UUID (a short id, a typo) is a 404."""
    found = uuid_or_none(request_id)
    if found is None:
        raise NotFoundError(_("No such request."))
    return found


def uuid_or_none(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def own_subject_id() -> uuid.UUID:
    """The session's subject (a route's declaration has already refused a caller without one)."""
    found = current_principal().subject_id
    if found is None:  # the declaration already refused such a caller
        abort(404)
    return found


def is_erased(subject: uuid.UUID) -> bool:
    try:
        vault.get_subject(get_session(), subject)
    except SubjectErasedError:
        return True
    except SubjectNotFoundError:
        return False
    return False
