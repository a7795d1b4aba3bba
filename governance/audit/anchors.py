"""Trust anchors outside the database: the published checkpoint directory and the witness.

- Before the sealer signs, `extend_published` recomputes the tree from the newest *published* checkpoint's
  frontier (outside the database; it folds to the signed root) plus the stored leaf hashes since then, and
  requires the database's head to have exactly that root. A database whose older entries, hashes or head were
  rewritten (and its later checkpoints deleted) therefore cannot get a forged tree signed: the sealer refuses
  and raises an alarm (a log line and an `audit.checkpoint.refused` entry, neither with personal data).
- After the sealing transaction commits, `publish` writes every new checkpoint (and any the database has that
  were not published yet, once their roots are checked the same way) to the directory, and `cosign` asks the
  witness to cosign the newest one with a consistency proof from the last size it cosigned.
- `verify` and the export use the published and witnessed checkpoints (and their leaf hashes), not only the
  database's own, as the reference. See docs/audit.md, "Trust outside the database".
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from governance.audit import merkle
from governance.audit.checkpoint import Checkpoint, parse_checkpoint
from governance.audit.models import AuditCheckpoint, AuditEntry
from governance.audit.publish import (
    PublishConflictError,
    PublishedCheckpoint,
    PublishedFileError,
    PublishedTreeNodes,
    Publisher,
)
from governance.audit.service.config import AuditConfig
from governance.audit.service.leaves import StoredLeafNodes
from governance.audit.service.writing import record
from governance.audit.witness import request_body
from governance.core.principals import Principal

__all__ = ["Refusal", "TrustedTree", "cosign", "extend_published", "publish"]

log = logging.getLogger("governance.audit")

# reason codes of a refusal (stable: logged, audited and shown in the verify report)
PUBLISHED_UNREADABLE = "published_checkpoint_invalid"
DATABASE_SHORTER = "database_shorter_than_published"
DATABASE_ROOT_DIFFERS = "database_root_differs_from_published"
DATABASE_CHECKPOINT_DIFFERS = "database_checkpoint_differs_from_published_tree"


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    published_size: int
    database_size: int
    published_root: str = ""  # hex; tells one refusal condition from another for the once-only alarm


@dataclass(frozen=True, slots=True)
class TrustedTree:
    """The database tree, checked against the newest published checkpoint: its frontier and the leaf hashes
    since that checkpoint, and the database checkpoints in between that were not published yet."""

    base: PublishedCheckpoint | None
    frontier: merkle.Frontier
    leaves: list[bytes]  # [base size, frontier.size)
    unpublished: list[tuple[Checkpoint, int, merkle.Frontier]]  # (checkpoint, interval start, frontier at it)

    @property
    def base_size(self) -> int:
        return self.base.size if self.base else 0


def _publisher(config: AuditConfig) -> Publisher | None:
    return Publisher(config.publish_dir) if config.publish_dir is not None else None


def extend_published(session: Session, config: AuditConfig, head_size: int, head_root: bytes) -> TrustedTree | Refusal:
    """The tree the head claims, rebuilt from the newest published checkpoint; a Refusal when it is not an
    extension of it (the database was rolled back or rewritten below what was published)."""
    publisher = _publisher(config)
    try:
        base = publisher.latest(config.public_keys, config.origin) if publisher else None
    except (PublishedFileError, OSError):
        return Refusal(PUBLISHED_UNREADABLE, -1, head_size)
    base_size = base.size if base else 0
    root_hex = base.checkpoint.root.hex() if base else ""
    if head_size < base_size:
        return Refusal(DATABASE_SHORTER, base_size, head_size, root_hex)
    c = AuditEntry.__table__.c
    leaves = list(session.scalars(sa.select(c.leaf_hash).where(c.seq >= base_size, c.seq < head_size).order_by(c.seq)))
    if len(leaves) != head_size - base_size or any(leaf is None or len(leaf) != 32 for leaf in leaves):
        return Refusal(DATABASE_SHORTER, base_size, head_size, root_hex)
    query = sa.select(AuditCheckpoint.size, AuditCheckpoint.note).where(
        AuditCheckpoint.size > base_size, AuditCheckpoint.size <= head_size
    )
    db_checkpoints: dict[int, str] = {size: note for size, note in session.execute(query)}  # noqa: C416
    frontier = base.frontier.copy() if base else merkle.Frontier()
    unpublished: list[tuple[Checkpoint, int, merkle.Frontier]] = []
    start = base_size
    for leaf in leaves:
        frontier.append(leaf)
        note = db_checkpoints.get(frontier.size)
        if note is not None:
            checkpoint = parse_checkpoint(note)
            if checkpoint.root != frontier.root():
                return Refusal(DATABASE_CHECKPOINT_DIFFERS, base_size, head_size, root_hex)
            unpublished.append((checkpoint, start, frontier.copy()))
            start = frontier.size
    if frontier.root() != head_root:
        return Refusal(DATABASE_ROOT_DIFFERS, base_size, head_size, root_hex)
    return TrustedTree(base, frontier, leaves, unpublished)


def publications(tree: TrustedTree, new: Checkpoint | None) -> list[PublishedCheckpoint]:
    """The files to write after commit: the unpublished database checkpoints and the new one, in size order."""
    out = []
    items = list(tree.unpublished)
    if new is not None and (not items or items[-1][0].size != new.size):
        last = items[-1][2].size if items else tree.base_size
        items.append((new, last, tree.frontier.copy()))
    for checkpoint, start, frontier in items:
        offset = start - tree.base_size
        chunk = tree.leaves[offset : offset + frontier.size - start]
        out.append(PublishedCheckpoint(checkpoint, start, frontier, b"".join(chunk)))
    return out


def publish(config: AuditConfig, items: Sequence[PublishedCheckpoint]) -> int:
    """Write the checkpoints to the published directory (after the commit that made them). A failure is logged
    (the next signed checkpoint publishes what was missed); returns how many files were written."""
    publisher = _publisher(config)
    if publisher is None:
        return 0
    written = 0
    for item in items:
        try:
            written += publisher.publish(item)
        except PublishConflictError:
            try:
                same = publisher.read(item.size).checkpoint.to_text() == item.checkpoint.to_text()
            except (PublishedFileError, OSError):
                same = False
            if not same:
                log.error("audit: a different checkpoint of size %d is already published (fork)", item.size)
        except OSError as exc:
            log.error("audit: cannot publish checkpoint %d: %s", item.size, type(exc).__name__)
    return written


def _witness_base(publisher: Publisher, key_hash: bytes) -> int:
    sizes = [size for size, witness, _ in publisher.witnessed() if witness == key_hash.hex()]
    return max(sizes, default=0)


def _proof_nodes(session: Session, publisher: Publisher, old: int, new: int) -> Any:
    """Nodes for a proof old -> new: the published frontier at `old` and the stored leaf hashes after it."""
    c = AuditEntry.__table__.c
    leaves = list(session.scalars(sa.select(c.leaf_hash).where(c.seq >= old, c.seq < new).order_by(c.seq)))
    base = merkle.Frontier() if old == 0 else publisher.read(old).frontier
    return PublishedTreeNodes(base, leaves)


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str]:
    # only http(s): urllib would also open file: and custom schemes given in GOVERNANCE_AUDIT_WITNESS_URL
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("the witness URL must be http or https")
    request = urllib.request.Request(url.rstrip("/") + "/add-checkpoint", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "text/plain")
    try:
        # bandit B310: the scheme is checked above; the URL is the operator setting, never a client value
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def cosign(session_factory: Any, config: AuditConfig, checkpoint: Checkpoint) -> str | None:
    """Ask the configured witness to cosign `checkpoint`; publish the cosigned note. Returns the outcome code
    ("cosigned", "refused", "unreachable") or None when no witness is configured."""
    publisher = _publisher(config)
    if not config.witness_url or config.witness is None or publisher is None:
        return None
    old = min(_witness_base(publisher, config.witness.key_id), checkpoint.size)
    for _attempt in range(2):
        try:
            with session_factory() as session:
                nodes = _proof_nodes(session, publisher, old, checkpoint.size)
                proof = merkle.consistency_proof(nodes, old, checkpoint.size)
        except (PublishedFileError, OSError, ValueError):
            with session_factory() as session:  # no published frontier at `old`: build from the stored leaves
                proof = merkle.consistency_proof(StoredLeafNodes(session), old, checkpoint.size)
        try:
            body = request_body(old, proof, checkpoint.to_text())
            status, text = _post(config.witness_url, body, config.witness_timeout)
        except (OSError, ValueError) as exc:
            log.warning("audit: the witness is unreachable (%s)", type(exc).__name__)
            return "unreachable"
        if status == 409 and text.strip().isdigit() and int(text.strip()) != old:
            old = int(text.strip())  # the witness is at another size: prove from there
            continue
        if status == 200 and text.startswith("\u2014 "):
            note = checkpoint.to_text() + "".join(line + "\n" for line in text.splitlines() if line)
            try:
                publisher.publish_cosigned(checkpoint.size, config.witness.key_id, note)
            except (PublishConflictError, OSError) as exc:
                log.error("audit: cannot publish the cosigned checkpoint %d: %s", checkpoint.size, type(exc).__name__)
            return "cosigned"
        log.error("audit: the witness refused checkpoint %d (HTTP %d)", checkpoint.size, status)
        _alarm(
            session_factory,
            "audit.checkpoint.witness_refused",
            {"status": status, "size": checkpoint.size},
            checkpoint.root.hex(),
        )
        return "refused"
    return "refused"


_RAISED: set[tuple[str, str]] = set()


def _alarm(session_factory: Any, action: str, details: dict[str, Any], dedupe: str = "") -> None:
    with session_factory() as session:
        record_alarm(session, action, details, dedupe)
        session.commit()


def record_alarm(session: Session, action: str, details: dict[str, Any], dedupe: str = "") -> None:
    """Log and audit an alarm once per process and condition (the sealer retries every few seconds)."""
    key = (action, f"{sorted(details.items())}{dedupe}")
    if key in _RAISED:
        return
    _RAISED.add(key)
    log.error("audit alarm %s %s", action, " ".join(f"{k}={v}" for k, v in sorted(details.items())))
    record(session, actor=Principal.system("audit.sealer"), action=action, target=("audit_log", "log"), details=details)


def trusted_checkpoints(config: AuditConfig) -> tuple[list[PublishedCheckpoint], list[tuple[Checkpoint, str]]]:
    """The published checkpoints (verified) and the witness-cosigned notes (checkpoint, note text) of the
    directory, by any witness. Raises PublishedFileError when a published file does not verify."""
    publisher = _publisher(config)
    if publisher is None:
        return [], []
    published = publisher.load_all(config.public_keys, config.origin)
    cosigned = []
    for _size, _witness, path in publisher.witnessed():  # every witness's: verifiers pick the ones they trust
        text = path.read_text(encoding="utf-8")
        cosigned.append((parse_checkpoint(text), text))
    return published, cosigned
