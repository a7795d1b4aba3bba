"""The `pkcs11` master-key provider against a real SoftHSM2 token (initialised per test by `hsm_token`)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from governance.vault import keymanagement, service
from governance.vault.keyproviders import KeyProvider, KeyProviderError, KeyProviderUnavailable, UnwrapError
from governance.vault.models import DataKey, MasterKeyVersion, Subject
from governance.vault.pkcs11_provider import Pkcs11KeyProvider
from governance.vault.runtime import get_runtime, runtime_for
from tests.vault.conftest import ACTOR, PROFILE, HsmToken, event

DATA_KEY = bytes(range(32))


@dataclass
class UnwrapCalls:
    """The calls a running provider received: a batch's size per `unwrap_many`, a count of single unwraps."""

    single: int = 0
    batches: list[int] = field(default_factory=list)


def count_unwraps(provider: Pkcs11KeyProvider, monkeypatch: pytest.MonkeyPatch) -> UnwrapCalls:
    """Count the provider's unwrap calls; each still goes to the token (the methods are wrapped, not replaced)."""
    calls = UnwrapCalls()
    unwrap, unwrap_many = provider.unwrap, provider.unwrap_many

    def counted_unwrap(version: int, wrapped: bytes, context: bytes) -> bytes:
        calls.single += 1
        return unwrap(version, wrapped, context)

    def counted_unwrap_many(items: Sequence[tuple[int, bytes, bytes]]) -> list[bytes | UnwrapError]:
        calls.batches.append(len(items))
        return unwrap_many(items)

    monkeypatch.setattr(provider, "unwrap", counted_unwrap)
    monkeypatch.setattr(provider, "unwrap_many", counted_unwrap_many)
    return calls


@pytest.fixture
def provider(hsm_token: HsmToken) -> Iterator[Pkcs11KeyProvider]:
    made = Pkcs11KeyProvider(hsm_token.settings())
    yield made
    made.close()


def test_wraps_and_unwraps_under_a_key_generated_in_the_token(provider: Pkcs11KeyProvider) -> None:
    assert isinstance(provider, KeyProvider)
    assert list(provider.versions()) == []
    version = provider.active_version()  # an empty token: the first use generates version 1
    assert version == 1
    assert list(provider.versions()) == [1]
    wrapped = provider.wrap(1, DATA_KEY, b"context")
    assert DATA_KEY not in wrapped
    assert len(wrapped) == 12 + 32 + 16  # iv, ciphertext, tag
    assert provider.unwrap(1, wrapped, b"context") == DATA_KEY
    assert provider.wrap(1, DATA_KEY, b"context") != wrapped  # a fresh IV every time
    with pytest.raises(UnwrapError):
        provider.unwrap(1, wrapped, b"another subject")
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(UnwrapError):
        provider.unwrap(1, tampered, b"context")
    with pytest.raises(KeyProviderError, match="not available"):
        provider.unwrap(7, wrapped, b"context")


