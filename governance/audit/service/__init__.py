"""The audit log in the database: writing entries, sealing them into the Merkle tree, checkpoints, verify,
search and export.

Concurrency design (docs/audit.md): `record` only INSERTs a row with a provisional id, in the caller's
transaction, so writers never wait on each other. The sealer (`seal_pending`, run by the periodic job
`audit.seal`, before verify/export, and by the CLI) locks the single chain-head row, reads committed unsealed
entries in provisional-id order, gives them consecutive positions `seq` from the head's size, hashes them into
the tree (only the right-edge frontier is needed) and signs a checkpoint every N entries or M seconds. A
rolled-back writer never received a position, so positions have no gaps; one head row means one tree (no fork).

The modules, by concern: `config` (the log's configuration), `screening` (what an entry may hold, and the
redaction of refusals), `writing` (record, record_many), `sealing` (positions, the tree, checkpoints),
`verification` (the whole log against the signed checkpoints), `search`, `exporting` (the pieces of an export)
and `proofs` (consistency and inclusion for auditors). This package re-exports their public names, so callers
import `governance.audit.service` only.
"""

from governance.audit.service.config import KEY_NAME, SIGNING_KEY, AuditConfig, current_config, publish_dir_setting
from governance.audit.service.exporting import _sealed_rows as _sealed_rows
from governance.audit.service.exporting import export_parts
from governance.audit.service.proofs import PROOF_FORMAT, consistency_proof, inclusion_proof
from governance.audit.service.screening import REDACTED_PREFIX, REF_PREFIX, digest_ref, redacted
from governance.audit.service.sealing import SealResult, seal_all, seal_pending, typed_entry
from governance.audit.service.sealing import _row_bytes as _row_bytes
from governance.audit.service.search import SearchFilters, search
from governance.audit.service.verification import checkpoints, verify
from governance.audit.service.writing import Entry, Target, batch_part, deferred, deferred_part, record, record_many
from governance.audit.verifier import VerifyReport

# The `x as x` imports above are private names that tests/audit use, re-exported so that they
# need not change; they are not part of the contract.
__all__ = [
    "KEY_NAME",
    "PROOF_FORMAT",
    "REDACTED_PREFIX",
    "REF_PREFIX",
    "SIGNING_KEY",
    "AuditConfig",
    "Entry",
    "SealResult",
    "SearchFilters",
    "Target",
    "VerifyReport",
    "batch_part",
    "checkpoints",
    "consistency_proof",
    "current_config",
    "deferred",
    "deferred_part",
    "digest_ref",
    "export_parts",
    "inclusion_proof",
    "publish_dir_setting",
    "record",
    "record_many",
    "redacted",
    "seal_all",
    "seal_pending",
    "search",
    "typed_entry",
    "verify",
]
