from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.import_out_report_type_0 import ImportOutReportType0


T = TypeVar("T", bound="ImportOut")


@_attrs_define
class ImportOut:
    """
    Attributes:
        content_sha256 (None | str):
        created_at (datetime.datetime):
        finished_at (datetime.datetime | None):
        format_ (str):
        import_id (UUID):
        imported_rows (int | None):
        job_id (None | UUID):
        rejected_rows (int | None):
        report (ImportOutReportType0 | None):
        source (str):
        status (str):
        total_rows (int | None):
    """

    content_sha256: None | str
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    format_: str
    import_id: UUID
    imported_rows: int | None
    job_id: None | UUID
    rejected_rows: int | None
    report: ImportOutReportType0 | None
    source: str
    status: str
    total_rows: int | None
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.import_out_report_type_0 import ImportOutReportType0  # noqa: PLC0415

        content_sha256: None | str
        content_sha256 = self.content_sha256

        created_at = self.created_at.isoformat()

        finished_at: None | str
        if isinstance(self.finished_at, datetime.datetime):
            finished_at = self.finished_at.isoformat()
        else:
            finished_at = self.finished_at

        format_ = self.format_

        import_id = str(self.import_id)

        imported_rows: int | None
        imported_rows = self.imported_rows

        job_id: None | str
        if isinstance(self.job_id, UUID):
            job_id = str(self.job_id)
        else:
            job_id = self.job_id

        rejected_rows: int | None
        rejected_rows = self.rejected_rows

        report: dict[str, Any] | None
        if isinstance(self.report, ImportOutReportType0):
            report = self.report.to_dict()
        else:
            report = self.report

        source = self.source

        status = self.status

        total_rows: int | None
        total_rows = self.total_rows

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "content_sha256": content_sha256,
                "created_at": created_at,
                "finished_at": finished_at,
                "format": format_,
                "import_id": import_id,
                "imported_rows": imported_rows,
                "job_id": job_id,
                "rejected_rows": rejected_rows,
                "report": report,
                "source": source,
                "status": status,
                "total_rows": total_rows,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.import_out_report_type_0 import ImportOutReportType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_content_sha256(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        content_sha256 = _parse_content_sha256(d.pop("content_sha256"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

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

        format_ = d.pop("format")

        import_id = UUID(d.pop("import_id"))

        def _parse_imported_rows(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        imported_rows = _parse_imported_rows(d.pop("imported_rows"))

        def _parse_job_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                job_id_type_0 = UUID(data)

                return job_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        job_id = _parse_job_id(d.pop("job_id"))

        def _parse_rejected_rows(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        rejected_rows = _parse_rejected_rows(d.pop("rejected_rows"))

        def _parse_report(data: object) -> ImportOutReportType0 | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                report_type_0 = ImportOutReportType0.from_dict(data)

                return report_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ImportOutReportType0 | None, data)

        report = _parse_report(d.pop("report"))

        source = d.pop("source")

        status = d.pop("status")

        def _parse_total_rows(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        total_rows = _parse_total_rows(d.pop("total_rows"))

        import_out = cls(
            content_sha256=content_sha256,
            created_at=created_at,
            finished_at=finished_at,
            format_=format_,
            import_id=import_id,
            imported_rows=imported_rows,
            job_id=job_id,
            rejected_rows=rejected_rows,
            report=report,
            source=source,
            status=status,
            total_rows=total_rows,
        )

        import_out.additional_properties = d
        return import_out

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
