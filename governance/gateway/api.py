"""The gateway API: dataset releases (request, follow, download link, download), DP statistics, budgets.

Routes parse, authorize, call the service and respond; the transaction is theirs.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from flask import Response, jsonify, send_file, url_for

from governance import audit
from governance.access.decorators import current_principal, public, requires, resource_of
from governance.access.principals import Principal, Resource
from governance.api import ErrorBody, api_blueprint, file_response
from governance.audit.service import redacted
from governance.consent.service import purposes
from governance.db import get_db, get_session, transaction
from governance.errors import ForbiddenError
from governance.gateway import dpqueries, service, synthetic_release
from governance.gateway.errors import SpecNotAllowedError
from governance.gateway.models import Release
from governance.gateway.modes import mode_info, mode_of
from governance.gateway.schemas import (
    BudgetOut,
    BudgetPath,
    DatasetSpecBody,
    DownloadQuery,
    DPQueryBody,
    DPQueryOut,
    DPQueryPreviewBody,
    LinkOut,
    PreviewOut,
    ReleaseOut,
    ReleasePath,
    SyntheticSpecBody,
)
from governance.gateway.writers import MEDIA_TYPES
from governance.jobs import get_job

bp = api_blueprint("gateway", description="Dataset releases for models, DP statistics and privacy budgets")


def _json(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


@resource_of("Dataset")
def _dataset_resource(view_args: dict[str, Any]) -> Resource:
    """The release as an access resource (its owner client and purpose); unknown ids deny like foreign ones."""
    try:
        release_id = uuid.UUID(str(view_args.get("release_id")))
    except ValueError:
        return Resource(type="Dataset", id="invalid", owner_client_id="-")
    release = get_session().get(Release, release_id)
    if release is None:
        return Resource(type="Dataset", id=str(release_id), owner_client_id="-")
    return Resource(type="Dataset", id=str(release.id), purpose=release.purpose, owner_client_id=release.client_id)


@resource_of("Budget")
def _budget_resource(view_args: dict[str, Any]) -> Resource:
    purpose = str(view_args.get("purpose", ""))[:64]
    return Resource(type="Budget", id=purpose, purpose=purpose)


def _dp_caller(principal: Principal) -> Principal:
    """DP statistics are for model services and for the DPO (who oversees every purpose); both are charged."""
    if principal.kind == "staff" and "dpo" in principal.roles:
        return principal
    return _client(principal)


def _client(principal: Principal) -> Principal:
    if principal.kind != "client":
        raise ForbiddenError("Only model services (OAuth clients) use the gateway this way.")
    return principal


def _release_out(release: Release, *, with_manifest: bool = True) -> dict[str, Any]:
    progress = None
    if release.job_id and release.status in ("queued", "running"):
        job = get_job(get_session(), release.job_id)
        progress = {k: getattr(job, k, None) for k in ("status", "progress_done", "progress_total", "progress_message")}
    info = mode_info(mode_of(release.spec))
    return ReleaseOut(
        release_id=release.id,
        status=release.status,
        purpose=release.purpose,
        format=release.format,
        pseudonyms=release.pseudonym_mode,
        mode=info.mode.value,
        data_classification=info.data_classification,
        job_id=release.job_id,
        created_at=release.created_at,
        completed_at=release.completed_at,
        checksum_sha256=release.checksum_sha256,
        rows=release.rows_released,
        k_required=release.k_required,
        k_achieved=release.k_achieved,
        error_code=release.error_code,
        progress=progress,
        manifest=release.manifest if with_manifest else None,
    ).model_dump(mode="json")


def _known_purpose_or_redacted(purpose: str) -> str:
    """A refused request names a purpose of the client's choosing: only a catalogue key is kept in clear."""
    return purpose if purpose in purposes() else redacted(purpose)


@bp.post("/datasets", responses={202: ReleaseOut})
@requires("dataset.request")
def request_dataset(body: DatasetSpecBody) -> Response:
    client = _client(current_principal())
    session = get_session()
    try:
        with transaction(session):
            release = service.request_release(session, client=client, spec=body.model_dump())
            out = _release_out(release)
    except SpecNotAllowedError as exc:
        with transaction(session):  # the refusal is audited too, in its own transaction
            audit.record(
                session,
                actor=client,
                action="gateway.release.refused",
                target=("purpose", _known_purpose_or_redacted(body.purpose)),
                details={"not_allowed": len(exc.extra["not_allowed"])},
                redact=True,  # the purpose is the client's text
            )
        raise
    return _json(out, 202)


def _refused(session: Any, client: Principal, purpose: str, exc: SpecNotAllowedError, mode: str) -> None:
    with transaction(session):  # the refusal is audited too, in its own transaction
        audit.record(
            session,
            actor=client,
            action="gateway.release.refused",
            target=("purpose", purpose),
            details={"not_allowed": len(exc.extra["not_allowed"]), "mode": mode},
        )


