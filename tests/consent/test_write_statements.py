"""The consent write path's statement budget (issue 16): a write of 2 purposes through the API, bearer token,
Idempotency-Key, counted with SQLAlchemy event listeners on the real engine, BEGIN and COMMIT included.

Counting statements is not a timing: the figure is exact on any machine. The budget names each statement the
design allows, so a change that adds a round trip fails here and has to argue for it.
"""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from governance import jsoncodec
from governance.consent.models import ConsentIdempotencyKey
from governance.vault import service as vault
from tests.consent.conftest import SYSTEM

BASE = "/api/v1"
PURPOSES = ("marketing_email", "personalized_recommendations")
# BEGIN; lock the state rows (with the subject's check); ONE statement writing the events, the state rows, the
# audit entries and the outbox messages (governance.write_batch: data-modifying CTEs on PostgreSQL, a routed
# executemany on SQLite); the idempotency key; COMMIT. The budget is 6.
BUDGET = 5
SHAPE = [["BEGIN"], ["INSERT", "INTO", "consent_state"], ["INSERT", "INTO", "governance_batch_rows"],
         ["INSERT", "INTO", "consent_idempotency_keys"], ["COMMIT"]]  # fmt: skip


class Counter:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine, self.statements = engine, []

    def _execute(self, conn, cursor, statement, params, context, executemany) -> None:
        if not statement.startswith("BEGIN"):  # SQLite's BEGIN IMMEDIATE is the "begin" counted below
            self.statements.append(statement.split(None, 3)[:3])

    def _begin(self, conn) -> None:
        self.statements.append(["BEGIN"])

    def _commit(self, conn) -> None:
        self.statements.append(["COMMIT"])

    def __enter__(self) -> Counter:
        sa.event.listen(self.engine, "before_cursor_execute", self._execute)
        sa.event.listen(self.engine, "begin", self._begin)
        sa.event.listen(self.engine, "commit", self._commit)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._execute)
        sa.event.remove(self.engine, "begin", self._begin)
        sa.event.remove(self.engine, "commit", self._commit)


def write(client: FlaskClient, subject: uuid.UUID, headers: dict, decision: str, key: str | None = None):
    body = {"decisions": [{"purpose": p, "decision": decision} for p in PURPOSES]}
    extra = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"{BASE}/subjects/{subject}/consents", json=body, headers={**headers, **extra})


@pytest.fixture
def product(bearer) -> dict[str, str]:
    return bearer(["consents:write", "consents:read"])


@pytest.mark.parametrize("decision", ["granted", "withdrawn"])
def test_a_consent_write_stays_within_its_statement_budget(
    app: Flask, client: FlaskClient, make_subject, product: dict, decision: str, backend: str
) -> None:
    first, second = make_subject(), make_subject()
    for warm in ("granted", "withdrawn"):  # warm: token and processor caches; the receipt key known published
        assert write(client, first, product, warm).status_code == 201
    with Counter(app.extensions["governance.db"].engine) as counter:
        response = write(client, second, product, decision)
    assert response.status_code == 201, response.get_json()
    assert len(response.get_json()["receipts"]) == 2
    assert len(counter.statements) <= BUDGET, counter.statements
    if backend == "sqlite":
        assert counter.statements == SHAPE
    else:  # one statement of CTEs: WITH w0 AS (INSERT INTO consent_events …), … INSERT INTO outbox_messages …
        assert [s[:1] for s in counter.statements] == [["BEGIN"], ["INSERT"], ["WITH"], ["INSERT"], ["COMMIT"]]
    assert counter.statements[0] == ["BEGIN"]
    assert counter.statements[-1] == ["COMMIT"]
    selects = [s for s in counter.statements if s[0].upper() == "SELECT"]
    assert selects == [], selects  # no token, idempotency, subject or processor read on the hot path


def test_a_replay_costs_one_rolled_back_attempt_and_answers_as_the_first_time(
    app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict
) -> None:
    first = write(client, subject, product, "granted", key="same-key")
    with Counter(app.extensions["governance.db"].engine) as counter:
        again = write(client, subject, product, "granted", key="same-key")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert ["COMMIT"] in counter.statements  # the replay's read committed; the optimistic write rolled back
    other = write(client, subject, product, "withdrawn", key="same-key")
    assert other.status_code == 409
    assert other.get_json()["error"] == "idempotency_key_reused"


def test_a_taken_key_is_no_database_error_so_the_server_log_never_quotes_it(
    app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict
) -> None:
    """A unique-key failure makes PostgreSQL log an ERROR whose DETAIL quotes the key's values: the client's
    id and its own Idempotency-Key text. A replay or a reused key is expected traffic, so the key is stored
    with ON CONFLICT DO NOTHING and no statement fails (any driver error passes through `handle_error`)."""
    failures: list[str] = []

    def failed(context: sa.engine.ExceptionContext) -> None:
        failures.append(type(context.original_exception).__name__)

    engine = app.extensions["governance.db"].engine
    assert write(client, subject, product, "granted", key="order-4711 for someone").status_code == 201
    sa.event.listen(engine, "handle_error", failed)
    try:
        replay = write(client, subject, product, "granted", key="order-4711 for someone")
        reused = write(client, subject, product, "withdrawn", key="order-4711 for someone")
    finally:
        sa.event.remove(engine, "handle_error", failed)
    assert (replay.status_code, reused.status_code) == (200, 409)
    assert failures == []


