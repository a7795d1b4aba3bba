from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.check_out import CheckOut
from ...models.error_body import ErrorBody
from ...types import UNSET, Response


def _get_kwargs(
    *,
    subject: UUID,
    purpose: str,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_subject = str(subject)
    params["subject"] = json_subject

    params["purpose"] = purpose

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/consents/check",
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> CheckOut | ErrorBody | None:
    if response.status_code == 200:
        response_200 = CheckOut.from_dict(response.json())

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
) -> Response[CheckOut | ErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    subject: UUID,
    purpose: str,
) -> Response[CheckOut | ErrorBody]:
    """May `purpose` use `subject`'s data now? Unknown purpose: 422 with the valid ones.

    Args:
        subject (UUID):
        purpose (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckOut | ErrorBody]
    """

    kwargs = _get_kwargs(
        subject=subject,
        purpose=purpose,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    subject: UUID,
    purpose: str,
) -> CheckOut | ErrorBody | None:
    """May `purpose` use `subject`'s data now? Unknown purpose: 422 with the valid ones.

    Args:
        subject (UUID):
        purpose (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckOut | ErrorBody
    """

    return sync_detailed(
        client=client,
        subject=subject,
        purpose=purpose,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    subject: UUID,
    purpose: str,
) -> Response[CheckOut | ErrorBody]:
    """May `purpose` use `subject`'s data now? Unknown purpose: 422 with the valid ones.

    Args:
        subject (UUID):
        purpose (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CheckOut | ErrorBody]
    """

    kwargs = _get_kwargs(
        subject=subject,
        purpose=purpose,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    subject: UUID,
    purpose: str,
) -> CheckOut | ErrorBody | None:
    """May `purpose` use `subject`'s data now? Unknown purpose: 422 with the valid ones.

    Args:
        subject (UUID):
        purpose (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CheckOut | ErrorBody
    """

    return (
        await asyncio_detailed(
            client=client,
            subject=subject,
            purpose=purpose,
        )
    ).parsed
