"""Test-side broker helpers: a consumer queue bound to the test's exchange, reading it with a deadline, and a
link to the broker that a test can cut."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pika

from tests.fixtures.ports import unused_port

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 90.0


def channel(url: str) -> tuple[pika.BlockingConnection, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def bind_consumer_queue(url: str, exchange: str, queue: str, routing_key: str = "#") -> None:
    """What a downstream consumer does once: a durable queue bound to the events it wants."""
    from governance import broker

    connection, ch = channel(url)
    try:
        config = broker.BrokerSettings(url, exchange, f"{exchange}.unrouted", "unused", "unused", "unused", 1, 30)
        broker.declare_events(ch, config)
        ch.queue_declare(queue, durable=True)
        ch.queue_bind(queue, exchange, routing_key)
    finally:
        connection.close()


def read(url: str, queue: str, *, at_least: int, deadline: float = DEADLINE_SECONDS) -> list[dict[str, Any]]:
    """Every message now in `queue` (acked), waiting until there are at least `at_least` of them."""
    connection, ch = channel(url)
    got: list[dict[str, Any]] = []
    end = time.monotonic() + deadline
    try:
        while True:
            method, properties, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                if len(got) >= at_least or time.monotonic() > end:
                    return got
                connection.sleep(0.05)
                continue
            got.append(
                {
                    "routing_key": method.routing_key,
                    "message_id": properties.message_id,
                    "type": properties.type,
                    "delivery_mode": properties.delivery_mode,
                    "headers": properties.headers or {},
                    "body": _json_or_none(body),
                    "raw": body,
                }
            )
    finally:
        connection.close()


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # a malformed message kept whole in a dead-letter queue
        return None


def closed_port_url() -> str:
    """An AMQP URL nobody listens on (a port the OS just handed out and took back)."""
    return f"amqp://guest:guest@127.0.0.1:{unused_port()}/%2F"


def governance_process(
    args: list[str], *, database_url: str, instance_dir: Path, settings: dict[str, str]
) -> subprocess.Popen[str]:
    """A real `flask --app wsgi governance ...` process against the test database, keys and broker names."""
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "test",
        "GOVERNANCE_DATABASE_URL": database_url,
        "GOVERNANCE_INSTANCE_PATH": str(instance_dir),
        "GOVERNANCE_BASE_URL": "http://localhost",
        "GOVERNANCE_LOG_LEVEL": "WARNING",
        **{f"GOVERNANCE_{k}": v for k, v in settings.items()},
    }
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "governance", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str], *, kill: bool = False) -> tuple[str, str]:
    """Stop (SIGTERM, or SIGKILL when `kill`) and reap the process; returns its output."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    return out, err


class BrokerLink:
    """A TCP forwarder between the service and the real RabbitMQ that a test can cut: `cut()` closes every
    forwarded connection and turns new ones away (accepted, then closed: the broker is "down" for whoever
    connects through it) until `restore()`. The test itself talks to RabbitMQ directly."""

    def __init__(self, url: str) -> None:
        params = pika.URLParameters(url)
        self._target = (params.host, params.port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        port = self._listener.getsockname()[1]
        self.url = url.replace(f"{params.host}:{params.port}", f"127.0.0.1:{port}", 1)
        assert self.url != url, "the broker URL must name host:port"
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._up = True
        self._closing = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def cut(self) -> None:
        with self._lock:
            self._up = False
            doomed, self._open = self._open, []
        for sock in doomed:
            _close(sock)

    def restore(self) -> None:
        with self._lock:
            self._up = True

    def close(self) -> None:
        self.cut()
        self._closing.set()
        for thread in self._threads:
            thread.join(timeout=30)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            with self._lock:
                up = self._up
            if not up:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=30)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                pump = threading.Thread(target=_pump, args=(source, sink), daemon=True)
                pump.start()
                self._threads.append(pump)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes one way until either side closes (or the link is cut)."""
    source.settimeout(None)
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
