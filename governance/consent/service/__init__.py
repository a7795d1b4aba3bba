"""The consent service: what every other domain calls (docs/contracts.md). Never commits: the caller owns the
transaction, and every state change is written together with its ledger event and audit entry.

Reads are built for the hot path: the purpose catalog is loaded once, and `is_permitted` is one primary-key
lookup of the derived state row plus a pure evaluation (`state.evaluate`).

The modules, by concern: `catalog` (the purposes in force), `views` (the values handed out), `checks` (is a
purpose permitted, for one subject, many, or all), `history` (a subject's state, ledger and receipts),
`receipt_keys` (the signing key and every verification key), `validation` (what a caller asks to record),
`state_rows` (the locked state rows of a write), `ledger` (the one write path), `decisions` (the writes callers
make), `idempotency` (keyed API writes). This package re-exports their public names, so callers import
`governance.consent.service` only.
"""

from governance.consent.processors import delivery_status, notify_processors  # implemented with the webhooks
from governance.consent.service.catalog import PURPOSE_CATALOG, load_purposes, purpose, purposes
from governance.consent.service.checks import _check_many_statement as _check_many_statement
from governance.consent.service.checks import (
    check_many,
    is_permitted,
    iter_permitted_subjects,
    permitted_subjects_select,
    subjects_needing_renewal,
)
from governance.consent.service.decisions import (
    apply_gpc,
    expire_due,
    lift_objection,
    object_to,
    record_decisions,
    subject_exists,
    withdraw_all,
)
from governance.consent.service.history import history, lawful_event_categories, overview, receipts
from governance.consent.service.idempotency import (
    KEY_RETENTION,
    PRUNE_BATCH,
    idempotent_replay,
    prune_idempotency_keys,
    remember_response,
)
from governance.consent.service.ledger import _record as _record
from governance.consent.service.receipt_keys import (
    KNOWN_KEYS_EXTENSION,
    RECEIPT_KEY_NAME,
    SIGNER_EXTENSION,
    public_jwks,
    public_keys,
    verify_receipt_token,
)
from governance.consent.service.receipt_keys import _publish_signing_key as _publish_signing_key
from governance.consent.service.receipt_keys import _signer as _signer
from governance.consent.service.validation import DEFAULT_CLOCK_SKEW, EVIDENCE_KEYS
from governance.consent.service.validation import _check_jurisdiction as _check_jurisdiction
from governance.consent.service.validation import _validate as _validate
from governance.consent.service.views import ConsentEventView, DecisionInput, PurposeStatus, Receipt
from governance.consent.state import Decision, Method, Permission

# The `x as x` imports above are private names that imports.py, cli.py and tests/consent use, re-exported so that
# they need not change; they are not part of the contract. (A test that patches a module global patches the
# submodule that reads it, e.g. `checks._BULK_CHUNK`.)
__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "EVIDENCE_KEYS",
    "KEY_RETENTION",
    "KNOWN_KEYS_EXTENSION",
    "PRUNE_BATCH",
    "PURPOSE_CATALOG",
    "RECEIPT_KEY_NAME",
    "SIGNER_EXTENSION",
    "ConsentEventView",
    "Decision",
    "DecisionInput",
    "Method",
    "Permission",
    "PurposeStatus",
    "Receipt",
    "apply_gpc",
    "check_many",
    "delivery_status",
    "expire_due",
    "history",
    "idempotent_replay",
    "is_permitted",
    "iter_permitted_subjects",
    "lawful_event_categories",
    "lift_objection",
    "load_purposes",
    "notify_processors",
    "object_to",
    "overview",
    "permitted_subjects_select",
    "prune_idempotency_keys",
    "public_jwks",
    "public_keys",
    "purpose",
    "purposes",
    "receipts",
    "record_decisions",
    "remember_response",
    "subject_exists",
    "subjects_needing_renewal",
    "verify_receipt_token",
    "withdraw_all",
]
