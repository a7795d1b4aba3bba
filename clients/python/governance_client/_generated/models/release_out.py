from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.release_out_manifest_type_0 import ReleaseOutManifestType0
    from ..models.release_out_progress_type_0 import ReleaseOutProgressType0


T = TypeVar("T", bound="ReleaseOut")


@_attrs_define
class ReleaseOut:
    """
    Attributes:
        created_at (datetime.datetime):
        data_classification (str):
        format_ (str):
        job_id (None | UUID):
        k_required (int):
        mode (str):
        pseudonyms (str):
        purpose (str):
        release_id (UUID):
        status (str):
        checksum_sha256 (None | str | Unset):
        completed_at (datetime.datetime | None | Unset):
        error_code (None | str | Unset):
        k_achieved (int | None | Unset):
        manifest (None | ReleaseOutManifestType0 | Unset):
        progress (None | ReleaseOutProgressType0 | Unset):
        rows (int | None | Unset):
    """

    created_at: datetime.datetime
    data_classification: str
    format_: str
    job_id: None | UUID
    k_required: int
    mode: str
    pseudonyms: str
    purpose: str
    release_id: UUID
    status: str
    checksum_sha256: None | str | Unset = UNSET
    completed_at: datetime.datetime | None | Unset = UNSET
    error_code: None | str | Unset = UNSET
    k_achieved: int | None | Unset = UNSET
    manifest: None | ReleaseOutManifestType0 | Unset = UNSET
    progress: None | ReleaseOutProgressType0 | Unset = UNSET
    rows: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.release_out_manifest_type_0 import ReleaseOutManifestType0  # noqa: PLC0415
        from ..models.release_out_progress_type_0 import ReleaseOutProgressType0  # noqa: PLC0415

        created_at = self.created_at.isoformat()

        data_classification = self.data_classification

        format_ = self.format_

        job_id: None | str
        if isinstance(self.job_id, UUID):
            job_id = str(self.job_id)
        else:
            job_id = self.job_id

        k_required = self.k_required

        mode = self.mode

        pseudonyms = self.pseudonyms

        purpose = self.purpose

        release_id = str(self.release_id)

        status = self.status

        checksum_sha256: None | str | Unset
        if isinstance(self.checksum_sha256, Unset):
            checksum_sha256 = UNSET
        else:
            checksum_sha256 = self.checksum_sha256

        completed_at: None | str | Unset
        if isinstance(self.completed_at, Unset):
            completed_at = UNSET
        elif isinstance(self.completed_at, datetime.datetime):
            completed_at = self.completed_at.isoformat()
        else:
            completed_at = self.completed_at

        error_code: None | str | Unset
        if isinstance(self.error_code, Unset):
            error_code = UNSET
        else:
            error_code = self.error_code

        k_achieved: int | None | Unset
        if isinstance(self.k_achieved, Unset):
            k_achieved = UNSET
        else:
            k_achieved = self.k_achieved

        manifest: dict[str, Any] | None | Unset
        if isinstance(self.manifest, Unset):
            manifest = UNSET
        elif isinstance(self.manifest, ReleaseOutManifestType0):
            manifest = self.manifest.to_dict()
        else:
            manifest = self.manifest

        progress: dict[str, Any] | None | Unset
        if isinstance(self.progress, Unset):
            progress = UNSET
        elif isinstance(self.progress, ReleaseOutProgressType0):
            progress = self.progress.to_dict()
        else:
            progress = self.progress

        rows: int | None | Unset
        if isinstance(self.rows, Unset):
            rows = UNSET
        else:
            rows = self.rows

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "data_classification": data_classification,
                "format": format_,
                "job_id": job_id,
                "k_required": k_required,
                "mode": mode,
                "pseudonyms": pseudonyms,
                "purpose": purpose,
                "release_id": release_id,
                "status": status,
            }
        )
        if checksum_sha256 is not UNSET:
            field_dict["checksum_sha256"] = checksum_sha256
        if completed_at is not UNSET:
            field_dict["completed_at"] = completed_at
        if error_code is not UNSET:
            field_dict["error_code"] = error_code
        if k_achieved is not UNSET:
            field_dict["k_achieved"] = k_achieved
        if manifest is not UNSET:
            field_dict["manifest"] = manifest
        if progress is not UNSET:
            field_dict["progress"] = progress
        if rows is not UNSET:
            field_dict["rows"] = rows

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.release_out_manifest_type_0 import ReleaseOutManifestType0  # noqa: PLC0415
        from ..models.release_out_progress_type_0 import ReleaseOutProgressType0  # noqa: PLC0415

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        data_classification = d.pop("data_classification")

        format_ = d.pop("format")

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

        k_required = d.pop("k_required")

        mode = d.pop("mode")

        pseudonyms = d.pop("pseudonyms")

        purpose = d.pop("purpose")

        release_id = UUID(d.pop("release_id"))

        status = d.pop("status")

        def _parse_checksum_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        checksum_sha256 = _parse_checksum_sha256(d.pop("checksum_sha256", UNSET))

        def _parse_completed_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                completed_at_type_0 = datetime.datetime.fromisoformat(data)

                return completed_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        completed_at = _parse_completed_at(d.pop("completed_at", UNSET))

        def _parse_error_code(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        error_code = _parse_error_code(d.pop("error_code", UNSET))

        def _parse_k_achieved(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        k_achieved = _parse_k_achieved(d.pop("k_achieved", UNSET))

        def _parse_manifest(data: object) -> None | ReleaseOutManifestType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                manifest_type_0 = ReleaseOutManifestType0.from_dict(data)

                return manifest_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReleaseOutManifestType0 | Unset, data)

        manifest = _parse_manifest(d.pop("manifest", UNSET))

        def _parse_progress(data: object) -> None | ReleaseOutProgressType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                progress_type_0 = ReleaseOutProgressType0.from_dict(data)

                return progress_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | ReleaseOutProgressType0 | Unset, data)

        progress = _parse_progress(d.pop("progress", UNSET))

        def _parse_rows(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        rows = _parse_rows(d.pop("rows", UNSET))

        release_out = cls(
            created_at=created_at,
            data_classification=data_classification,
            format_=format_,
            job_id=job_id,
            k_required=k_required,
            mode=mode,
            pseudonyms=pseudonyms,
            purpose=purpose,
            release_id=release_id,
            status=status,
            checksum_sha256=checksum_sha256,
            completed_at=completed_at,
            error_code=error_code,
            k_achieved=k_achieved,
            manifest=manifest,
            progress=progress,
            rows=rows,
        )

        release_out.additional_properties = d
        return release_out

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
