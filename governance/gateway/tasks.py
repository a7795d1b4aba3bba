"""Job handlers of the gateway: building a release and a DP synthetic release (idempotent: a rerun rebuilds the file
and lineage)."""

from __future__ import annotations

import os
import uuid
from typing import Any

from flask import current_app

from governance import inputs
from governance.db import transaction
from governance.errors import DomainError
from governance.gateway import service, synthetic_release
from governance.gateway.models import Release
from governance.jobs import JobContext, PermanentJobError, register, register_periodic

EXPIRE_EVERY_SECONDS = 3600
MAX_ATTEMPTS = 3


def register_schedules() -> None:
    register_periodic("gateway.expire_release_files", every_seconds=EXPIRE_EVERY_SECONDS)


@register("gateway.expire_release_files", lease_seconds=120)
def expire_release_files(ctx: JobContext) -> dict[str, Any]:
    with transaction(ctx.session()) as session:
        expired = service.expire_release_files(session)
    return {"expired": expired}


@register("gateway.release", lease_seconds=300, max_attempts=MAX_ATTEMPTS)
def build_release(ctx: JobContext) -> dict[str, Any]:
    release_id = uuid.UUID(ctx.payload["release_id"])
    with transaction(ctx.session()) as session:
        release = session.get(Release, release_id)
        if release is None or release.status in ("ready", "expired", "failed"):
            return {"release_id": str(release_id), "skipped": True}
        release.status = "running"
        stored_spec, client_id, purpose = dict(release.spec), release.client_id, release.purpose
    ctx.progress(0, None, "selecting permitted subjects")

    def progress(done: int, phase: str) -> None:
        ctx.progress(done, None, f"{phase}: {done} subjects")

    try:
        spec = _spec_of(stored_spec)
        with ctx.session() as session:
            build = service.build_dataset(
                session,
                purpose=purpose,
                client_id=client_id,
                spec=spec,
                output_dir=service.releases_dir(),
                session_factory=ctx.session,
                progress=progress,
                release_id=release_id,
            )
    except DomainError as exc:  # not retried: the release fails with the error's code
        with transaction(ctx.session()) as session:
            service.fail_release(session, session.get_one(Release, release_id), exc.code)
        raise
    except Exception:
        if ctx.attempt >= MAX_ATTEMPTS:  # the last try: leave no release "running" forever
            with transaction(ctx.session()) as session:
                service.fail_release(session, session.get_one(Release, release_id), "internal_error")
        raise
    file_name = service.move_into_store(build, release_id)
    with transaction(ctx.session()) as session:
        service.complete_release(session, session.get_one(Release, release_id), build, file_name)
    current_app.logger.info("gateway release built", extra={"release_id": str(release_id), "rows": build.rows})
    return {"release_id": str(release_id), "rows": build.rows, "subjects": len(build.subject_ids)}


def _spec_of(stored: dict[str, Any]) -> Any:
    """The stored spec as a DatasetSpec; one that cannot be read (or whose window is outside the data) fails
    the release once with `invalid_spec` instead of crashing every retry."""
    try:
        times = {k: inputs.check_data_window(inputs.parse_timestamp(stored[k])) if stored.get(k) else None
                 for k in ("since", "until")}  # fmt: skip
        return service.DatasetSpec.of(stored | times)
    except (TypeError, ValueError) as exc:
        raise PermanentJobError("The stored dataset spec cannot be read.", code="invalid_spec") from exc


@register(synthetic_release.JOB_KIND, lease_seconds=1800, max_attempts=synthetic_release.MAX_ATTEMPTS)
def run_synthetic_job(ctx: JobContext) -> dict[str, Any]:
    """Build a queued synthetic release (idempotent: a ready one is skipped; a rerun after a crash rebuilds it,
    and only the stored build is ever released or charged)."""
    release_id = uuid.UUID(ctx.payload["release_id"])
    with transaction(ctx.session()) as session:
        release = session.get(Release, release_id)
        if release is None or release.status in ("ready", "expired", "failed"):
            return {"release_id": str(release_id), "skipped": True}
        release.status = "running"
        spec = synthetic_release.spec_of(release)
    ctx.progress(0, None, "reading the permitted people")
    try:
        build = synthetic_release.build_synthetic(ctx.session, spec, output_dir=service.releases_dir())
    except synthetic_release.DataReadError:
        with transaction(ctx.session()) as session:
            synthetic_release.settle_failure(
                session, session.get_one(Release, release_id), "generator_failed", data_read=True
            )
        raise
    except Exception:
        if ctx.attempt >= synthetic_release.MAX_ATTEMPTS:
            with transaction(ctx.session()) as session:
                synthetic_release.settle_failure(
                    session, session.get_one(Release, release_id), "internal_error", data_read=True
                )
        raise
    ctx.progress(build.rows, None, "storing the synthetic release")
    name = f"{release_id}.{spec.format}"
    target = service.releases_dir() / name
    os.replace(build.path, target)
    os.chmod(target, 0o600)
    with transaction(ctx.session()) as session:
        synthetic_release.complete_synthetic(session, session.get_one(Release, release_id), build, name)
    return {"release_id": str(release_id), "rows": build.rows}
