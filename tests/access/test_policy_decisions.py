"""Decision tables: (principal, action, resource) -> allow/deny for every role and every action, against the
real policy files in policies/. When a rule changes on purpose, change the table here in the same commit."""

from __future__ import annotations

import uuid

import pytest

from governance.access.policy import PolicyEngine, PolicyRequestError
from governance.access.principals import Principal, Resource
from governance.settings import PROJECT_ROOT

SUBJECT = uuid.UUID("00000000-0000-4000-8000-000000000001")
OTHER_SUBJECT = uuid.UUID("00000000-0000-4000-8000-000000000002")
PURPOSE = "recommendations"
CLIENT_ID = "client-a"
ALL_SCOPES = frozenset(
    {
        "subjects:write",
        "subjects:link",
        "events:write",
        "consents:write",
        "consents:read",
        "requests:write",
        "datasets:request",
        "training:submit",
        "authzen:evaluate",
        "drp:agent",
    }
)


def staff(*roles: str, mfa: bool = True) -> Principal:
    return Principal(kind="staff", id=f"staff-{'-'.join(roles)}", roles=frozenset(roles), mfa=mfa)


def client(scopes: frozenset[str] = ALL_SCOPES, purposes: frozenset[str] = frozenset({PURPOSE})) -> Principal:
    return Principal(kind="client", id=CLIENT_ID, scopes=scopes, purposes=purposes)


PRINCIPALS: dict[str, Principal] = {
    "admin": staff("admin"),
    "dpo": staff("dpo"),
    "support": staff("support"),
    "auditor": staff("auditor"),
    "subject": Principal(kind="subject", id="session-1", subject_id=SUBJECT),
    "client": client(),
    "internal": Principal.system("jobs"),
    "anonymous": Principal.anonymous(),
}

STAFF = {"admin", "dpo", "support", "auditor"}

# action -> who may do it on a resource of the right type that belongs to SUBJECT, serves PURPOSE and is owned
# by CLIENT_ID. Everything not listed is denied (deny by default).
EXPECTED: dict[str, set[str]] = {
    "subject.create": {"client", "internal"},
    "subject.link": {"client", "internal"},
    "subject.read": STAFF | {"subject", "client", "internal"},
    "profile.write": {"dpo", "subject", "client", "internal"},
    "profile.summary": {"admin", "dpo", "support", "subject", "internal"},
    "profile.read_masked": {"admin", "dpo", "support", "subject", "internal"},
    "profile.read_clear": {"dpo", "subject", "internal"},
    "profile.break_glass": {"admin", "support", "internal"},
    "events.write": {"client", "internal"},
    "events.read": {"dpo", "subject", "internal"},
    "lineage.read": {"dpo", "auditor", "subject", "internal"},
    "dashboard.view": {"subject", "internal"},
    "consent.write": {"dpo", "subject", "client", "internal"},
    "consent.read": {"dpo", "support", "auditor", "subject", "client", "internal"},
    "consent.check": {"dpo", "support", "auditor", "subject", "client", "internal"},
    "consent.import": {"dpo", "client", "internal"},
    "receipt.verify": {"dpo", "support", "auditor", "subject", "client", "internal"},
    "processor.manage": {"admin", "dpo", "internal"},
    "dsr.create": {"dpo", "support", "subject", "client", "internal"},
    "dsr.read": STAFF | {"subject", "client", "internal"},
    "dsr.manage": {"dpo", "internal"},
    "dsr.complete": {"dpo", "internal"},
    "dsr.download": {"dpo", "subject", "internal"},
    "audit.read": {"dpo", "auditor", "internal"},
    "audit.verify": {"admin", "dpo", "auditor", "internal"},
    "audit.export": {"dpo", "auditor", "internal"},
    "dataset.request": {"client", "internal"},
    "dataset.read": {"admin", "dpo", "auditor", "client", "internal"},
    "dataset.download": {"client", "internal"},
    "dpquery.run": {"dpo", "client", "internal"},
    "budget.read": {"admin", "dpo", "auditor", "client", "internal"},
    "training.submit": {"client", "internal"},
    "training.read": {"admin", "dpo", "auditor", "client", "internal"},
    "training.cancel": {"admin", "dpo", "client", "internal"},
    "training.download": {"client", "internal"},
    "training.retrain": {"dpo", "client", "internal"},
    "job.read": STAFF | {"subject", "client", "internal"},
    "staff.manage": {"admin", "internal"},
    "account.self": STAFF | {"internal"},
    "client.manage": {"admin", "internal"},
    "keys.rotate": {"admin", "internal"},
    "keys.read": {"admin", "dpo", "auditor", "internal"},
    "policy.read": STAFF | {"internal"},
    "console.view": STAFF | {"internal"},
    "token.introspect": {"admin", "client", "internal"},
    "token.revoke": {"admin", "client", "internal"},
    "authzen.evaluate": {"client", "internal"},
    "drp.request": {"client", "internal"},
}

