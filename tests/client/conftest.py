"""Fixtures for the Python client's tests: a real HTTP server (werkzeug's threaded server on a port the OS
picks) serving an app built with the test's settings on the session's database (SQLite or PostgreSQL), a real
job worker thread beside it, OAuth clients registered through the access service, and `GovernanceClient`s
pointed at the server. Everything is stopped and joined at the end of the test."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from governance.access.principals import Principal
from governance_client import GovernanceClient, RetryPolicy  # clients/python, installed editable by make install
from tests.e2e.browser import LiveServer, start_live_server
from tests.gateway.conftest import populate  # noqa: F401 - the gateway's population fixture, reused

ADMIN = Principal.system("client-tests")


@dataclass
class Served:
    """One running service: its app, its URL, and the worker thread running its jobs."""

    app: Flask
    live: LiveServer
    stop_worker: threading.Event
    worker: threading.Thread
    clients: list[GovernanceClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.live.url

    def register(self, scopes: Iterable[str], purposes: Iterable[str] = ()) -> tuple[str, str]:
        """A new OAuth client with exactly these scopes and purposes: (client_id, client_secret)."""
        from governance.access import tokens

        with self.app.app_context():
            session = self.app.extensions["governance.db"].session()
            try:
                with session.begin():
                    registered = tokens.register_client(
                        session, name="client-library test", scopes=set(scopes), purposes=set(purposes), actor=ADMIN
                    )
            finally:
                session.close()
        return registered.client_id, registered.client_secret

    def client(
        self,
        scopes: Iterable[str],
        purposes: Iterable[str] = (),
        *,
        retry: RetryPolicy | None = None,
        **options: Any,
    ) -> GovernanceClient:
        """A GovernanceClient of a fresh OAuth client (closed at the end of the test)."""
        scopes = list(scopes)
        client_id, secret = self.register(scopes, purposes)
        made = GovernanceClient(self.url, client_id, secret, scopes=scopes, retry=retry, **options)
        self.clients.append(made)
        return made

    def stop(self) -> None:
        for made in self.clients:
            made.close()
        self.stop_worker.set()
        self.worker.join(timeout=120)
        self.live.stop()


@pytest.fixture
def serve(app: Flask, make_app: Callable[..., Flask]) -> Iterator[Callable[..., Served]]:
    """`serve(**settings)` starts the service (empty tables: the `app` fixture truncated them) with those
    settings overriding the test configuration, and returns it running."""
    from governance.jobs.worker import Worker

    running: list[Served] = []

    def start(**settings: Any) -> Served:
        served_app = make_app(**settings)
        live = start_live_server(served_app)
        stop = threading.Event()
        worker = threading.Thread(
            target=Worker(served_app, worker_id=f"client-tests-{len(running)}").run,
            args=(stop,),
            kwargs={"poll_seconds": 0.1},
            name="client-tests-worker",
            daemon=True,
        )
        worker.start()
        running.append(Served(served_app, live, stop, worker))
        return running[-1]

    yield start
    for served in running:
        served.stop()


@pytest.fixture
def server(serve: Callable[..., Served]) -> Served:
    """The service with the test settings (no rate limit, 15-minute tokens)."""
    return serve()


def wait_for(condition: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.05) -> Any:
    """Poll `condition` until it is truthy (returned), failing the test after `timeout` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)
