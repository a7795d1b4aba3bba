"""Data subject requests: the service other domains and the routes call (docs/contracts.md).

Functions take the session first and never commit: the route or job handler owns the transaction, so that every
state change and its audit entry commit together.

The modules, by concern: `filing` (file or merge a request and start it), `staff` (verify, confirm, reject,
extend), `manual` (retry a failed job, complete by hand), `reading` (one request, a page, counts), `overdue`
(the overdue list, alert and gauge). Casework, the
export and the erasure steps live in `casework.py`, `exports.py` and `erasure.py`; the request view, the
shared constants and the transition helpers that write each audit entry in `records.py` (the pure state
machine they check against is `lifecycle.py`). This package re-exports their public names, so callers import
`governance.requests.service` only.
"""

from governance.requests.casework import NoteView, add_note, assign_owner, notes_of, owner_of
from governance.requests.erasure import (
    certificate_jwks,
    certificate_of,
    certify_erasure,
    erase,
    erase_locally,
    processor_statuses,
)
from governance.requests.exports import (
    collect_export,
    issue_download_link,
    link_request,
    open_download,
    purge_expired_bundles,
    run_export,
)
from governance.requests.records import (
    BUNDLE_KEK,
    CERTIFICATE_KEY,
    ERASURE_EVENT,
    ERASURE_JOB,
    EXPORT_JOB,
    WORKER,
    FiledRequest,
    RequestView,
    Source,
    get_policy,
    requests_for_subject,
)
from governance.requests.service.filing import file_request
from governance.requests.service.manual import (
    COMPLETION_METHODS,
    complete_by_hand,
    may_complete,
    may_retry,
    refusal_text,
    retry_job,
)
from governance.requests.service.overdue import OVERDUE_GAUGE, overdue, refresh_overdue_metric, sweep_overdue
from governance.requests.service.reading import count_by_status, get_request, list_requests, request_owner
from governance.requests.service.staff import confirm_request, extend_request, reject_request, verify_request

__all__ = [
    "BUNDLE_KEK",
    "CERTIFICATE_KEY",
    "COMPLETION_METHODS",
    "ERASURE_EVENT",
    "ERASURE_JOB",
    "EXPORT_JOB",
    "OVERDUE_GAUGE",
    "WORKER",
    "FiledRequest",
    "NoteView",
    "RequestView",
    "Source",
    "add_note",
    "assign_owner",
    "certificate_jwks",
    "certificate_of",
    "certify_erasure",
    "collect_export",
    "complete_by_hand",
    "confirm_request",
    "count_by_status",
    "erase",
    "erase_locally",
    "extend_request",
    "file_request",
    "get_policy",
    "get_request",
    "issue_download_link",
    "link_request",
    "list_requests",
    "may_complete",
    "may_retry",
    "notes_of",
    "open_download",
    "overdue",
    "owner_of",
    "processor_statuses",
    "purge_expired_bundles",
    "refresh_overdue_metric",
    "refusal_text",
    "reject_request",
    "request_owner",
    "requests_for_subject",
    "retry_job",
    "run_export",
    "sweep_overdue",
    "verify_request",
]