def test_the_key_cannot_leave_the_token(provider: Pkcs11KeyProvider, hsm_token: HsmToken) -> None:
    """The key object is sensitive, never extractable, and refuses to give its value (C_GetAttributeValue)."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11.exceptions import AttributeSensitive

    provider.active_version()
    token = pkcs11.lib(hsm_token.library).get_token(token_label=hsm_token.label)
    with token.open() as session:  # the provider's login is shared by the process's sessions
        key = session.get_key(object_class=ObjectClass.SECRET_KEY, label="governance-vault-master-v1")
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.TOKEN] is True
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]


def test_versions_are_added_and_destroyed_in_the_token(provider: Pkcs11KeyProvider) -> None:
    provider.active_version()
    old = provider.wrap(1, DATA_KEY, b"ctx")
    assert provider.add_version() == 2
    assert provider.active_version() == 2
    new = provider.wrap(2, DATA_KEY, b"ctx")
    with pytest.raises(UnwrapError):
        provider.unwrap(1, new, b"ctx")
    assert provider.unwrap(1, old, b"ctx") == DATA_KEY
    with pytest.raises(KeyProviderError, match="active"):
        provider.retire_version(2)
    provider.retire_version(1)
    assert list(provider.versions()) == [2]
    with pytest.raises(KeyProviderError, match="not available"):
        provider.unwrap(1, old, b"ctx")
    provider.retire_version(1)  # already gone: a no-op


def test_first_version_numbers_the_token_above_a_replaced_provider(hsm_token: HsmToken) -> None:
    provider = Pkcs11KeyProvider(hsm_token.settings(), first_version=4)
    try:
        assert provider.add_version() == 4
        assert provider.add_version() == 5
    finally:
        provider.close()


def test_batched_unwrap_answers_in_order_and_isolates_a_bad_key(provider: Pkcs11KeyProvider) -> None:
    provider.active_version()
    provider.add_version()
    items = [
        (1 + n % 2, provider.wrap(1 + n % 2, bytes([n]) * 32, f"ctx-{n}".encode()), f"ctx-{n}".encode())
        for n in range(50)
    ]
    items[17] = (items[17][0], items[17][1], b"wrong context")
    out = provider.unwrap_many(items)
    assert len(out) == 50
    assert isinstance(out[17], UnwrapError)
    for n, value in enumerate(out):
        if n != 17:
            assert value == bytes([n]) * 32
    assert provider.unwrap_many([]) == []


def test_a_version_another_process_generates_is_used_without_restart(
    provider: Pkcs11KeyProvider, hsm_token: HsmToken
) -> None:
    """A job worker adds a version in its own process; this one (which cached the version list) wraps and
    unwraps with it on first use, and sees a destroyed one disappear at its next refresh."""
    provider.active_version()
    script = textwrap.dedent(
        f"""
        from governance.vault.pkcs11_provider import Pkcs11KeyProvider, Pkcs11Settings
        settings = Pkcs11Settings({hsm_token.library!r}, {hsm_token.label!r}, pin_file={str(hsm_token.pin_file)!r})
        p = Pkcs11KeyProvider(settings)
        v = p.add_version()
        print(v, p.wrap(v, bytes(range(32)), b"ctx").hex())
        p.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    version_text, wrapped_hex = done.stdout.split()
    assert int(version_text) == 2
    assert provider.unwrap(2, bytes.fromhex(wrapped_hex), b"ctx") == DATA_KEY
    provider.refresh()
    assert provider.active_version() == 2


# ---------------------------------------------------------------------------------------------- failures


def _reason(provider: Pkcs11KeyProvider) -> str:
    with pytest.raises(KeyProviderUnavailable) as caught:
        provider.versions()
    error = caught.value
    assert error.status == 503
    assert error.code == "key_provider_unavailable"
    return error.reason


def test_unavailable_hsm_reasons(hsm_token: HsmToken, tmp_path: Path) -> None:
    """Library missing, token missing, wrong PIN, unreadable PIN file: each a stable reason, never the PIN."""
    assert _reason(Pkcs11KeyProvider(hsm_token.settings(library=str(tmp_path / "missing.so")))) == "library_missing"
    not_a_library = tmp_path / "not-a-module.so"
    not_a_library.write_bytes(b"\x7fELF nonsense")
    assert _reason(Pkcs11KeyProvider(hsm_token.settings(library=str(not_a_library)))) == "library_missing"
    assert _reason(Pkcs11KeyProvider(hsm_token.settings(token_label="no-such-token"))) == "token_missing"
    wrong_pin = tmp_path / "wrong.pin"
    wrong_pin.write_text("not-the-pin")
    wrong = Pkcs11KeyProvider(hsm_token.settings(pin_file=str(wrong_pin)))
    with pytest.raises(KeyProviderUnavailable) as caught:
        wrong.versions()
    assert caught.value.reason == "pin_incorrect"
    assert "not-the-pin" not in str(caught.value)
    assert "not-the-pin" not in repr(caught.value.body())
    assert _reason(Pkcs11KeyProvider(hsm_token.settings(pin_file=str(tmp_path / "absent.pin")))) == "pin_unreadable"


