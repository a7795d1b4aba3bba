"""Setting up people and staff for the browser tests through the real services."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from governance.access.principals import ActorRef

ACTOR = ActorRef("system", "e2e-tests")


def in_transaction(app: Flask, work: Any) -> Any:
    """Run `work(session)` in one committed transaction inside a request context."""
    with app.test_request_context():
        session = app.extensions["governance.db"].session()
        try:
            with session.begin():
                return work(session)
        finally:
            session.close()


def dashboard_path(app: Flask, subject_id: uuid.UUID) -> str:
    """A fresh one-time dashboard link, as a path (the live server's address is added by the test)."""
    from governance.access.service import create_dashboard_link

    url = in_transaction(app, lambda s: create_dashboard_link(s, subject_id, actor=ACTOR))
    return url[url.index("/dashboard/start/") :]


def grant(app: Flask, subject_id: uuid.UUID, purpose: str) -> None:
    from governance.consent import service as consent

    in_transaction(
        app,
        lambda s: consent.record_decisions(
            s, subject_id, [{"purpose": purpose, "decision": "granted"}], method="api", actor=ACTOR, jurisdiction="EU"
        ),
    )


def create_staff_with_totp(app: Flask, username: str, password: str, roles: set[str]) -> str:
    """A staff account with a confirmed authenticator app; returns the TOTP secret (the test's phone).

    Enrolment is confirmed with the previous step's code so that the sign-in code (current step) is not a
    replay."""
    import datetime as dt

    import pyotp

    from governance.access import accounts

    box = accounts.SecretBox(app.extensions["governance.keys"].secret("access-totp"))

    def work(session: Any) -> str:
        staff = accounts.create_staff(session, username=username, password=password, roles=roles, actor=ACTOR)
        secret = accounts.begin_totp_enrolment(session, staff, box)
        earlier = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30)
        accounts.confirm_totp_enrolment(session, staff, pyotp.TOTP(secret).at(earlier), box)
        return secret

    return in_transaction(app, work)


def seal_audit_log(app: Flask) -> None:
    """Seal pending audit entries, sign a checkpoint and store a verification report (what the periodic jobs
    `audit.seal` and `audit.verify` do)."""
    from governance.audit import service as audit_service

    with app.test_request_context():
        audit_service.seal_all(
            app.extensions["governance.db"].session, audit_service.current_config(), force_checkpoint=True
        )
    verify_audit_log(app)


def verify_audit_log(app: Flask, *, full: bool = True) -> None:
    """Verify the audit log and store the report the console shows (the `audit.verify` job's work)."""
    from governance.audit import reports
    from governance.audit import service as audit_service

    with app.test_request_context():
        reports.run_verification(app.extensions["governance.db"].session, audit_service.current_config(), full=full)


def tamper_with_audit_row(app: Flask, seq: int) -> None:
    """Change one sealed audit row behind the service's back, as a database administrator could."""
    import sqlalchemy as sa

    engine = app.extensions["governance.db"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")  # bypass the append-only trigger
        conn.execute(sa.text("UPDATE audit_entries SET actor_id = 'someone-else' WHERE seq = :seq"), {"seq": seq})


def sign_in(
    page: Any,
    base_url: str,
    username: str,
    password: str,
    secret: str,
    next_path: str = "/console",
    *,
    check: Any = None,
) -> None:
    """The staff sign-in as a person does it: password, then the authenticator app's code. `check(page, name)`
    (the browser harness's page check) runs on both sign-in pages when given."""
    import pyotp

    page.goto(base_url + next_path)
    if check:
        check(page, "staff-sign-in")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    if check:
        page.get_by_label("6-digit code").wait_for()
        check(page, "staff-sign-in-totp")
    page.get_by_label("6-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{next_path}")


def seed_service_activity(app: Flask) -> None:
    """What the console shows besides people: a model service with its purpose, a privacy budget spend, a
    dataset release built by the job worker, and a downstream processor."""
    from decimal import Decimal

    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.consent import processors
    from governance.gateway import service as gateway
    from governance.jobs.worker import drain

    purpose = "personalized_recommendations"

    def work(session: Any) -> None:
        tokens.register_client(
            session,
            name="Recommender",
            scopes={"datasets:request", "training:submit"},
            purposes={purpose},
            actor=ACTOR,
            client_id="recommender",
        )
        reservation = gateway.reserve_budget(
            session,
            purpose=purpose,
            client_id="recommender",
            epsilon=Decimal("0.5"),
            delta=Decimal("1e-7"),
            reason="dp_query",
            ref="weekly-counts",
        )
        gateway.commit_budget(session, reservation, epsilon_spent=Decimal("0.5"), delta_spent=Decimal("1e-7"))
        client = Principal(
            kind="client",
            id="recommender",
            scopes=frozenset({"datasets:request"}),
            purposes=frozenset({purpose}),
        )
        gateway.request_release(session, client=client, spec={"purpose": purpose, "profile_fields": ["country"]})

    in_transaction(app, work)
    drain(app, kinds=["gateway.release"])  # people's own requests stay open for the queue
    in_transaction(
        app,
        lambda s: processors.register_processor(
            s, name="CRM", url="https://crm.example.com/privacy-hook", actor=ACTOR, purposes=None
        ),
    )


def file_overdue_request(app: Flask, subject_id: uuid.UUID, days_ago: int = 60) -> None:
    """An erasure request received by support long ago whose identity check never finished: overdue."""
    import datetime as dt

    from governance.access.principals import Principal
    from governance.requests import service as requests

    staff = Principal(kind="staff", id="support-desk", roles=frozenset({"support"}))
    in_transaction(
        app,
        lambda s: requests.file_request(
            s,
            subject_id=subject_id,
            kind="erasure",
            actor=staff,
            source="staff",
            verification_method=None,
            now=dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago),
        ),
    )


