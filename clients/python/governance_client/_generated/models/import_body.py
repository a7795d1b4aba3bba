from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

from ..models.import_body_format import ImportBodyFormat

T = TypeVar("T", bound="ImportBody")


@_attrs_define
class ImportBody:
    """
    Attributes:
        content (str): the file, as text (UTF-8)
        format_ (ImportBodyFormat):
        source (str): the platform the records come from
    """

    content: str
    format_: ImportBodyFormat
    source: str

    def to_dict(self) -> dict[str, Any]:
        content = self.content

        format_ = self.format_.value

        source = self.source

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "content": content,
                "format": format_,
                "source": source,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        content = d.pop("content")

        format_ = ImportBodyFormat(d.pop("format"))

        source = d.pop("source")

        import_body = cls(
            content=content,
            format_=format_,
            source=source,
        )

        return import_body
