"""The domain helpers of `GovernanceClient`: consents, events, subjects, data subject requests, jobs, datasets.

Each method is a thin layer over one generated operation: it takes plain Python values, builds the generated
body model, and returns the generated response model (attrs classes with typed attributes) or a small
dataclass where the answer is a single fact (`Permission`, `IntakeReport`).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from governance_client._generated.api.consent import (
    consent_api_check_bulk_consents_check_post as _check_bulk,
)
from governance_client._generated.api.consent import (
    consent_api_check_consents_check_get as _check,
)
from governance_client._generated.api.consent import (
    consent_api_get_state_subjects_subject_id_consents_get as _state,
)
from governance_client._generated.api.consent import (
    consent_api_record_decisions_subjects_subject_id_consents_post as _record,
)
from governance_client._generated.api.gateway import (
    gateway_api_create_link_datasets_release_id_links_post as _release_link,
)
from governance_client._generated.api.gateway import (
    gateway_api_get_dataset_datasets_release_id_get as _release_get,
)
from governance_client._generated.api.gateway import (
    gateway_api_request_dataset_datasets_post as _release_request,
)
from governance_client._generated.api.jobs import jobs_api_get_job_jobs_job_id_get as _job_get
from governance_client._generated.api.requests import (
    requests_api_erasure_certificate_requests_request_id_certificate_get as _certificate,
)
from governance_client._generated.api.requests import (
    requests_api_file_request_requests_post as _file_request,
)
from governance_client._generated.api.requests import (
    requests_api_get_request_requests_request_id_get as _request_get,
)
from governance_client._generated.api.requests import (
    requests_api_list_requests_requests_get as _request_list,
)
from governance_client._generated.api.vault import (
    vault_api_create_subject_subjects_post as _subject_create,
)
from governance_client._generated.api.vault import (
    vault_api_ingest_events_subjects_subject_id_events_post as _events_one,
)
from governance_client._generated.api.vault import (
    vault_api_ingest_mixed_events_events_post as _events_mixed,
)
from governance_client._generated.models import (
    BulkCheckBody,
    CreateSubjectBody,
    DatasetSpecBody,
    EventBatchBody,
    FileRequestBody,
    JobOut,
    LinkOut,
    MixedEventBatchBody,
    RecordDecisionsBody,
    RecordedOut,
    ReleaseOut,
    RequestOut,
    StateOut,
    SubjectOut,
)
from governance_client.errors import JobFailedError, WaitTimeoutError
from governance_client.pagination import Page, iter_items, iter_pages

if TYPE_CHECKING:
    from governance_client.client import GovernanceClient

MAX_IDS_PER_CHECK = 10_000  # POST /consents/check
MAX_EVENTS_PER_BATCH = 10_000  # POST /events and /subjects/{id}/events
CLOSED_REQUEST = frozenset({"completed", "partially_completed", "rejected"})
FINISHED_JOB = frozenset({"succeeded", "failed", "cancelled"})


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _wait(
    what: str,
    fetch: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    timeout: float,
    poll: float,
    on_change: Callable[[Any], None] | None = None,
) -> Any:
    """Poll `fetch` until `done`, up to `timeout` seconds; polls back off from `poll` to at most 5 s."""
    deadline = time.monotonic() + timeout
    interval, last_status = poll, None
    while True:
        current = fetch()
        status = getattr(current, "status", None)
        if status != last_status and on_change is not None:
            on_change(current)
        last_status = status
        if done(current):
            return current
        if time.monotonic() + interval > deadline:
            raise WaitTimeoutError(what, timeout, last_status)
        time.sleep(interval)
        interval = min(5.0, interval * 1.5)


class _Resource:
    def __init__(self, client: GovernanceClient) -> None:
        self._client = client


# --- consents ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Permission:
    """May this person's data be used for this purpose? `reason` is the service's rule outcome (`granted`,
    `no_consent`, `withdrawn`, `expired`, `needs_renewal`, `objected`, `basis_not_consent`, ...)."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