def train_small_model(app: Flask, make_subject: Any, people: int = 30) -> list[uuid.UUID]:
    """People who allow model training, with a little activity, and a differentially private logistic
    regression (diffprivlib) trained on them by the job worker. Returns the people's ids."""
    import datetime as dt

    from governance.access import tokens
    from governance.access.principals import Principal
    from governance.jobs.worker import drain
    from governance.training import service as training
    from governance.training.schemas import TrainingJobIn
    from governance.vault import service as vault

    now = dt.datetime.now(dt.UTC).isoformat()
    subjects = [make_subject(profile={"country": "DE", "language": "en"}) for _ in range(people)]
    for i, subject_id in enumerate(subjects):
        grant(app, subject_id, "model_training")
        events = [{"event_id": f"v{i}", "category": "view", "occurred_at": now, "item_id": "sku-1"}]
        if i % 2:
            events.append(
                {"event_id": f"p{i}", "category": "purchase", "occurred_at": now, "item_id": "sku-1", "value": 10}
            )
        in_transaction(
            app,
            lambda s, sid=subject_id, ev=events: vault.ingest_events(
                s, sid, ev, actor=ACTOR, lawful_categories={"view", "purchase"}
            ),
        )
    in_transaction(
        app,
        lambda s: tokens.register_client(
            s, name="Trainer", scopes={"training:submit"}, purposes={"model_training"}, actor=ACTOR, client_id="trainer"
        ),
    )
    client = Principal(
        kind="client", id="trainer", scopes=frozenset({"training:submit"}), purposes=frozenset({"model_training"})
    )
    body = TrainingJobIn.model_validate(
        {
            "purpose": "model_training",
            "kind": "dpl_logistic",
            "dataset": {"fields": ["country"], "event_categories": ["view", "purchase"]},
            "privacy": {"epsilon": 1.0, "delta": 0},
            "label": {"event_category": "purchase"},
        }
    )
    in_transaction(app, lambda s: training.submit_job(s, body, actor=client))
    drain(app, kinds=["training.run"])
    return subjects


def release_dataset(app: Flask, client_id: str, purpose: str, profile_fields: list[str]) -> uuid.UUID:
    """A dataset release for `purpose` requested by an already registered client and built by the job worker."""
    from governance.access.principals import Principal
    from governance.gateway import service as gateway
    from governance.jobs.worker import drain

    client = Principal(
        kind="client", id=client_id, scopes=frozenset({"datasets:request"}), purposes=frozenset({purpose})
    )
    spec = {"purpose": purpose, "profile_fields": profile_fields}
    release_id = in_transaction(app, lambda s: gateway.request_release(s, client=client, spec=spec).id)
    drain(app, kinds=["gateway.release"])
    return release_id


def expire_export(app: Flask, request_id: str) -> None:
    """An export's download time runs out (as seven days later): the retention purge deletes its bundle."""
    import datetime as dt

    import sqlalchemy as sa

    from governance.requests import service as requests
    from governance.requests.models import DataSubjectRequest, ExportBundle

    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)

    def work(session: Any) -> None:
        row = session.get(DataSubjectRequest, uuid.UUID(request_id))
        row.result = {**row.result, "expires_at": past.isoformat()}
        session.execute(sa.update(ExportBundle).where(ExportBundle.request_id == row.id).values(expires_at=past))
        assert requests.purge_expired_bundles(session) == 1

    in_transaction(app, work)


def file_verified_request(app: Flask, subject: uuid.UUID, kind: str) -> uuid.UUID:
    """A request filed by the DPO with the identity already checked: it is in progress with its job queued."""
    from governance.access.principals import Principal
    from governance.requests import service as requests

    dpo = Principal(kind="staff", id=str(uuid.uuid4()), roles=frozenset({"dpo"}))
    filed = in_transaction(
        app,
        lambda s: requests.file_request(
            s, subject_id=subject, kind=kind, actor=dpo, source="staff", verification_method="id_document"
        ),
    )
    return filed.request.id


def fail_job_for_good(app: Flask, job_kind: str) -> None:
    """A worker claims the request's job and gives up on it (a non-retryable failure, as after a DomainError)."""
    from governance.jobs import service as jobs

    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            claim = jobs.claim_next(session, worker_id="test-worker", kinds=[job_kind])
            session.commit()
            assert claim is not None
            assert jobs.fail(session, claim, error_code="processor_unreachable", retryable=False) == "failed"
        finally:
            session.close()
