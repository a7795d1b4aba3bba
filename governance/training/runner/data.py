"""A training job's data: built by the gateway (consent-filtered, minimized, pseudonymized, generalized,
k-anonymous) into a temporary JSON-lines file, grouped per person, with its lineage and provenance."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from governance.db import utcnow
from governance.gateway import service as gateway
from governance.jobs import JobContext
from governance.training import features
from governance.training.errors import GatewayUnavailableError
from governance.training.features import PSEUDONYM_COLUMNS, PersonRows
from governance.training.runner.pacing import LeaseRenewer
from governance.training.schemas import TrainingJobIn
from governance.training.service.outcomes import BuildParts

__all__ = ["TrainingData", "build_training_data"]


@dataclass
class TrainingData:
    people: list[PersonRows]
    parts: BuildParts
    pseudonyms: set[str]  # every pseudonym seen: the artifact check makes sure none reaches the weights


def build_training_data(ctx: JobContext, body: TrainingJobIn, *, purpose: str, client_id: str) -> TrainingData:
    """Build the job's data set through the gateway (as of now) and read it back per person; the file is gone
    when this returns."""
    renew = LeaseRenewer(ctx)
    with tempfile.TemporaryDirectory(prefix="training-data-") as workdir:
        as_of = utcnow()
        with ctx.session() as session:
            build = gateway.build_dataset(
                session,
                purpose=purpose,
                client_id=client_id,
                spec=body.dataset.as_gateway_spec(purpose=purpose, kind=body.kind),
                as_of=as_of,
                output_dir=Path(workdir),
                session_factory=ctx.session,
                progress=lambda done, message: renew(),
            )
            session.rollback()
        parts = _build_parts(build, as_of)
        pseudonyms: set[str] = set()
        people = features.group_by_person(
            _collect_pseudonyms(_read_rows(build), pseudonyms), profile_fields=body.dataset.fields
        )
    return TrainingData(people=people, parts=parts, pseudonyms=pseudonyms)


def _build_parts(build: Any, as_of: datetime) -> BuildParts:
    """The lineage and provenance of the gateway's DatasetBuild (governance.gateway.service)."""
    return BuildParts(
        subject_ids=list(build.subject_ids),
        release_id=getattr(build, "release_id", None),
        manifest=dict(build.manifest),
        snapshot_at=build.consent_snapshot_at or as_of,
    )


def _read_rows(build: Any) -> Iterator[dict[str, Any]]:
    """Stream the build's JSON-lines file (the training job asks for jsonl)."""
    if build.format != "jsonl":
        raise GatewayUnavailableError("The training data must be built as jsonl.")
    with Path(build.path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _collect_pseudonyms(rows: Iterable[dict[str, Any]], into: set[str]) -> Iterator[dict[str, Any]]:
    """Pass rows through, remembering their pseudonyms (the artifact check makes sure none reaches the weights)."""
    for row in rows:
        for column in PSEUDONYM_COLUMNS:
            if row.get(column) is not None:
                into.add(str(row[column]))
        yield row
