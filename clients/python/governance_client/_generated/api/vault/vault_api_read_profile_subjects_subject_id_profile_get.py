from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.profile_out import ProfileOut
from ...models.vault_api_read_profile_subjects_subject_id_profile_get_view_type_0 import (
    VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0,
)
from ...types import UNSET, Response, Unset


def _get_kwargs(
    subject_id: UUID,
    *,
    view: None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0 = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_view: None | str | Unset
    if isinstance(view, Unset):
        json_view = UNSET
    elif isinstance(view, VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0):
        json_view = view.value
    else:
        json_view = view
    params["view"] = json_view

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/subjects/{subject_id}/profile".format(
            subject_id=quote(str(subject_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | ProfileOut | None:
    if response.status_code == 200:
        response_200 = ProfileOut.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 410:
        response_410 = ErrorBody.from_dict(response.json())

        return response_410

    if response.status_code == 422:
        response_422 = ErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[ErrorBody | ProfileOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    view: None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0 = UNSET,
) -> Response[ErrorBody | ProfileOut]:
    """The profile as the caller may see it: the subject (and the DPO) in clear, support masked, auditors a

     summary of fields and event counts. Asking for a fuller view than allowed is refused (403).

    Args:
        subject_id (UUID):
        view (None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0): default:
            the fullest view the caller may see

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ProfileOut]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
        view=view,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    view: None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0 = UNSET,
) -> ErrorBody | ProfileOut | None:
    """The profile as the caller may see it: the subject (and the DPO) in clear, support masked, auditors a

     summary of fields and event counts. Asking for a fuller view than allowed is refused (403).

    Args:
        subject_id (UUID):
        view (None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0): default:
            the fullest view the caller may see

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ProfileOut
    """

    return sync_detailed(
        subject_id=subject_id,
        client=client,
        view=view,
    ).parsed


async def asyncio_detailed(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    view: None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0 = UNSET,
) -> Response[ErrorBody | ProfileOut]:
    """The profile as the caller may see it: the subject (and the DPO) in clear, support masked, auditors a

     summary of fields and event counts. Asking for a fuller view than allowed is refused (403).

    Args:
        subject_id (UUID):
        view (None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0): default:
            the fullest view the caller may see

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | ProfileOut]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
        view=view,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    view: None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0 = UNSET,
) -> ErrorBody | ProfileOut | None:
    """The profile as the caller may see it: the subject (and the DPO) in clear, support masked, auditors a

     summary of fields and event counts. Asking for a fuller view than allowed is refused (403).

    Args:
        subject_id (UUID):
        view (None | Unset | VaultApiReadProfileSubjectsSubjectIdProfileGetViewType0): default:
            the fullest view the caller may see

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | ProfileOut
    """

    return (
        await asyncio_detailed(
            subject_id=subject_id,
            client=client,
            view=view,
        )
    ).parsed