def test_a_token_removed_under_a_running_provider_is_reported_unavailable(
    provider: Pkcs11KeyProvider, hsm_token: HsmToken
) -> None:
    provider.active_version()
    wrapped = provider.wrap(1, DATA_KEY, b"ctx")
    hsm_token.delete()
    with pytest.raises(KeyProviderUnavailable) as caught:
        provider.unwrap(1, wrapped, b"ctx")
    assert caught.value.reason in {"token_missing", "session_failed"}


# ---------------------------------------------------------------------------------------------- the service


def _subjects(app: Flask) -> int:
    with app.app_context():
        session = app.extensions["governance.db"].session()
        try:
            return session.scalar(sa.select(sa.func.count()).select_from(Subject)) or 0
        finally:
            session.close()


def test_the_service_runs_on_the_hsm_and_reports_it_unavailable(
    app: Flask,
    make_app: Callable[..., Flask],
    hsm_token: HsmToken,
    bearer: Callable[..., dict[str, str]],
    tmp_path: Path,
) -> None:
    """Subjects are created and read through the HSM; with a wrong PIN the same routes answer 503
    `key_provider_unavailable` (reason, never the PIN), nothing is written, and /readyz says why."""
    hsm_app = make_app(**hsm_token.app_settings())
    client = hsm_app.test_client()
    headers = bearer({"subjects:write"})
    created = client.post("/api/v1/subjects", json={"external_ref": "hsm-1", "profile": PROFILE}, headers=headers)
    assert created.status_code == 201, created.get_json()
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_json()
    assert "pkcs11" in ready.get_json()["checks"]["vault_master_key"]["detail"]
    with hsm_app.app_context():
        session = hsm_app.extensions["governance.db"].session()
        try:
            key = session.scalars(sa.select(DataKey)).one()
            versions = {row.version: row.provider for row in session.scalars(sa.select(MasterKeyVersion))}
            assert versions == {key.master_version: "pkcs11"}
            get_runtime().envelope.clear()
            profile = service.read_profile(session, key.subject_id, actor=ACTOR, view="masked")["fields"]
            assert profile["phone"] == "******42"
        finally:
            session.close()
    runtime_for(hsm_app).provider.close()

    wrong_pin = tmp_path / "wrong.pin"
    wrong_pin.write_text("0000-wrong")
    down = make_app(**{**hsm_token.app_settings(), "VAULT_PKCS11_PIN_FILE": str(wrong_pin)})
    down_client = down.test_client()
    before = _subjects(app)
    refused = down_client.post("/api/v1/subjects", json={"external_ref": "hsm-2", "profile": PROFILE}, headers=headers)
    assert refused.status_code == 503
    body = refused.get_json()
    assert body["error"] == "key_provider_unavailable"
    assert body["reason"] == "pin_incorrect"
    assert "0000-wrong" not in refused.get_data(as_text=True)
    assert _subjects(app) == before  # nothing half-written
    not_ready = down_client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"]["vault_master_key"] == {
        "ok": False,
        "detail": "vault master key provider 'pkcs11' unavailable (pin_incorrect)",
    }