class Consents(_Resource):
    def check(self, subject_id: uuid.UUID | str, purpose: str) -> Permission:
        """`GET /consents/check` (scope consents:read). An unknown subject raises `SubjectNotFoundError`."""
        out = self._client.call(_check, subject=_uuid(subject_id), purpose=purpose)
        return Permission(out.allowed, out.reason)

    def allowed(self, subject_id: uuid.UUID | str, purpose: str) -> bool:
        return self.check(subject_id, purpose).allowed

    def check_many(self, purpose: str, subject_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, Permission]:
        """`POST /consents/check` in chunks of 10,000 ids; one answer per distinct id (unknown ids answer
        `allowed=False`)."""
        ids = list(dict.fromkeys(_uuid(s) for s in subject_ids))
        results: dict[uuid.UUID, Permission] = {}
        for start in range(0, len(ids), MAX_IDS_PER_CHECK):
            chunk = ids[start : start + MAX_IDS_PER_CHECK]
            body = BulkCheckBody(purpose=purpose, subject_ids=chunk)
            out = self._client.call(_check_bulk, body=body)
            for key, value in out.results.additional_properties.items():
                results[uuid.UUID(key)] = Permission(value.allowed, value.reason)
        return results

    def permitted(self, purpose: str, subject_ids: Iterable[uuid.UUID | str]) -> list[uuid.UUID]:
        """The ids among `subject_ids` whose data may be used for `purpose`, in the order given."""
        answers = self.check_many(purpose, subject_ids)
        return [sid for sid, permission in answers.items() if permission.allowed]

    def state(self, subject_id: uuid.UUID | str) -> StateOut:
        return self._client.call(_state, _uuid(subject_id))

    def record(
        self,
        subject_id: uuid.UUID | str,
        decisions: Sequence[Mapping[str, Any]],
        *,
        jurisdiction: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        gpc: bool = False,
        idempotency_key: str | None = None,
    ) -> RecordedOut:
        """Record decisions (`{"purpose", "decision", "collected_at"?, "notice_version"?}`) with one signed
        receipt each (scope consents:write). The `Idempotency-Key` (a new random one unless given) stays the same
        across the client's retries, so a retried write is recorded once."""
        body: dict[str, Any] = {"decisions": [_decision(d) for d in decisions], "gpc": gpc}
        if jurisdiction is not None:
            body["jurisdiction"] = jurisdiction
        if evidence is not None:
            body["evidence"] = dict(evidence)
        key = idempotency_key or f"gc-{uuid.uuid4()}"
        return self._client.call(
            _record, _uuid(subject_id), body=RecordDecisionsBody.from_dict(body), idempotency_key=key
        )

    def grant(self, subject_id: uuid.UUID | str, *purposes: str, **options: Any) -> RecordedOut:
        return self.record(subject_id, [{"purpose": p, "decision": "granted"} for p in purposes], **options)

    def withdraw(self, subject_id: uuid.UUID | str, *purposes: str, **options: Any) -> RecordedOut:
        return self.record(subject_id, [{"purpose": p, "decision": "withdrawn"} for p in purposes], **options)


def _decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(decision)
    if isinstance(out.get("collected_at"), dt.datetime):
        out["collected_at"] = out["collected_at"].isoformat()
    return out


# --- events ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRejection:
    index: int  # position in the list the caller passed (across chunks)
    event_id: str | None
    error: str  # e.g. no_lawful_basis, invalid_event, unknown_category


