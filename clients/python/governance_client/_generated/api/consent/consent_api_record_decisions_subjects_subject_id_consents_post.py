from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_body import ErrorBody
from ...models.record_decisions_body import RecordDecisionsBody
from ...models.recorded_out import RecordedOut
from ...types import Response


def _get_kwargs(
    subject_id: UUID,
    *,
    body: RecordDecisionsBody,
    idempotency_key: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/subjects/{subject_id}/consents".format(
            subject_id=quote(str(subject_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorBody | RecordedOut | None:
    if response.status_code == 200:
        response_200 = RecordedOut.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = RecordedOut.from_dict(response.json())

        return response_201

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

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 410:
        response_410 = ErrorBody.from_dict(response.json())

        return response_410

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
) -> Response[ErrorBody | RecordedOut]:
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
    body: RecordDecisionsBody,
    idempotency_key: str,
) -> Response[ErrorBody | RecordedOut]:
    """Record decisions collected from the subject. Clients send an `Idempotency-Key`; a replay with the
    same

     body returns the first response, a different body is 409. `Sec-GPC: 1` withdraws sale/sharing
    purposes.

    Args:
        subject_id (UUID):
        idempotency_key (str):
        body (RecordDecisionsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RecordedOut]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    body: RecordDecisionsBody,
    idempotency_key: str,
) -> ErrorBody | RecordedOut | None:
    """Record decisions collected from the subject. Clients send an `Idempotency-Key`; a replay with the
    same

     body returns the first response, a different body is 409. `Sec-GPC: 1` withdraws sale/sharing
    purposes.

    Args:
        subject_id (UUID):
        idempotency_key (str):
        body (RecordDecisionsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RecordedOut
    """

    return sync_detailed(
        subject_id=subject_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    body: RecordDecisionsBody,
    idempotency_key: str,
) -> Response[ErrorBody | RecordedOut]:
    """Record decisions collected from the subject. Clients send an `Idempotency-Key`; a replay with the
    same

     body returns the first response, a different body is 409. `Sec-GPC: 1` withdraws sale/sharing
    purposes.

    Args:
        subject_id (UUID):
        idempotency_key (str):
        body (RecordDecisionsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorBody | RecordedOut]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
    body: RecordDecisionsBody,
    idempotency_key: str,
) -> ErrorBody | RecordedOut | None:
    """Record decisions collected from the subject. Clients send an `Idempotency-Key`; a replay with the
    same

     body returns the first response, a different body is 409. `Sec-GPC: 1` withdraws sale/sharing
    purposes.

    Args:
        subject_id (UUID):
        idempotency_key (str):
        body (RecordDecisionsBody):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorBody | RecordedOut
    """

    return (
        await asyncio_detailed(
            subject_id=subject_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
