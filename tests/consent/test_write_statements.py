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