# The resource type each action is checked on in the table (the first non-System type it applies to).
RESOURCE_TYPE = {
    "subject": "Subject",
    "profile": "Subject",
    "events": "Subject",
    "lineage": "Subject",
    "dashboard": "Subject",
    "consent": "Subject",
    "receipt": "Subject",
    "processor": "Processor",
    "dsr": "Request",
    "audit": "AuditLog",
    "dataset": "Dataset",
    "dpquery": "Dataset",
    "budget": "Budget",
    "training": "TrainingJob",
    "job": "Job",
    "staff": "StaffAccount",
    "account": "StaffAccount",
    "client": "ClientApp",
    "keys": "KeyRing",
    "policy": "PolicyFile",
    "console": "Console",
    "token": "Token",
    "authzen": "System",
    "drp": "Request",
}

BREAK_GLASS_REASON = {"reason": "ticket 4711: customer cannot sign in, verifying identity"}


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine.from_directory(PROJECT_ROOT / "policies")


def owned_resource(action: str, *, subject: uuid.UUID = SUBJECT, purpose: str = PURPOSE, owner: str = CLIENT_ID):
    rtype = RESOURCE_TYPE[action.split(".")[0]]
    return Resource(type=rtype, id="r1", owner_subject_id=subject, purpose=purpose, owner_client_id=owner)


def context_for(action: str) -> dict[str, str] | None:
    return BREAK_GLASS_REASON if action == "profile.break_glass" else None


def test_table_covers_every_declared_action(engine: PolicyEngine) -> None:
    assert set(EXPECTED) == set(engine.actions)


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("who", sorted(PRINCIPALS))
def test_decision_table(engine: PolicyEngine, who: str, action: str) -> None:
    decision = engine.decide(PRINCIPALS[who], action, owned_resource(action), context_for(action))
    assert decision.allowed is (who in EXPECTED[action]), decision


# ---- forbid rules override permits ----


@pytest.mark.parametrize("action", sorted(a for a, who in EXPECTED.items() if "subject" in who))
def test_subject_session_never_reaches_another_subject(engine: PolicyEngine, action: str) -> None:
    decision = engine.decide(PRINCIPALS["subject"], action, owned_resource(action, subject=OTHER_SUBJECT))
    assert not decision.allowed
    assert "subject-only-own-data" in decision.policies


def test_subject_session_cannot_act_on_unowned_or_whole_collections(engine: PolicyEngine) -> None:
    assert not engine.is_allowed(PRINCIPALS["subject"], "dsr.read", Resource.system())
    assert not engine.is_allowed(PRINCIPALS["subject"], "audit.read", Resource(type="AuditLog", id="log"))


@pytest.mark.parametrize("role", ["admin", "dpo", "auditor"])
def test_privileged_roles_need_the_second_factor(engine: PolicyEngine, role: str) -> None:
    without_mfa = staff(role, mfa=False)
    for action in sorted(a for a, who in EXPECTED.items() if role in who and a != "account.self"):
        decision = engine.decide(without_mfa, action, owned_resource(action), context_for(action))
        assert not decision.allowed, action
        assert decision.policies == ("mfa-required-for-privileged-roles",)
    # ...but may still enrol their authenticator app.
    assert engine.is_allowed(without_mfa, "account.self", Resource(type="StaffAccount", id="me"))


def test_support_without_second_factor_keeps_support_rights(engine: PolicyEngine) -> None:
    assert engine.is_allowed(staff("support", mfa=False), "dsr.read", owned_resource("dsr.read"))


def test_privileged_role_without_mfa_loses_its_other_roles_too(engine: PolicyEngine) -> None:
    assert not engine.is_allowed(staff("support", "admin", mfa=False), "dsr.read", owned_resource("dsr.read"))


@pytest.mark.parametrize(
    "action",
    ["profile.read_masked", "profile.read_clear", "events.read", "dsr.download", "profile.break_glass"],
)
def test_auditor_never_sees_personal_data_even_with_another_role(engine: PolicyEngine, action: str) -> None:
    dpo_and_auditor = staff("dpo", "auditor", "support")
    decision = engine.decide(dpo_and_auditor, action, owned_resource(action), context_for(action))
    assert not decision.allowed
    assert "auditor-never-sees-personal-data" in decision.policies


def test_support_sees_masked_only_unless_also_dpo(engine: PolicyEngine) -> None:
    resource = owned_resource("profile.read_clear")
    decision = engine.decide(staff("support"), "profile.read_clear", resource)
    assert decision.policies == ("support-sees-masked-only",)
    assert engine.is_allowed(staff("support", "dpo"), "profile.read_clear", resource)


@pytest.mark.parametrize("context", [None, {}, {"reason": ""}])
def test_break_glass_needs_a_written_reason(engine: PolicyEngine, context: dict | None) -> None:
    decision = engine.decide(staff("support"), "profile.break_glass", owned_resource("profile.break_glass"), context)
    assert not decision.allowed
    assert decision.policies == ("break-glass-needs-reason",)


def test_break_glass_reason_also_binds_the_service_itself(engine: PolicyEngine) -> None:
    assert not engine.is_allowed(Principal.system("cli"), "profile.break_glass", Resource.subject(SUBJECT))