def _stored_key(app: Flask, key: str) -> ConsentIdempotencyKey:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            row = session.scalars(sa.select(ConsentIdempotencyKey).where(ConsentIdempotencyKey.key == key)).one()
            session.expunge(row)
            return row
        finally:
            session.close()


def test_a_stored_key_names_its_receipts_and_a_replay_after_erasure_answers_as_the_first_time(
    app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict
) -> None:
    """The key keeps the record ids, not the receipts (the ledger keeps those, and is never erased): a replay
    reads them back, byte for byte what the first answer held, also once the subject has been erased."""
    first = write(client, subject, product, "granted", key="erased-later")
    assert first.status_code == 201
    stored = _stored_key(app, "erased-later").response
    receipts = first.get_json()["receipts"]
    assert "receipts" not in stored
    assert stored["receipt_record_ids"] == [r["record_id"] for r in receipts]
    assert len(jsoncodec.stored_text(stored)) < 400 < len(jsoncodec.stored_text(receipts[0]))
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            vault.shred_subject(session, subject, actor=SYSTEM, reason="test")
        session.close()
    assert write(client, subject, product, "withdrawn").status_code == 410  # a new write is refused
    again = write(client, subject, product, "granted", key="erased-later")
    assert again.status_code == 200
    assert again.data == first.data


def test_a_key_stored_whole_before_still_replays_as_stored(
    app: Flask, client: FlaskClient, subject: uuid.UUID, product: dict
) -> None:
    """Keys written before the receipts were stored by record id hold the whole response; they replay it."""
    first = write(client, subject, product, "granted", key="stored-whole")
    with app.app_context():
        session = app.extensions["governance.db"].session()
        with session.begin():
            session.execute(
                sa.update(ConsentIdempotencyKey)
                .where(ConsentIdempotencyKey.key == "stored-whole")
                .values(response=first.get_json())
            )
        session.close()
    again = write(client, subject, product, "granted", key="stored-whole")
    assert (again.status_code, again.get_json()) == (200, first.get_json())


def test_a_replay_of_a_gpc_withdrawal_names_the_same_receipts(
    client: FlaskClient, subject: uuid.UUID, product: dict
) -> None:
    url = f"{BASE}/subjects/{subject}/consents"
    grant = {"decisions": [{"purpose": "partner_sharing", "decision": "granted"}]}  # a "sale or sharing" purpose
    assert client.post(url, json=grant, headers={**product, "Idempotency-Key": "grant"}).status_code == 201
    headers = {**product, "Idempotency-Key": "gpc-key", "Sec-GPC": "1"}
    first = client.post(url, json={"decisions": []}, headers=headers)
    again = client.post(url, json={"decisions": []}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["gpc_withdrawn"] == ["partner_sharing"]
    assert len(first.get_json()["receipts"]) == 1
    assert again.data == first.data


class TransactionProbe:
    """Each statement's first words and whether the DBAPI connection was inside a transaction when it ran."""

    def __init__(self, engine: sa.Engine, backend: str) -> None:
        self.engine, self.backend, self.seen = engine, backend, []

    def _execute(self, conn, cursor, statement, params, context, executemany) -> None:
        dbapi = conn.connection.dbapi_connection
        in_transaction = dbapi.in_transaction if self.backend == "sqlite" else not dbapi.autocommit
        self.seen.append((" ".join(statement.split(None, 3)[:3]), in_transaction))

    def __enter__(self) -> TransactionProbe:
        sa.event.listen(self.engine, "before_cursor_execute", self._execute)
        return self

    def __exit__(self, *exc: object) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._execute)


def test_a_consent_check_reads_outside_a_transaction_and_leaves_writes_transactional(
    app: Flask, client: FlaskClient, make_subject, product: dict, backend: str
) -> None:
    """The check is one primary-key read: no BEGIN or COMMIT round trips, and on SQLite no write lock
    (BEGIN IMMEDIATE) for a read. The connection goes back to the pool transactional again."""
    checker = product  # consents:read may check
    subject = make_subject()
    assert write(client, subject, product, "granted").status_code == 201
    url = f"{BASE}/consents/check?subject={subject}&purpose={PURPOSES[0]}"
    assert client.get(url, headers=checker).status_code == 200  # warm: the token cache
    with TransactionProbe(app.extensions["governance.db"].engine, backend) as probe:
        response = client.get(url, headers=checker)
    assert response.status_code == 200
    assert response.get_json()["allowed"] is True
    assert probe.seen == [("SELECT consent_state.decision, consent_state.decided_at,", False)], probe.seen
    with TransactionProbe(app.extensions["governance.db"].engine, backend) as probe:
        assert write(client, subject, product, "withdrawn").status_code == 201
    assert probe.seen
    assert all(in_transaction for statement, in_transaction in probe.seen if statement != "BEGIN IMMEDIATE")
    assert client.get(url, headers=checker).get_json()["allowed"] is False  # the read sees the committed write
