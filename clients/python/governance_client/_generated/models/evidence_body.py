from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="EvidenceBody")


@_attrs_define
class EvidenceBody:
    """Evidence of how the decision was collected; never personal data (hash the user agent, do not send it).

    Attributes:
        banner_id (None | str | Unset):
        ip_network_sha256 (None | str | Unset):
        page (None | str | Unset):
        ui_element (None | str | Unset):
        user_agent_sha256 (None | str | Unset):
    """

    banner_id: None | str | Unset = UNSET
    ip_network_sha256: None | str | Unset = UNSET
    page: None | str | Unset = UNSET
    ui_element: None | str | Unset = UNSET
    user_agent_sha256: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        banner_id: None | str | Unset
        if isinstance(self.banner_id, Unset):
            banner_id = UNSET
        else:
            banner_id = self.banner_id

        ip_network_sha256: None | str | Unset
        if isinstance(self.ip_network_sha256, Unset):
            ip_network_sha256 = UNSET
        else:
            ip_network_sha256 = self.ip_network_sha256

        page: None | str | Unset
        if isinstance(self.page, Unset):
            page = UNSET
        else:
            page = self.page

        ui_element: None | str | Unset
        if isinstance(self.ui_element, Unset):
            ui_element = UNSET
        else:
            ui_element = self.ui_element

        user_agent_sha256: None | str | Unset
        if isinstance(self.user_agent_sha256, Unset):
            user_agent_sha256 = UNSET
        else:
            user_agent_sha256 = self.user_agent_sha256

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if banner_id is not UNSET:
            field_dict["banner_id"] = banner_id
        if ip_network_sha256 is not UNSET:
            field_dict["ip_network_sha256"] = ip_network_sha256
        if page is not UNSET:
            field_dict["page"] = page
        if ui_element is not UNSET:
            field_dict["ui_element"] = ui_element
        if user_agent_sha256 is not UNSET:
            field_dict["user_agent_sha256"] = user_agent_sha256

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)

        def _parse_banner_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        banner_id = _parse_banner_id(d.pop("banner_id", UNSET))

        def _parse_ip_network_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ip_network_sha256 = _parse_ip_network_sha256(d.pop("ip_network_sha256", UNSET))

        def _parse_page(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        page = _parse_page(d.pop("page", UNSET))

        def _parse_ui_element(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ui_element = _parse_ui_element(d.pop("ui_element", UNSET))

        def _parse_user_agent_sha256(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        user_agent_sha256 = _parse_user_agent_sha256(d.pop("user_agent_sha256", UNSET))

        evidence_body = cls(
            banner_id=banner_id,
            ip_network_sha256=ip_network_sha256,
            page=page,
            ui_element=ui_element,
            user_agent_sha256=user_agent_sha256,
        )

        return evidence_body
