from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.drp_agent_information_agent_agent_id_get_response_200 import (
    DrpAgentInformationAgentAgentIdGetResponse200,
)
from ...models.drp_error import DrpError
from ...types import Response


def _get_kwargs(
    agent_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/drp/v1/agent/{agent_id}".format(
            agent_id=quote(str(agent_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> DrpAgentInformationAgentAgentIdGetResponse200 | DrpError | None:
    if response.status_code == 200:
        response_200 = DrpAgentInformationAgentAgentIdGetResponse200.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = DrpError.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = DrpError.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = DrpError.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = DrpError.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = DrpError.from_dict(response.json())

        return response_409

    if response.status_code == 422:
        response_422 = DrpError.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = DrpError.from_dict(response.json())

        return response_429

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[DrpAgentInformationAgentAgentIdGetResponse200 | DrpError]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    agent_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[DrpAgentInformationAgentAgentIdGetResponse200 | DrpError]:
    """Agent Information (section 2.06): `{}` when the bearer token is this agent's, 403 otherwise.

    Args:
        agent_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DrpAgentInformationAgentAgentIdGetResponse200 | DrpError]
    """

    kwargs = _get_kwargs(
        agent_id=agent_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    agent_id: str,
    *,
    client: AuthenticatedClient,
) -> DrpAgentInformationAgentAgentIdGetResponse200 | DrpError | None:
    """Agent Information (section 2.06): `{}` when the bearer token is this agent's, 403 otherwise.

    Args:
        agent_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DrpAgentInformationAgentAgentIdGetResponse200 | DrpError
    """

    return sync_detailed(
        agent_id=agent_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    agent_id: str,
    *,
    client: AuthenticatedClient,
) -> Response[DrpAgentInformationAgentAgentIdGetResponse200 | DrpError]:
    """Agent Information (section 2.06): `{}` when the bearer token is this agent's, 403 otherwise.

    Args:
        agent_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[DrpAgentInformationAgentAgentIdGetResponse200 | DrpError]
    """

    kwargs = _get_kwargs(
        agent_id=agent_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    agent_id: str,
    *,
    client: AuthenticatedClient,
) -> DrpAgentInformationAgentAgentIdGetResponse200 | DrpError | None:
    """Agent Information (section 2.06): `{}` when the bearer token is this agent's, 403 otherwise.

    Args:
        agent_id (str):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        DrpAgentInformationAgentAgentIdGetResponse200 | DrpError
    """

    return (
        await asyncio_detailed(
            agent_id=agent_id,
            client=client,
        )
    ).parsed