@bp.post("/datasets/synthetic", responses={202: ReleaseOut})
@requires("dataset.request")
def request_synthetic_dataset(body: SyntheticSpecBody) -> Response:
    """A DP synthetic release: its (epsilon, delta) is reserved now (409 `budget_exhausted` if it does not fit)
    and charged as the generator accounts it when the job completes."""
    client = _client(current_principal())
    session = get_session()
    try:
        with transaction(session):
            release = synthetic_release.request_synthetic_release(session, client=client, spec=body.model_dump())
            out = _release_out(release)
    except SpecNotAllowedError as exc:
        _refused(session, client, body.purpose, exc, synthetic_release.MODE)
        raise
    return _json(out, 202)


@bp.post("/datasets/synthetic/preview", responses={200: PreviewOut})
@requires("dataset.request")
def preview_synthetic_dataset(body: SyntheticSpecBody) -> Response:
    """Dry run: the epsilon and delta the release would charge and the budget left, at no cost."""
    client = _client(current_principal())
    with transaction(get_session()) as session:  # reads the budget and audits the preview; spends nothing
        out = synthetic_release.preview_synthetic(session, client=client, spec=body.model_dump())
    return _json(PreviewOut(**out).model_dump(mode="json"))


@bp.get("/datasets/<release_id>", responses={200: ReleaseOut})
@requires("dataset.read", resource=_dataset_resource)
def get_dataset(path: ReleasePath) -> Response:
    principal = current_principal()
    with transaction(get_session()) as session:  # read-only; ends the transaction (SQLite locks on BEGIN)
        release = service.get_release(
            session, path.release_id, client_id=principal.id if principal.kind == "client" else None
        )
        out = _release_out(release)
    return _json(out)


@bp.post("/datasets/<release_id>/links", responses={201: LinkOut})
@requires("dataset.download", resource=_dataset_resource)
def create_link(path: ReleasePath) -> Response:
    principal = current_principal()
    session = get_session()
    with transaction(session):
        release = service.get_release(session, path.release_id, client_id=_client(principal).id)
        token, expires = service.create_download_link(session, release, actor=principal)
    url = url_for("gateway_api.download_dataset", release_id=str(release.id), token=token, _external=True)
    out = LinkOut(url=url, expires_at=expires, checksum_sha256=release.checksum_sha256 or "", bytes=release.bytes or 0)
    return _json(out.model_dump(mode="json"), 201)


@bp.get(
    "/datasets/<release_id>/download",
    responses={200: file_response(*MEDIA_TYPES.values()), 409: ErrorBody, 410: ErrorBody},
)
@public("possession of an unguessable, expiring link that opens one release (only its hash is stored)")
def download_dataset(path: ReleasePath, query: DownloadQuery) -> Response:
    session = get_session()
    with transaction(session):
        release, file_path = service.resolve_download(session, path.release_id, query.token)
    response = send_file(
        file_path,
        mimetype=MEDIA_TYPES[release.format],
        as_attachment=True,
        download_name=f"release-{release.id}.{release.format}",
        conditional=False,
        etag=False,
    )
    digest = base64.b64encode(bytes.fromhex(release.checksum_sha256 or "")).decode()
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    response.headers["X-Checksum-SHA256"] = release.checksum_sha256 or ""
    response.headers["Cache-Control"] = "no-store"
    return response


def _dp_request(body: DPQueryBody) -> dpqueries.DPQueryRequest:
    return dpqueries.DPQueryRequest(
        purpose=body.purpose,
        statistic=body.statistic,
        epsilon=body.epsilon,
        event_category=body.event_category,
        profile_value=body.profile_value,
        bounds=body.bounds,
        max_rows_per_subject=body.max_rows_per_subject,
        bins=body.bins,
        quantiles=tuple(body.quantiles),
        over=body.over,
        since=body.since,
        until=body.until,
    )


@bp.post("/dp/queries/preview", responses={200: PreviewOut})
@requires("dpquery.run")
def preview_dp_query(body: DPQueryPreviewBody) -> Response:
    """What the query would charge, the budget left before and after, and its expected accuracy; free."""
    client = _dp_caller(current_principal())
    with transaction(get_session()) as session:
        preview = dpqueries.preview_dp_query(
            session, client=client, query=_dp_request(body), assumed_rows=body.assumed_rows
        )
    return _json(preview.as_dict())


@bp.post("/dp/queries", responses={201: DPQueryOut})
@requires("dpquery.run")
def run_dp_query(body: DPQueryBody) -> Response:
    client = _dp_caller(current_principal())
    query = _dp_request(body)
    get_session().commit()  # end the request's own transaction: the query runs in short sessions of its own
    record = dpqueries.run_dp_query(get_db().session, client=client, query=query)
    out = {
        "query_id": str(record.id),
        "purpose": record.purpose,
        "statistic": record.statistic,
        "result": record.result,
        "created_at": record.created_at.isoformat(),
    }
    return _json(out, 201)


@bp.get("/budgets/<purpose>", responses={200: BudgetOut})
@requires("budget.read", resource=_budget_resource)
def get_budget(path: BudgetPath) -> Response:
    principal = current_principal()
    with transaction(get_session()) as session:
        purpose_view = service.budget_status(session, path.purpose)
        body: dict[str, Any] = {"purpose": purpose_view.as_dict(), "client": None}
        if principal.kind == "client":
            client_view = service.budget_status(session, path.purpose, principal.id)
            if client_view.client_id is not None:
                body["client"] = client_view.as_dict()
    return _json(body)
