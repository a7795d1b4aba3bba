"""Withdrawal-to-consumer latency through the broker: a consent withdrawal commits (writing its outbox row in
the same transaction), a real `governance outbox-relay` process publishes it to RabbitMQ with publisher
confirms, and a consumer bound to `consent.withdrawn` receives it. Latency = receipt time - commit time (same
clock, this process). Withdrawals are paced with a seeded random gap so the relay is usually idle (the
realistic case: its poll interval is part of the figure).

    python bench/broker_latency.py [--withdrawals 400] [--subjects 100] [--pace-ms 25] [--poll-seconds 0.2]
                                   [--postgres URL] [--broker-url URL] [--quick]

Prints one JSON object: sizes, seed, backend, relay poll interval, p50/p90/p99/max latency in milliseconds.
Uses exchange and queue names of its own and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SEED = 20261202
PURPOSE = "personalized_recommendations"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672/%2F"
ROOT = Path(__file__).resolve().parent.parent


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--withdrawals", type=int, default=400, help="withdrawals measured (default 400)")
    parser.add_argument("--subjects", type=int, default=100, help="people, each granting then withdrawing (100)")
    parser.add_argument("--pace-ms", type=float, default=25.0, help="mean gap between withdrawals (25 ms)")
    parser.add_argument("--poll-seconds", type=float, default=0.2, help="the relay's idle poll interval (0.2)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument("--broker-url", default=os.environ.get("GOVERNANCE_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--quick", action="store_true", help="40 withdrawals of 10 people (checks the script)")
    return parser.parse_args()


class Consumer(threading.Thread):
    """Receives `consent.withdrawn` messages and notes when each record id arrived."""

    def __init__(self, url: str, queue: str) -> None:
        super().__init__(daemon=True)
        self.url, self.queue = url, queue
        self.arrived: dict[str, float] = {}
        self.messages = 0
        self.stop = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        self.ready.set()
        for method, _props, body in channel.consume(self.queue, auto_ack=True, inactivity_timeout=0.5):
            if self.stop.is_set():
                break
            if method is None:
                continue
            now = time.time()
            self.messages += 1
            for record_id in json.loads(body)["data"]["record_ids"]:
                self.arrived.setdefault(record_id, now)  # dedupe by id, keep the first arrival
        channel.cancel()
        connection.close()


def _declare(url: str, exchange: str, queue: str) -> None:
    import pika

    from governance import broker

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    config = broker.BrokerSettings(url, exchange, f"{exchange}.unrouted", "-", "-", "-", 1, 30)
    broker.declare_events(channel, config)
    channel.queue_declare(queue, durable=False, auto_delete=False)
    channel.queue_bind(queue, exchange, "consent.withdrawn")
    connection.close()


def _delete(url: str, exchange: str, queue: str) -> None:
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for name in (queue, f"{exchange}.unrouted"):
        channel.queue_delete(name)
    for name in (exchange, f"{exchange}.alternate"):
        channel.exchange_delete(name)
    connection.close()


def _relay(app: Any, args: argparse.Namespace, exchange: str) -> subprocess.Popen[bytes]:
    settings = app.extensions["governance.settings"]
    env = {
        **os.environ,
        "GOVERNANCE_ENV": "test",
        "GOVERNANCE_DATABASE_URL": settings.database_url,
        "GOVERNANCE_INSTANCE_PATH": str(settings.instance_path),
        "GOVERNANCE_LOG_LEVEL": "ERROR",
        "GOVERNANCE_BROKER_URL": args.broker_url,
        "GOVERNANCE_BROKER_EXCHANGE": exchange,
        "GOVERNANCE_OUTBOX_POLL_SECONDS": str(args.poll_seconds),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(  # our own CLI
        [sys.executable, "-m", "flask", "--app", "wsgi", "governance", "outbox-relay"], cwd=ROOT, env=env
    )


def _wait_for_grants(url: str, unrouted: str, count: int) -> None:
    """The grants (no queue bound for them) reach the unrouted queue once the relay process is running."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    deadline = time.monotonic() + 300
    while channel.queue_declare(unrouted, passive=True).method.message_count < count:
        if time.monotonic() > deadline:
            raise SystemExit("the relay did not publish the grants within 300 s")
        connection.sleep(0.1)
    connection.close()


def _decide(app: Any, subject: uuid.UUID, decision: str) -> str:
    from governance.access.principals import Principal
    from governance.consent import service
    from governance.db import transaction

    actor = Principal(kind="client", id="bench", scopes=frozenset({"consents:write"}))
    with app.app_context(), app.extensions["governance.db"].session() as session, transaction(session):
        (receipt,) = service.record_decisions(
            session, subject, [{"purpose": PURPOSE, "decision": decision}], method="api", actor=actor,
            jurisdiction="EU",
        )  # fmt: skip
    return str(receipt.record_id)


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(len(ordered) * share) - 1))]


def main() -> None:
    args = _parse()
    if args.quick:
        args.withdrawals, args.subjects = 40, 10
    from consent_common import bench_app

    from governance.access.principals import Principal
    from governance.vault import service as vault

    rng = random.Random(SEED)
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"bench.{tag}.events", f"bench.{tag}.withdrawals"
    with bench_app(args.postgres) as app:
        with app.app_context(), app.extensions["governance.db"].session() as session:
            people = vault.create_subjects(
                session, [{"external_ref": f"bench-{n}"} for n in range(args.subjects)], actor=Principal.system("bench")
            )
            session.commit()
        subjects = [p.id for p in people]
        _declare(args.broker_url, exchange, queue)
        consumer = Consumer(args.broker_url, queue)
        consumer.start()
        consumer.ready.wait(60)
        relay = _relay(app, args, exchange)
        committed: dict[str, float] = {}
        try:
            for subject in subjects:
                _decide(app, subject, "granted")
            _wait_for_grants(args.broker_url, f"{exchange}.unrouted", len(subjects))  # the relay is up (not measured)
            for n in range(args.withdrawals):
                subject = subjects[n % len(subjects)]
                if n >= len(subjects):
                    _decide(app, subject, "granted")
                record_id = _decide(app, subject, "withdrawn")
                committed[record_id] = time.time()
                time.sleep(rng.expovariate(1000.0 / args.pace_ms))
            deadline = time.monotonic() + 120
            while len(consumer.arrived.keys() & committed.keys()) < len(committed) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            relay.terminate()
            relay.wait(60)
            consumer.stop.set()
            consumer.join(60)
            _delete(args.broker_url, exchange, queue)
    latencies = sorted((consumer.arrived[r] - t) * 1000 for r, t in committed.items() if r in consumer.arrived)
    print(
        json.dumps(
            {
                "benchmark": "broker_withdrawal_latency",
                "seed": SEED,
                "backend": "postgresql" if args.postgres else "sqlite",
                "withdrawals": args.withdrawals,
                "subjects": args.subjects,
                "pace_ms": args.pace_ms,
                "relay_poll_seconds": args.poll_seconds,
                "received": len(latencies),
                "messages_received": consumer.messages,
                "latency_ms": {
                    "p50": round(statistics.median(latencies), 2),
                    "p90": round(_percentile(latencies, 0.90), 2),
                    "p99": round(_percentile(latencies, 0.99), 2),
                    "max": round(latencies[-1], 2),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
