from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.training_job_out_metrics_type_0 import TrainingJobOutMetricsType0
    from ..models.training_job_out_progress_type_0 import TrainingJobOutProgressType0
    from ..models.training_job_out_release_type_0 import TrainingJobOutReleaseType0


T = TypeVar("T", bound="TrainingJobOut")


@_attrs_define
class TrainingJobOut:
    """
    Attributes:
        cancel_requested (bool):
        client_id (str):
        consent_snapshot_at (datetime.datetime | None):
        created_at (datetime.datetime):
        delta_spent (None | str):
        epsilon_spent (None | str):
        error_code (None | str):
        error_message (None | str):
        finished_at (datetime.datetime | None):
        flag_note (None | str):
        flagged_people (int):
        id (UUID):
        kind (str):
        metrics (None | TrainingJobOutMetricsType0):
        n_subjects (int | None):
        progress (None | TrainingJobOutProgressType0):
        purpose (str):
        release (None | TrainingJobOutReleaseType0):
        retrain_of (None | UUID):
        started_at (datetime.datetime | None):
        status (str):
        target_delta (str):
        target_epsilon (str):
    """

    cancel_requested: bool
    client_id: str
    consent_snapshot_at: datetime.datetime | None
    created_at: datetime.datetime
    delta_spent: None | str
    epsilon_spent: None | str
    error_code: None | str
    error_message: None | str
    finished_at: datetime.datetime | None
    flag_note: None | str
    flagged_people: int
    id: UUID
    kind: str
    metrics: None | TrainingJobOutMetricsType0
    n_subjects: int | None
    progress: None | TrainingJobOutProgressType0
    purpose: str
    release: None | TrainingJobOutReleaseType0
    retrain_of: None | UUID
    started_at: datetime.datetime | None
    status: str
    target_delta: str
    target_epsilon: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.training_job_out_metrics_type_0 import TrainingJobOutMetricsType0  # noqa: PLC0415
        from ..models.training_job_out_progress_type_0 import TrainingJobOutProgressType0  # noqa: PLC0415
        from ..models.training_job_out_release_type_0 import TrainingJobOutReleaseType0  # noqa: PLC0415

        cancel_requested = self.cancel_requested

        client_id = self.client_id

        consent_snapshot_at: None | str
        if isinstance(self.consent_snapshot_at, datetime.datetime):
            consent_snapshot_at = self.consent_snapshot_at.isoformat()
        else:
            consent_snapshot_at = self.consent_snapshot_at

        created_at = self.created_at.isoformat()

        delta_spent: None | str
        delta_spent = self.delta_spent

        epsilon_spent: None | str
        epsilon_spent = self.epsilon_spent

        error_code: None | str
        error_code = self.error_code

        error_message: None | str
        error_message = self.error_message

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        flag_note: None | str
        flag_note = self.flag_note

        flagged_people = self.flagged_people

        id = str(self.id)

        kind = self.kind

        metrics: dict[str, Any] | None
        if isinstance(self.metrics, TrainingJobOutMetricsType0):
            metrics = self.metrics.to_dict()
        else:
            metrics = self.metrics

        n_subjects: int | None
        n_subjects = self.n_subjects

        progress: dict[str, Any] | None
        if isinstance(self.progress, TrainingJobOutProgressType0):
            progress = self.progress.to_dict()
        else:
            progress = self.progress

        purpose = self.purpose

        release: dict[str, Any] | None
        if isinstance(self.release, TrainingJobOutReleaseType0):
            release = self.release.to_dict()
        else:
            release = self.release

        retrain_of: None | str
        if isinstance(self.retrain_of, UUID):
            retrain_of = str(self.retrain_of)
        else:
            retrain_of = self.retrain_of

        started_at: None | str
        if isinstance(self.started_at, datetime.datetime):
            started_at = self.started_at.isoformat()
        else:
            started_at = self.started_at

        status = self.status

        target_delta = self.target_delta

        target_epsilon = self.target_epsilon

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cancel_requested": cancel_requested,
                "client_id": client_id,
                "consent_snapshot_at": consent_snapshot_at,
                "created_at": created_at,
                "delta_spent": delta_spent,
                "epsilon_spent": epsilon_spent,
                "error_code": error_code,
                "error_message": error_message,
                "finished_at": finished_at,
                "flag_note": flag_note,
                "flagged_people": flagged_people,
                "id": id,
                "kind": kind,
                "metrics": metrics,
                "n_subjects": n_subjects,
                "progress": progress,
                "purpose": purpose,
                "release": release,
                "retrain_of": retrain_of,
                "started_at": started_at,
                "status": status,
                "target_delta": target_delta,
                "target_epsilon": target_epsilon,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.training_job_out_metrics_type_0 import TrainingJobOutMetricsType0  # noqa: PLC0415
        from ..models.training_job_out_progress_type_0 import TrainingJobOutProgressType0  # noqa: PLC0415
        from ..models.training_job_out_release_type_0 import TrainingJobOutReleaseType0  # noqa: PLC0415

        d = dict(src_dict)
        cancel_requested = d.pop("cancel_requested")

        client_id = d.pop("client_id")

        def _parse_consent_snapshot_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                consent_snapshot_at_type_0 = datetime.datetime.fromisoformat(data)

                return consent_snapshot_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        consent_snapshot_at = _parse_consent_snapshot_at(d.pop("consent_snapshot_at"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_delta_spent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        delta_spent = _parse_delta_spent(d.pop("delta_spent"))

        def _parse_epsilon_spent(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        epsilon_spent = _parse_epsilon_spent(d.pop("epsilon_spent"))

        def _parse_error_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_code = _parse_error_code(d.pop("error_code"))

        def _parse_error_message(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_message = _parse_error_message(d.pop("error_message"))

        def _parse_finished_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                finished_at_type_0 = datetime.datetime.fromisoformat(data)

                return finished_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        finished_at = _parse_finished_at(d.pop("finished_at"))

        def _parse_flag_note(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        flag_note = _parse_flag_note(d.pop("flag_note"))

        flagged_people = d.pop("flagged_people")

        id = UUID(d.pop("id"))

        kind = d.pop("kind")

        def _parse_metrics(data: object) -> None | TrainingJobOutMetricsType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metrics_type_0 = TrainingJobOutMetricsType0.from_dict(data)

                return metrics_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TrainingJobOutMetricsType0, data)

        metrics = _parse_metrics(d.pop("metrics"))

        def _parse_n_subjects(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        n_subjects = _parse_n_subjects(d.pop("n_subjects"))

        def _parse_progress(data: object) -> None | TrainingJobOutProgressType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                progress_type_0 = TrainingJobOutProgressType0.from_dict(data)

                return progress_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TrainingJobOutProgressType0, data)

        progress = _parse_progress(d.pop("progress"))

        purpose = d.pop("purpose")

        def _parse_release(data: object) -> None | TrainingJobOutReleaseType0:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                release_type_0 = TrainingJobOutReleaseType0.from_dict(data)

                return release_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TrainingJobOutReleaseType0, data)

        release = _parse_release(d.pop("release"))

        def _parse_retrain_of(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                retrain_of_type_0 = UUID(data)

                return retrain_of_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        retrain_of = _parse_retrain_of(d.pop("retrain_of"))

        def _parse_started_at(data: object) -> datetime.datetime | None:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                started_at_type_0 = datetime.datetime.fromisoformat(data)

                return started_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None, data)

        started_at = _parse_started_at(d.pop("started_at"))

        status = d.pop("status")

        target_delta = d.pop("target_delta")

        target_epsilon = d.pop("target_epsilon")

        training_job_out = cls(
            cancel_requested=cancel_requested,
            client_id=client_id,
            consent_snapshot_at=consent_snapshot_at,
            created_at=created_at,
            delta_spent=delta_spent,
            epsilon_spent=epsilon_spent,
            error_code=error_code,
            error_message=error_message,
            finished_at=finished_at,
            flag_note=flag_note,
            flagged_people=flagged_people,
            id=id,
            kind=kind,
            metrics=metrics,
            n_subjects=n_subjects,
            progress=progress,
            purpose=purpose,
            release=release,
            retrain_of=retrain_of,
            started_at=started_at,
            status=status,
            target_delta=target_delta,
            target_epsilon=target_epsilon,
        )

        training_job_out.additional_properties = d
        return training_job_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
