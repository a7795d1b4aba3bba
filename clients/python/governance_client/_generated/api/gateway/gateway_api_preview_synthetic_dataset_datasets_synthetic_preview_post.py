from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.preview_out import PreviewOut
from ...models.synthetic_spec_body import SyntheticSpecBody
from ...types import Response


def _get_kwargs(
    *,
    body: SyntheticSpecBody,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/datasets/synthetic/preview",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> ErrorBody | PreviewOut | None:
    if response.status_code == 200:
        response_200 = PreviewOut.from_dict(response.json())

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

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = ErrorBody.from_dict(response.json())

        return response_415

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
) -> Response[ErrorBody | PreviewOut]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient,
    body: SyntheticSpecBody,
) -> Response[ErrorBody | PreviewOut]:
    """Dry run: the epsilon and delta the release would charge and the budget left, at no cost.

    Args:
        body (SyntheticSpecBody): A DP synthetic release (mode `dp_synthetic`): one synthetic row
            per synthetic person, with the asked profile
            fields (their public categories) and, per event category, a bucketed event count.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PreviewOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient,
    body: SyntheticSpecBody,
) -> ErrorBody | PreviewOut | None:
    """Dry run: the epsilon and delta the release would charge and the budget left, at no cost.

    Args:
        body (SyntheticSpecBody): A DP synthetic release (mode `dp_synthetic`): one synthetic row
            per synthetic person, with the asked profile
            fields (their public categories) and, per event category, a bucketed event count.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PreviewOut
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient,
    body: SyntheticSpecBody,
) -> Response[ErrorBody | PreviewOut]:
    """Dry run: the epsilon and delta the release would charge and the budget left, at no cost.

    Args:
        body (SyntheticSpecBody): A DP synthetic release (mode `dp_synthetic`): one synthetic row
            per synthetic person, with the asked profile
            fields (their public categories) and, per event category, a bucketed event count.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | PreviewOut]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient,
    body: SyntheticSpecBody,
) -> ErrorBody | PreviewOut | None:
    """Dry run: the epsilon and delta the release would charge and the budget left, at no cost.

    Args:
        body (SyntheticSpecBody): A DP synthetic release (mode `dp_synthetic`): one synthetic row
            per synthetic person, with the asked profile
            fields (their public categories) and, per event category, a bucketed event count.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | PreviewOut
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
