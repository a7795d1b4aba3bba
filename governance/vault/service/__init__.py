"""The vault's services: subjects, encrypted profiles and events, reads by view, crypto-shredding.

Every function takes the caller's `Session` and never commits: the route or job owns the transaction, and every
state change adds its audit entry to the same session. Values are validated before anything is written, so a
rejected call leaves nothing behind. Key management (master-key rotation, data-key rotation) and retention live
in `governance.vault.keymanagement` and `governance.vault.retention`.

This package is what other domains call (docs/contracts.md); its modules, by concern:
`subjects` (create, find, load, erased and active ids), `profiles` (rectify, read by view), `event_validation`
and `event_intake` (ingest a batch of events), `events` (stream and count a subject's events), `release_rows`
(bulk decryption for the gateway), `shredding` (crypto-shred), `datakeys` (master version, ciphers),
`results` (the returned values), `statements` (shared SQL helpers).

Names outside `__all__` imported here with `name` stay importable from this package as before the split
(the vault's `keymanagement` and `retention`, tests/vault); new code imports them from their submodule.
"""

from __future__ import annotations

from governance.vault.service.datakeys import backups_unreadable_by
from governance.vault.service.event_intake import MAX_EVENTS_PER_REQUEST, ingest_events
from governance.vault.service.events import (
    bounded_event_count,
    bounded_event_histogram,
    event_counts,
    event_counts_by_month,
    iter_events,
    time_bin_edges,
)
from governance.vault.service.profiles import read_profile, update_profile
from governance.vault.service.release_rows import iter_release_rows
from governance.vault.service.results import (
    EventRejection,
    EventView,
    IntakeReport,
    ShredReport,
    SubjectRows,
    SubjectView,
)
from governance.vault.service.shredding import shred_subject
from governance.vault.service.subjects import (
    active_subject_select,
    all_active_subject_ids,
    categories,
    create_subject,
    create_subjects,
    erased_ids,
    find_subject,
    get_subject,
    subject_jurisdiction,
)

# isort: off
# Importable from here as before the split (`name as name`: an explicit re-export), though not in `__all__`:
# governance.vault.keymanagement and .retention, tests/vault. New code imports these from their submodule.
from governance.vault.service.datakeys import _decrypt as _decrypt, _unwrap as _unwrap, _wrapped as _wrapped
from governance.vault.service.datakeys import active_master_version as active_master_version
from governance.vault.service.event_intake import MAX_FUTURE_SKEW as MAX_FUTURE_SKEW
from governance.vault.service.event_intake import STORED_EVENT_ID_PREFIX as STORED_EVENT_ID_PREFIX
from governance.vault.service.event_intake import forget_clear_id_check as forget_clear_id_check
from governance.vault.service.event_intake import stored_event_ids as stored_event_ids
from governance.vault.service.release_rows import _release_event_query as _release_event_query
from governance.vault.service.results import Actor as Actor, View as View
from governance.vault.service.statements import rowcount as rowcount
from governance.vault.service.subjects import _load_subject as _load_subject
# isort: on

__all__ = [
    "MAX_EVENTS_PER_REQUEST",
    "EventRejection",
    "EventView",
    "IntakeReport",
    "ShredReport",
    "SubjectRows",
    "SubjectView",
    "active_subject_select",
    "all_active_subject_ids",
    "backups_unreadable_by",
    "bounded_event_count",
    "bounded_event_histogram",
    "categories",
    "create_subject",
    "create_subjects",
    "erased_ids",
    "event_counts",
    "event_counts_by_month",
    "find_subject",
    "get_subject",
    "ingest_events",
    "iter_events",
    "iter_release_rows",
    "read_profile",
    "shred_subject",
    "subject_jurisdiction",
    "time_bin_edges",
    "update_profile",
]
