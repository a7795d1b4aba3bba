"""The gateway's service: policy checks, dataset builds and releases, lineage, download links, and (re-exported
from `ledger`) the privacy budget. See docs/contracts.md for what other domains may call; nothing here commits.

The modules, by concern: `specs` (the spec, its policy check and what a build returns), `linkage` (earlier
releases a new one joins), `partitions` (the subject spill and forked partitions), `building`
(`build_dataset`, step by step), `releases` (request, complete, fail, lineage, the release store) and
`downloads` (expiring links). This package re-exports the public names, so callers import
`governance.gateway.service` only.
"""

from governance.gateway.history import LedgerEntry, budget_ledger, recent_releases
from governance.gateway.ledger import (
    BudgetPreview,
    BudgetView,
    budget_status,
    commit_budget,
    preview_budget,
    refund_budget,
    reserve_budget,
)
from governance.gateway.policy import gateway_policy
from governance.gateway.preview import Preview, preview_spend
from governance.gateway.service.building import build_dataset
from governance.gateway.service.downloads import create_download_link, resolve_download
from governance.gateway.service.linkage import CONTENT, joinable_by, joinable_releases
from governance.gateway.service.partitions import (
    MIN_PARTITION_SUBJECTS,
    can_fork,
    partition_bounds,
    release_processes,
)
from governance.gateway.service.releases import (
    ReleaseSummary,
    complete_release,
    expire_release_files,
    fail_release,
    get_release,
    move_into_store,
    policy_version,
    release_mode_info,
    releases_dir,
    releases_including,
    request_release,
    subjects_in_release,
)
from governance.gateway.service.specs import (
    EVENT_BASE_FIELDS,
    FORMATS,
    PSEUDONYM_MODES,
    DatasetBuild,
    DatasetSpec,
    check_spec,
    register_mode_builder,
)

__all__ = [
    "CONTENT",
    "EVENT_BASE_FIELDS",
    "FORMATS",
    "MIN_PARTITION_SUBJECTS",
    "PSEUDONYM_MODES",
    "BudgetPreview",
    "BudgetView",
    "DatasetBuild",
    "DatasetSpec",
    "LedgerEntry",
    "Preview",
    "ReleaseSummary",
    "budget_ledger",
    "budget_status",
    "build_dataset",
    "can_fork",
    "check_spec",
    "commit_budget",
    "complete_release",
    "create_download_link",
    "expire_release_files",
    "fail_release",
    "gateway_policy",
    "get_release",
    "joinable_by",
    "joinable_releases",
    "move_into_store",
    "partition_bounds",
    "policy_version",
    "preview_budget",
    "preview_spend",
    "recent_releases",
    "refund_budget",
    "register_mode_builder",
    "release_mode_info",
    "release_processes",
    "releases_dir",
    "releases_including",
    "request_release",
    "reserve_budget",
    "resolve_download",
    "subjects_in_release",
]
