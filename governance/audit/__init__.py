"""The audit domain: an append-only, tamper-evident log written by every domain through `record`."""

from __future__ import annotations

from governance.audit.aggregates import ActionOn, actions_on, latest_checkpoint
from governance.audit.reports import StoredVerification, latest_verification, request_verification
from governance.audit.service import (
    REF_PREFIX,
    Entry,
    batch_part,
    deferred,
    deferred_part,
    digest_ref,
    record,
    record_many,
)

__all__ = [
    "REF_PREFIX",
    "ActionOn",
    "Entry",
    "StoredVerification",
    "actions_on",
    "batch_part",
    "deferred",
    "deferred_part",
    "digest_ref",
    "latest_checkpoint",
    "latest_verification",
    "record",
    "record_many",
    "request_verification",
]