@pytest.mark.parametrize(
    ("scope", "actions"),
    [
        ("subjects:write", ["subject.create", "subject.read", "profile.write"]),
        ("subjects:link", ["subject.link"]),
        ("events:write", ["events.write"]),
        ("consents:write", ["consent.write", "consent.import"]),
        ("consents:read", ["consent.read", "consent.check", "receipt.verify"]),
        ("requests:write", ["dsr.create", "dsr.read"]),
        ("datasets:request", ["dataset.request", "dataset.read", "dataset.download", "dpquery.run"]),
        ("training:submit", ["training.submit", "training.read", "training.download", "training.retrain"]),
    ],
)
def test_each_client_action_needs_its_scope(engine: PolicyEngine, scope: str, actions: list[str]) -> None:
    only_this = client(scopes=frozenset({scope}))
    without_it = client(scopes=ALL_SCOPES - {scope})
    for action in actions:
        assert engine.is_allowed(only_this, action, owned_resource(action)), action
        assert not engine.is_allowed(without_it, action, owned_resource(action)), action


@pytest.mark.parametrize(
    "action", ["dataset.request", "dataset.download", "dpquery.run", "training.submit", "training.download"]
)
def test_client_acts_only_for_registered_purposes(engine: PolicyEngine, action: str) -> None:
    decision = engine.decide(PRINCIPALS["client"], action, owned_resource(action, purpose="advertising"))
    assert not decision.allowed
    assert decision.policies == ("client-only-registered-purposes",)


def test_client_with_no_purpose_gets_nothing_purpose_bound(engine: PolicyEngine) -> None:
    unregistered = client(purposes=frozenset())
    assert not engine.is_allowed(unregistered, "dataset.request", Resource.system())
    assert engine.is_allowed(PRINCIPALS["client"], "dataset.request", Resource.system())


@pytest.mark.parametrize(
    "action",
    ["dataset.read", "dataset.download", "training.read", "training.cancel", "job.read", "token.revoke"],
)
def test_client_reaches_only_its_own_items(engine: PolicyEngine, action: str) -> None:
    decision = engine.decide(PRINCIPALS["client"], action, owned_resource(action, owner="client-b"))
    assert not decision.allowed


def test_client_item_without_owner_is_refused(engine: PolicyEngine) -> None:
    unowned = Resource(type="Dataset", id="d1", purpose=PURPOSE)
    assert not engine.is_allowed(PRINCIPALS["client"], "dataset.download", unowned)


def test_anonymous_is_denied_by_a_forbid_rule(engine: PolicyEngine) -> None:
    decision = engine.decide(Principal.anonymous(), "policy.read", Resource.system())
    assert decision.policies == ("anonymous-denied",)


def test_deny_by_default_reports_no_policy(engine: PolicyEngine) -> None:
    decision = engine.decide(staff("support"), "keys.rotate", Resource(type="KeyRing", id="master"))
    assert not decision.allowed
    assert decision.policies == ()
    assert decision.reason == "no-permit"


def test_staff_with_no_role_gets_only_the_basics(engine: PolicyEngine) -> None:
    nobody = staff()
    allowed = {a for a in EXPECTED if engine.is_allowed(nobody, a, owned_resource(a), context_for(a))}
    assert allowed == {"account.self", "console.view", "policy.read"}


def test_unknown_action_is_a_programming_error(engine: PolicyEngine) -> None:
    with pytest.raises(PolicyRequestError, match="unknown action"):
        engine.decide(staff("admin"), "profile.delete_everything", Resource.system())


def test_resource_type_the_action_does_not_apply_to_is_a_programming_error(engine: PolicyEngine) -> None:
    with pytest.raises(PolicyRequestError, match=r"audit\.read"):
        engine.decide(staff("auditor"), "audit.read", Resource.subject(SUBJECT))


def test_repeated_decisions_are_cached_and_identical(engine: PolicyEngine) -> None:
    first = engine.decide(staff("dpo"), "audit.read", Resource(type="AuditLog", id="log"))
    second = engine.decide(staff("dpo"), "audit.read", Resource(type="AuditLog", id="log"))
    assert first == second
    assert first.allowed


def test_after_a_password_reset_only_the_own_account_is_reachable(engine: PolicyEngine) -> None:
    reset = Principal(kind="staff", id="s", roles=frozenset({"support"}), mfa=True, must_change_password=True)
    decision = engine.decide(reset, "dsr.read", owned_resource("dsr.read"))
    assert decision.policies == ("new-password-required-after-reset",)
    assert engine.is_allowed(reset, "account.self", Resource(type="StaffAccount", id="me"))


def test_an_account_that_is_also_an_auditor_never_completes_a_request_by_hand(engine: PolicyEngine) -> None:
    assert engine.is_allowed(staff("dpo"), "dsr.complete", owned_resource("dsr.complete"))
    decision = engine.decide(staff("dpo", "auditor"), "dsr.complete", owned_resource("dsr.complete"))
    assert not decision.allowed
    assert "auditor-never-completes-requests" in decision.policies
    assert engine.is_allowed(staff("dpo", "auditor"), "dsr.manage", owned_resource("dsr.manage"))
