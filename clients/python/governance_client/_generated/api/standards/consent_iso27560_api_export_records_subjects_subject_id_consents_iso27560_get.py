from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.consent_iso_27560_api_export_records_subjects_subject_id_consents_iso_27560_get_response_200 import (
    ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200,
)
from ...models.error_body import ErrorBody
from ...types import Response


def _get_kwargs(
    subject_id: UUID,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/subjects/{subject_id}/consents/iso27560".format(
            subject_id=quote(str(subject_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody | None:
    if response.status_code == 200:
        response_200 = ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200.from_dict(
            response.json()
        )

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
) -> Response[ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody]:
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
) -> Response[ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody]:
    """The subject's consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C DPV vocabulary.

    Args:
        subject_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
) -> ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody | None:
    """The subject's consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C DPV vocabulary.

    Args:
        subject_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody
    """

    return sync_detailed(
        subject_id=subject_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
) -> Response[ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody]:
    """The subject's consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C DPV vocabulary.

    Args:
        subject_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody]
    """

    kwargs = _get_kwargs(
        subject_id=subject_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    subject_id: UUID,
    *,
    client: AuthenticatedClient,
) -> ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody | None:
    """The subject's consent records as ISO/IEC TS 27560 records in JSON-LD with the W3C DPV vocabulary.

    Args:
        subject_id (UUID):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ConsentIso27560ApiExportRecordsSubjectsSubjectIdConsentsIso27560GetResponse200 | ErrorBody
    """

    return (
        await asyncio_detailed(
            subject_id=subject_id,
            client=client,
        )
    ).parsed
