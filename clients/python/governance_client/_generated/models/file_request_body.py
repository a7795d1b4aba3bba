from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.file_request_body_fields_type_0 import FileRequestBodyFieldsType0


T = TypeVar("T", bound="FileRequestBody")


@_attrs_define
class FileRequestBody:
    """
    Attributes:
        kind (str): access, portability, erasure, rectification or objection
        external_ref (None | str | Unset): Or the product's own user id
        fields (FileRequestBodyFieldsType0 | None | Unset): Rectification: field -> corrected value
        purposes (list[str] | None | Unset): Objection: purposes to stop
        subject_id (None | Unset | UUID): Staff and clients: whom the request is for
        verification_method (None | str | Unset): How identity was verified (required from clients)
    """

    kind: str
    external_ref: None | str | Unset = UNSET
    fields: FileRequestBodyFieldsType0 | None | Unset = UNSET
    purposes: list[str] | None | Unset = UNSET
    subject_id: None | Unset | UUID = UNSET
    verification_method: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.file_request_body_fields_type_0 import FileRequestBodyFieldsType0  # noqa: PLC0415

        kind = self.kind

        external_ref: None | str | Unset
        if isinstance(self.external_ref, Unset):
            external_ref = UNSET
        else:
            external_ref = self.external_ref

        fields: dict[str, Any] | None | Unset
        if isinstance(self.fields, Unset):
            fields = UNSET
        elif isinstance(self.fields, FileRequestBodyFieldsType0):
            fields = self.fields.to_dict()
        else:
            fields = self.fields

        purposes: list[str] | None | Unset
        if isinstance(self.purposes, Unset):
            purposes = UNSET
        elif isinstance(self.purposes, list):
            purposes = self.purposes

        else:
            purposes = self.purposes

        subject_id: None | str | Unset
        if isinstance(self.subject_id, Unset):
            subject_id = UNSET
        elif isinstance(self.subject_id, UUID):
            subject_id = str(self.subject_id)
        else:
            subject_id = self.subject_id

        verification_method: None | str | Unset
        if isinstance(self.verification_method, Unset):
            verification_method = UNSET
        else:
            verification_method = self.verification_method

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "kind": kind,
            }
        )
        if external_ref is not UNSET:
            field_dict["external_ref"] = external_ref
        if fields is not UNSET:
            field_dict["fields"] = fields
        if purposes is not UNSET:
            field_dict["purposes"] = purposes
        if subject_id is not UNSET:
            field_dict["subject_id"] = subject_id
        if verification_method is not UNSET:
            field_dict["verification_method"] = verification_method

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.file_request_body_fields_type_0 import FileRequestBodyFieldsType0  # noqa: PLC0415

        d = dict(src_dict)
        kind = d.pop("kind")

        def _parse_external_ref(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        external_ref = _parse_external_ref(d.pop("external_ref", UNSET))

        def _parse_fields(data: object) -> FileRequestBodyFieldsType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                fields_type_0 = FileRequestBodyFieldsType0.from_dict(data)

                return fields_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(FileRequestBodyFieldsType0 | None | Unset, data)

        fields = _parse_fields(d.pop("fields", UNSET))

        def _parse_purposes(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                purposes_type_0 = cast(list[str], data)

                return purposes_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        purposes = _parse_purposes(d.pop("purposes", UNSET))

        def _parse_subject_id(data: object) -> None | Unset | UUID:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                subject_id_type_0 = UUID(data)

                return subject_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | Unset | UUID, data)

        subject_id = _parse_subject_id(d.pop("subject_id", UNSET))

        def _parse_verification_method(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        verification_method = _parse_verification_method(d.pop("verification_method", UNSET))

        file_request_body = cls(
            kind=kind,
            external_ref=external_ref,
            fields=fields,
            purposes=purposes,
            subject_id=subject_id,
            verification_method=verification_method,
        )

        return file_request_body
