"""The decision cache is exact: for any request, the cached relational decision equals Cedar's own answer
on the full request (property test)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from governance.access.policy import PolicyEngine
from governance.access.principals import Principal, Resource
from governance.settings import PROJECT_ROOT
from tests.access.test_policy_decisions import ALL_SCOPES, EXPECTED, RESOURCE_TYPE

SUBJECTS = [uuid.UUID(int=10), uuid.UUID(int=11)]
CLIENTS = ["client-a", "client-b"]


@pytest.fixture(scope="module")
def engines() -> tuple[PolicyEngine, PolicyEngine]:
    cached = PolicyEngine.from_directory(PROJECT_ROOT / "policies")
    exact = PolicyEngine.from_directory(PROJECT_ROOT / "policies", cache_size=0)
    exact.relational = False  # the full request, ids and all, every time
    assert cached.relational
    return cached, exact


principals = st.one_of(
    st.builds(
        lambda roles, mfa, reset, n: Principal(
            kind="staff", id=f"s{n}", roles=frozenset(roles), mfa=mfa, must_change_password=reset
        ),
        st.sets(st.sampled_from(["admin", "dpo", "support", "auditor"])),
        st.booleans(),
        st.booleans(),
        st.integers(0, 3),
    ),
    st.builds(
        lambda subject, n: Principal(kind="subject", id=f"sess{n}", subject_id=subject),
        st.sampled_from(SUBJECTS),
        st.integers(0, 3),
    ),
    st.builds(
        lambda client_id, scopes, purposes: Principal(
            kind="client", id=client_id, scopes=frozenset(scopes), purposes=frozenset(purposes)
        ),
        st.sampled_from(CLIENTS),
        st.sets(st.sampled_from(sorted(ALL_SCOPES))),
        st.sets(st.sampled_from(["a", "b"])),
    ),
    st.just(Principal.system("jobs")),
)


@st.composite
def requests(draw):  # type: ignore[no-untyped-def]
    action = draw(st.sampled_from(sorted(EXPECTED)))
    rtype = draw(st.sampled_from([RESOURCE_TYPE[action.split(".")[0]], "System"]))
    resource = Resource(
        type=rtype,
        id=draw(st.sampled_from(["r1", "r2", "*"])),
        owner_subject_id=draw(st.sampled_from([None, *SUBJECTS])),
        purpose=draw(st.sampled_from([None, "a", "b"])),
        owner_client_id=draw(st.sampled_from([None, *CLIENTS])),
    )
    context = None
    if action == "profile.break_glass":
        context = draw(st.sampled_from([None, {"reason": ""}, {"reason": "ticket 7"}]))
    return draw(principals), action, resource, context


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_cached_relational_decision_equals_the_full_evaluation(engines, request) -> None:  # type: ignore[no-untyped-def]
    cached, exact = engines
    principal, action, resource, context = request
    assert cached.decide(principal, action, resource, context) == exact.decide(principal, action, resource, context)