def test_a_release_through_the_hsm_unwraps_each_chunk_in_one_call(
    make_app: Callable[..., Flask], hsm_token: HsmToken, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`iter_release_rows` over subjects whose keys the HSM wraps (one of them with two data-key versions)
    gives every value in clear; with the token gone it raises `KeyProviderUnavailable`, never integrity."""
    hsm_app = make_app(**hsm_token.app_settings())
    with hsm_app.app_context():
        session = hsm_app.extensions["governance.db"].session()
        try:
            with session.begin():
                views = service.create_subjects(
                    session,
                    [
                        {"external_ref": f"rel-{n}", "profile": {**PROFILE, "postal_code": f"{10000 + n}"}}
                        for n in range(30)
                    ],
                    actor=ACTOR,
                )
                ids = [view.id for view in views]
                for n, subject_id in enumerate(ids):
                    service.ingest_events(
                        session, subject_id, [event(n, "click")], actor=ACTOR, lawful_categories={"click"}
                    )
            with session.begin():
                keymanagement.rotate_data_key(session, ids[5], actor=ACTOR)
                service.ingest_events(session, ids[5], [event(99, "click")], actor=ACTOR, lawful_categories={"click"})
            get_runtime().envelope.clear()

            def release() -> list[service.SubjectRows]:
                with session.begin():
                    return list(
                        service.iter_release_rows(
                            session, ids, fields=["postal_code"], event_categories=["click"], since=None, until=None
                        )
                    )

            calls = count_unwraps(runtime_for(hsm_app).provider, monkeypatch)
            rows = release()
            with session.begin():
                stored_keys = session.scalar(sa.select(sa.func.count()).select_from(DataKey)) or 0
            assert calls.batches == [stored_keys]  # 30 subjects (< one 500-id chunk): all their data keys at once
            assert calls.single == 0
            assert [r.subject_id for r in rows] == ids
            assert [r.profile["postal_code"] for r in rows] == [f"{10000 + n}" for n in range(30)]
            assert [len(r.events) for r in rows] == [2 if n == 5 else 1 for n in range(30)]
            runtime_for(hsm_app).provider.close()
            hsm_token.delete()
            with pytest.raises(KeyProviderUnavailable):
                release()
        finally:
            session.close()


def test_a_master_key_rotation_on_the_hsm_unwraps_each_batch_in_one_call(
    make_app: Callable[..., Flask], hsm_token: HsmToken, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-wrap job's batches each unwrap their data keys with one `unwrap_many` (one lock hold, one key
    lookup), never one `unwrap` per key; afterwards every key is under the new version in the token."""
    hsm_app = make_app(**hsm_token.app_settings())
    with hsm_app.app_context():
        session = hsm_app.extensions["governance.db"].session()
        try:
            with session.begin():
                service.create_subjects(
                    session, [{"external_ref": f"rot-{n}", "profile": PROFILE} for n in range(25)], actor=ACTOR
                )
            provider = runtime_for(hsm_app).provider
            calls = count_unwraps(provider, monkeypatch)
            view = keymanagement.run_master_rotation(session, actor=ACTOR, batch_size=10)
            assert [size for size in calls.batches if size] == [10, 10, 5]
            assert calls.single == 0
            assert set(session.scalars(sa.select(DataKey.master_version).distinct())) == {view.target_version}
            assert view.target_version in provider.versions()
        finally:
            session.close()


# JAX (imported by the synthetic-data tests earlier in the same process) warns at every fork; the child here
# only calls the PKCS#11 library and leaves with os._exit, touching nothing of JAX.
@pytest.mark.filterwarnings(r"ignore:os\.fork\(\) was called:RuntimeWarning")
def test_a_forked_worker_opens_its_own_session(provider: Pkcs11KeyProvider) -> None:
    """gunicorn forks workers from a master that may have used the provider: the child re-initialises the
    library and unwraps through a session of its own (PKCS#11 sessions do not survive a fork)."""
    import os

    provider.active_version()
    wrapped = provider.wrap(1, DATA_KEY, b"ctx")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's atexit/pytest machinery
        code = 1
        try:
            os.close(read_end)
            os.write(write_end, provider.unwrap(1, wrapped, b"ctx"))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        got = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == DATA_KEY
    assert provider.unwrap(1, wrapped, b"ctx") == DATA_KEY  # the parent's session is untouched