@dataclass
class IntakeReport:
    """The merged answer of every chunk of one `send`: the service judges each event alone."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[EventRejection] = field(default_factory=list)
    by_category: dict[str, int] = field(default_factory=dict)

    def add(self, out: Any, offset: int) -> None:
        self.accepted += out.accepted
        self.duplicates += out.duplicates
        self.rejected += [EventRejection(r.index + offset, r.event_id, r.error) for r in out.rejected]
        for category, count in out.by_category.additional_properties.items():
            self.by_category[category] = self.by_category.get(category, 0) + count


def _event(event: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(event)
    for key in ("occurred_at",):
        if isinstance(out.get(key), dt.datetime):
            out[key] = out[key].isoformat()
    if isinstance(out.get("subject_id"), uuid.UUID):
        out["subject_id"] = str(out["subject_id"])
    return out


class Events(_Resource):
    def send(self, subject_id: uuid.UUID | str, events: Sequence[Mapping[str, Any]]) -> IntakeReport:
        """One person's behaviour events (scope events:write), in batches of 10,000; consent-gated per event
        category by the service. Each event needs an `event_id`: resending is idempotent (`duplicates`)."""
        report, sid = IntakeReport(), _uuid(subject_id)
        for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
            chunk = [_event(e) for e in events[start : start + MAX_EVENTS_PER_BATCH]]
            out = self._client.call(_events_one, sid, body=EventBatchBody.from_dict({"events": chunk}))
            report.add(out, start)
        return report

    def send_mixed(self, events: Sequence[Mapping[str, Any]]) -> IntakeReport:
        """Events of many people, each with its `subject_id` (`POST /events`), in batches of 10,000."""
        report = IntakeReport()
        for start in range(0, len(events), MAX_EVENTS_PER_BATCH):
            chunk = [_event(e) for e in events[start : start + MAX_EVENTS_PER_BATCH]]
            out = self._client.call(_events_mixed, body=MixedEventBatchBody.from_dict({"events": chunk}))
            report.add(out, start)
        return report


# --- subjects ----------------------------------------------------------------------------------------------------


class Subjects(_Resource):
    def create(
        self, external_ref: str, *, jurisdiction: str = "EU", profile: Mapping[str, Any] | None = None
    ) -> SubjectOut:
        """A data subject for one of the product's users (scope subjects:write); the profile is encrypted."""
        body: dict[str, Any] = {"external_ref": external_ref, "jurisdiction": jurisdiction}
        if profile is not None:
            body["profile"] = dict(profile)
        return self._client.call(_subject_create, body=CreateSubjectBody.from_dict(body))


# --- data subject requests ---------------------------------------------------------------------------------------


