from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.job_out_result_type_0 import JobOutResultType0


T = TypeVar("T", bound="JobOut")


@_attrs_define
class JobOut:
    """
    Attributes:
        attempts (int):
        created_at (datetime.datetime):
        error_code (None | str):
        finished_at (datetime.datetime | None):
        id (UUID):
        kind (str):
        progress_done (int | None):
        progress_message (None | str):
        progress_total (int | None):
        result (JobOutResultType0 | None):
        status (str):
    """

    attempts: int
    created_at: datetime.datetime
    error_code: None | str
    finished_at: datetime.datetime | None
    id: UUID
    kind: str
    progress_done: int | None
    progress_message: None | str
    progress_total: int | None
    result: JobOutResultType0 | None
    status: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.job_out_result_type_0 import JobOutResultType0  # noqa: PLC0415

        attempts = self.attempts

        created_at = self.created_at.isoformat()

        error_code: None | str
        error_code = self.error_code

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        id = str(self.id)

        kind = self.kind

        progress_done: int | None
        progress_done = self.progress_done

        progress_message: None | str
        progress_message = self.progress_message

        progress_total: int | None
        progress_total = self.progress_total

        result: dict[str, Any] | None
        if isinstance(self.result, JobOutResultType0):
            result = self.result.to_dict()
        else:
            result = self.result

        status = self.status

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "attempts": attempts,
                "created_at": created_at,
                "error_code": error_code,
                "finished_at": finished_at,
                "id": id,
                "kind": kind,
                "progress_done": progress_done,
                "progress_message": progress_message,
                "progress_total": progress_total,
                "result": result,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.job_out_result_type_0 import JobOutResultType0  # noqa: PLC0415

        d = dict(src_dict)
        attempts = d.pop("attempts")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_error_code(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        error_code = _parse_error_code(d.pop("error_code"))

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

        id = UUID(d.pop("id"))

        kind = d.pop("kind")

        def _parse_progress_done(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        progress_done = _parse_progress_done(d.pop("progress_done"))

        def _parse_progress_message(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        progress_message = _parse_progress_message(d.pop("progress_message"))

        def _parse_progress_total(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        progress_total = _parse_progress_total(d.pop("progress_total"))

        def _parse_result(data: object) -> JobOutResultType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                result_type_0 = JobOutResultType0.from_dict(data)

                return result_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(JobOutResultType0 | None, data)

        result = _parse_result(d.pop("result"))

        status = d.pop("status")

        job_out = cls(
            attempts=attempts,
            created_at=created_at,
            error_code=error_code,
            finished_at=finished_at,
            id=id,
            kind=kind,
            progress_done=progress_done,
            progress_message=progress_message,
            progress_total=progress_total,
            result=result,
            status=status,
        )

        job_out.additional_properties = d
        return job_out

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
