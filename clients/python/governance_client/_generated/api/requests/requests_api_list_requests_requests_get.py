from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.request_list import RequestList
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    status: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    subject_id: None | Unset | UUID = UNSET,
    overdue: bool | Unset = False,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    else:
        json_status = status
    params["status"] = json_status

    json_kind: None | str | Unset
    if isinstance(kind, Unset):
        json_kind = UNSET
    else:
        json_kind = kind
    params["kind"] = json_kind

    json_subject_id: None | str | Unset
    if isinstance(subject_id, Unset):
        json_subject_id = UNSET
    elif isinstance(subject_id, UUID):
        json_subject_id = str(subject_id)
    else:
        json_subject_id = subject_id
    params["subject_id"] = json_subject_id

    params["overdue"] = overdue

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/requests",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | RequestList | None:
    if response.status_code == 200:
        response_200 = RequestList.from_dict(response.json())

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
) -> Response[ErrorBody | RequestList]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    status: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    subject_id: None | Unset | UUID = UNSET,
    overdue: bool | Unset = False,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | RequestList]:
    """Requests visible to the caller, newest first (staff may filter; `overdue=true` lists late ones).

    Args:
        status (None | str | Unset):
        kind (None | str | Unset):
        subject_id (None | Unset | UUID):
        overdue (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page (not with `overdue=true`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RequestList]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        subject_id=subject_id,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    status: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    subject_id: None | Unset | UUID = UNSET,
    overdue: bool | Unset = False,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | RequestList | None:
    """Requests visible to the caller, newest first (staff may filter; `overdue=true` lists late ones).

    Args:
        status (None | str | Unset):
        kind (None | str | Unset):
        subject_id (None | Unset | UUID):
        overdue (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page (not with `overdue=true`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RequestList
    """

    return sync_detailed(
        client=client,
        status=status,
        kind=kind,
        subject_id=subject_id,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    status: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    subject_id: None | Unset | UUID = UNSET,
    overdue: bool | Unset = False,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[ErrorBody | RequestList]:
    """Requests visible to the caller, newest first (staff may filter; `overdue=true` lists late ones).

    Args:
        status (None | str | Unset):
        kind (None | str | Unset):
        subject_id (None | Unset | UUID):
        overdue (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page (not with `overdue=true`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RequestList]
    """

    kwargs = _get_kwargs(
        status=status,
        kind=kind,
        subject_id=subject_id,
        overdue=overdue,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    status: None | str | Unset = UNSET,
    kind: None | str | Unset = UNSET,
    subject_id: None | Unset | UUID = UNSET,
    overdue: bool | Unset = False,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> ErrorBody | RequestList | None:
    """Requests visible to the caller, newest first (staff may filter; `overdue=true` lists late ones).

    Args:
        status (None | str | Unset):
        kind (None | str | Unset):
        subject_id (None | Unset | UUID):
        overdue (bool | Unset):  Default: False.
        limit (int | Unset):  Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page (not with `overdue=true`)

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RequestList
    """

    return (
        await asyncio_detailed(
            client=client,
            status=status,
            kind=kind,
            subject_id=subject_id,
            overdue=overdue,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