class Requests(_Resource):
    def file(
        self,
        kind: str,
        *,
        verification_method: str,
        subject_id: uuid.UUID | str | None = None,
        external_ref: str | None = None,
        purposes: Sequence[str] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> RequestOut:
        """File a request (scope requests:write): `access`, `portability`, `erasure`, `rectification` (with
        `fields`) or `objection` (with `purposes`), for `subject_id` or the product's own `external_ref`, saying
        how the person's identity was verified. A request of the same kind already open is merged into it (the
        answer is that request, `merged_count` grown)."""
        body: dict[str, Any] = {"kind": kind, "verification_method": verification_method}
        if subject_id is not None:
            body["subject_id"] = str(_uuid(subject_id))
        if external_ref is not None:
            body["external_ref"] = external_ref
        if purposes is not None:
            body["purposes"] = list(purposes)
        if fields is not None:
            body["fields"] = dict(fields)
        return self._client.call(_file_request, body=FileRequestBody.from_dict(body))

    def export(self, subject_id: uuid.UUID | str, *, verification_method: str) -> RequestOut:
        return self.file("access", subject_id=subject_id, verification_method=verification_method)

    def erase(self, subject_id: uuid.UUID | str, *, verification_method: str) -> RequestOut:
        return self.file("erasure", subject_id=subject_id, verification_method=verification_method)

    def get(self, request_id: uuid.UUID | str) -> RequestOut:
        return self._client.call(_request_get, _uuid(request_id))

    def page(
        self,
        cursor: str | None = None,
        *,
        status: str | None = None,
        kind: str | None = None,
        subject_id: uuid.UUID | str | None = None,
        page_size: int = 100,
    ) -> Page[RequestOut]:
        """One page of the requests this client filed, newest first."""
        arguments: dict[str, Any] = {"limit": page_size}
        if cursor is not None:
            arguments["cursor"] = cursor
        if status is not None:
            arguments["status"] = status
        if kind is not None:
            arguments["kind"] = kind
        if subject_id is not None:
            arguments["subject_id"] = _uuid(subject_id)
        out = self._client.call(_request_list, **arguments)
        next_cursor = out.next_cursor if isinstance(out.next_cursor, str) else None
        return Page(list(out.requests), next_cursor)

    def pages(self, **filters: Any) -> Iterator[Page[RequestOut]]:
        return iter_pages(lambda cursor: self.page(cursor, **filters))

    def iterate(self, **filters: Any) -> Iterator[RequestOut]:
        """Every request this client filed (filters as `page`), following the cursors page by page."""
        return iter_items(lambda cursor: self.page(cursor, **filters))

    def wait(
        self,
        request_id: uuid.UUID | str,
        *,
        until: Iterable[str] = CLOSED_REQUEST,
        timeout: float = 600.0,
        poll: float = 0.5,
        on_change: Callable[[RequestOut], None] | None = None,
    ) -> RequestOut:
        """Follow a request until its status is in `until` (by default closed: completed, partially_completed,
        rejected); `on_change` sees every new status. Raises `WaitTimeoutError` after `timeout` seconds."""
        wanted = frozenset(until)
        return _wait(
            "the request",
            lambda: self.get(request_id),
            lambda r: r.status in wanted,
            timeout=timeout,
            poll=poll,
            on_change=on_change,
        )

    def certificate(self, request_id: uuid.UUID | str) -> Any:
        """The signed erasure certificate of a completed erasure."""
        return self._client.call(_certificate, _uuid(request_id))


# --- jobs --------------------------------------------------------------------------------------------------------


class Jobs(_Resource):
    def get(self, job_id: uuid.UUID | str) -> JobOut:
        return self._client.call(_job_get, _uuid(job_id))

    def wait(self, job_id: uuid.UUID | str, *, timeout: float = 600.0, poll: float = 0.5) -> JobOut:
        """Until the job succeeded; a failed or cancelled job raises `JobFailedError` with its error code."""
        job = _wait("the job", lambda: self.get(job_id), lambda j: j.status in FINISHED_JOB, timeout=timeout, poll=poll)
        if job.status != "succeeded":
            raise JobFailedError("the job", job.status, job.error_code)
        return job


# --- datasets ----------------------------------------------------------------------------------------------------


class Datasets(_Resource):
    def request(self, spec: Mapping[str, Any]) -> ReleaseOut:
        """Ask for a release (scope datasets:request; spec as in docs/gateway.md). A refused spec raises
        `NotAllowedError` listing every refused item."""
        return self._client.call(_release_request, body=DatasetSpecBody.from_dict(dict(spec)))

    def get(self, release_id: uuid.UUID | str) -> ReleaseOut:
        return self._client.call(_release_get, _uuid(release_id))

    def wait(self, release_id: uuid.UUID | str, *, timeout: float = 600.0, poll: float = 0.5) -> ReleaseOut:
        """Until the release is ready; a failed one raises `JobFailedError` (e.g. `identifying_fields`)."""
        release = _wait(
            "the release",
            lambda: self.get(release_id),
            lambda r: r.status in {"ready", "failed", "expired"},
            timeout=timeout,
            poll=poll,
        )
        if release.status != "ready":
            error_code = release.error_code if isinstance(release.error_code, str) else None
            raise JobFailedError("the release", release.status, error_code)
        return release

    def link(self, release_id: uuid.UUID | str) -> LinkOut:
        return self._client.call(_release_link, _uuid(release_id))

    # streaming into files, pyarrow, pandas and torch: governance_client.releases (optional extras)

    def download(self, release_id: uuid.UUID | str, destination: Any) -> ReleaseOut:
        """Stream a ready release into `destination` (a path or a binary file), checking its SHA-256."""
        from governance_client import releases

        return releases.download(self._client, _uuid(release_id), destination)

    def to_arrow(self, release_id: uuid.UUID | str) -> Any:
        """The release as a `pyarrow.Table` (extra `arrow`)."""
        from governance_client import releases

        return releases.to_arrow(self._client, _uuid(release_id))

    def iter_batches(self, release_id: uuid.UUID | str, *, batch_size: int = 65_536) -> Iterator[Any]:
        """The release as `pyarrow.RecordBatch`es of at most `batch_size` rows (extra `arrow`)."""
        from governance_client import releases

        return releases.iter_batches(self._client, _uuid(release_id), batch_size=batch_size)

    def to_pandas(self, release_id: uuid.UUID | str) -> Any:
        """The release as a `pandas.DataFrame` (extra `pandas`)."""
        from governance_client import releases

        return releases.to_arrow(self._client, _uuid(release_id)).to_pandas()

    def torch_dataset(
        self,
        release_id: uuid.UUID | str,
        *,
        columns: Sequence[str] | None = None,
        transform: Callable[[dict[str, Any]], Any] | None = None,
        batch_size: int = 4096,
    ) -> Any:
        """The release as a `torch.utils.data.IterableDataset` of rows (extra `torch`); see releases.py."""
        from governance_client import releases

        return releases.torch_dataset(
            self._client, _uuid(release_id), columns=columns, transform=transform, batch_size=batch_size
        )
