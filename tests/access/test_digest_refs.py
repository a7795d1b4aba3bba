"""Hash references in audit entries (an SSO subject, a throttled name or address) never read as phone numbers.

About one 16-hex-digit prefix in 1,850 is all digits. Written bare, the audit screen refused it as a phone number
and the whole transaction failed: that person could never sign in through the provider (a 500 each time), and
that address or name could never be locked. Each test uses such a digest on purpose.
"""

from __future__ import annotations

import uuid

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from governance import audit
from governance.access import accounts
from governance.access.models import StaffAccount
from governance.access.principals import ActorRef
from governance.access.sso.client import Identity, subject_ref
from governance.access.sso.policy import SsoPolicy
from governance.access.sso.sign_in import apply_identity, link_account, record_refusal
from tests.access.conftest import audit_rows

ALL_DIGITS = "0123456789012345" + "ab" * 24  # a sha256 hex digest whose first 16 digits are all numerals
POLICY = SsoPolicy(
    issuer="https://idp.example",
    client_id="governance",
    client_secret="not-a-secret",
    redirect_uri="https://governance.example/sso/callback",
    post_logout_redirect_uri="https://governance.example/",
    group_roles={"privacy-helpdesk": frozenset({"support"}), "privacy-office": frozenset({"dpo"})},
)


def _identity(groups: set[str]) -> Identity:
    return Identity(subject_ref=ALL_DIGITS, groups=frozenset(groups), amr=frozenset({"otp"}), acr=None)


def test_a_subject_whose_hash_starts_with_sixteen_digits_signs_in(app: Flask, session: Session) -> None:
    with session.begin():
        first = apply_identity(session, POLICY, _identity({"privacy-helpdesk"}))
        first_roles = sorted(first.staff.roles)
    with session.begin():
        apply_identity(session, POLICY, _identity({"privacy-office"}))  # a role change: another entry
    with session.begin():
        record_refusal(session, "no_role", staff_id=first.staff.id, ref=ALL_DIGITS)

    expected = audit.REF_PREFIX + ALL_DIGITS[:16]
    assert first.created
    assert first_roles == ["support"]
    assert audit_rows(app, "access.staff.created")[-1]["details"]["subject_ref"] == expected
    assert audit_rows(app, "access.staff.roles_changed")[-1]["details"]["subject_ref"] == expected
    assert audit_rows(app, "access.sso.refused")[-1]["details"]["subject_ref"] == expected


def test_linking_an_account_to_such_a_subject_is_recorded(app: Flask, session: Session) -> None:
    issuer, sub = _issuer_and_sub_with_all_digit_ref()
    with session.begin():
        staff = StaffAccount(username=f"local-{uuid.uuid4().hex[:8]}", password_hash="x", roles=["support"])
        session.add(staff)
        session.flush()
        link_account(session, staff, issuer=issuer, sub=sub, actor=ActorRef("system", "test"))
    ref = audit_rows(app, "access.staff.sso_linked")[-1]["details"]["subject_ref"]
    assert ref.startswith(audit.REF_PREFIX)
    assert ref.removeprefix(audit.REF_PREFIX).isdigit()


def test_a_name_and_an_address_with_such_hashes_are_locked(app: Flask, session: Session) -> None:
    policy = accounts.LockoutPolicy(account_failures=1, address_failures=1)
    name_hash = "9876543210987654" + "cd" * 24
    with session.begin():
        accounts.record_failure(session, staff=None, address_hash=ALL_DIGITS, policy=policy, stage="password",
                                name_hash=name_hash)  # fmt: skip
    assert audit_rows(app, "access.address.locked")[-1]["details"]["address_ref"] == "ref:" + ALL_DIGITS[:16]
    assert audit_rows(app, "access.name.locked")[-1]["details"]["name_ref"] == "ref:" + name_hash[:16]


@pytest.mark.parametrize("not_a_digest", ["", "0123456789", "+49 151 2345 6789 0000", "ABCDEF0123456789ABCD"])
def test_digest_ref_takes_only_a_hex_digest(not_a_digest: str) -> None:
    with pytest.raises(ValueError, match="hex digest"):
        audit.digest_ref(not_a_digest)


def _issuer_and_sub_with_all_digit_ref() -> tuple[str, str]:
    for n in range(100_000):  # about 1 in 1,850 qualifies
        sub = f"person-{n}"
        if subject_ref("https://idp.example", sub)[:16].isdigit():
            return "https://idp.example", sub
    raise AssertionError("no such subject in the range searched")
