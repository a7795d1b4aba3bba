"""Canonical form of entries: deterministic, typed, round-trips through JSON."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.audit.canonical import (
    CanonicalizationError,
    build_entry,
    canonical_bytes,
    details_json,
    entry_bytes,
    entry_leaf_hash,
    format_time,
    parse_time,
    to_typed,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text().filter(lambda k: not k.startswith("$")), children, max_size=4)
    ),
    max_leaves=12,
)


def entry(**overrides):
    fields = {
        "seq": 7,
        "time": dt.datetime(2026, 11, 28, 12, 0, 0, 5, tzinfo=dt.UTC),
        "actor_kind": "staff",
        "actor_id": "a1",
        "action": "consent.granted",
        "target_kind": "subject",
        "target_id": "5f0c9d3e-0000-4000-8000-000000000001",
        "request_id": "r1",
        "policy_version": "v1",
        "details": {"b": 1, "a": [uuid.UUID(int=1), Decimal("0.50")]},
    }
    fields.update(overrides)
    return build_entry(**fields)


def test_canonical_bytes_are_sorted_compact_utf8_with_tagged_types():
    data = canonical_bytes(entry(details={"é": "ü", "b": 1, "a": Decimal("0.50")}))
    text = data.decode("utf-8")
    assert " " not in text.replace("consent.granted", "")
    assert '"details":{"a":{"$decimal":"0.50"},"b":1,"é":"ü"}' in text
    assert '"time":{"$time":"2026-11-28T12:00:00.000005Z"}' in text
    assert text.index('"action"') < text.index('"actor"') < text.index('"details"') < text.index('"v"')


@given(json_values)
def test_typed_form_survives_a_json_round_trip_with_the_same_hash(details):
    typed = entry(details={"x": details})
    reparsed = json.loads(json.dumps(typed, indent=2))  # any exporter's whitespace and key order
    assert canonical_bytes(reparsed) == canonical_bytes(typed)
    assert entry_leaf_hash(reparsed) == entry_leaf_hash(typed)


def test_every_field_changes_the_hash():
    base = entry_leaf_hash(entry())
    variants = [
        entry(seq=8),
        entry(time=dt.datetime(2026, 11, 28, 12, 0, 0, 6, tzinfo=dt.UTC)),
        entry(actor_kind="client"),
        entry(actor_id="a2"),
        entry(action="consent.withdrawn"),
        entry(target_kind=None, target_id=None),
        entry(target_id="other"),
        entry(request_id="r2"),
        entry(policy_version="v2"),
        entry(details={"b": 2}),
    ]
    assert len({entry_leaf_hash(v) for v in variants} | {base}) == len(variants) + 1


def test_types_do_not_collide():
    as_uuid = to_typed(uuid.UUID(int=1))
    as_text = to_typed(str(uuid.UUID(int=1)))
    assert canonical_bytes({"x": as_uuid}) != canonical_bytes({"x": as_text})
    assert canonical_bytes({"x": to_typed(Decimal("1"))}) != canonical_bytes({"x": to_typed(1)})
    assert canonical_bytes({"x": True}) != canonical_bytes({"x": 1})


def test_times_are_utc_and_naive_times_are_refused():
    paris = dt.timezone(dt.timedelta(hours=1))
    moment = dt.datetime(2026, 11, 28, 13, 0, tzinfo=paris)
    assert format_time(moment) == "2026-11-28T12:00:00.000000Z"
    assert parse_time(format_time(moment)) == moment
    with pytest.raises(CanonicalizationError, match="timezone"):
        format_time(dt.datetime(2026, 11, 28))


@pytest.mark.parametrize(
    "bad",
    [{"$time": "x"}, {1: "x"}, float("nan"), Decimal("NaN"), {1, 2}, b"bytes", object()],
)
def test_values_without_a_canonical_form_are_refused(bad):
    with pytest.raises(CanonicalizationError):
        to_typed({"x": bad})


optional_text = st.none() | st.text()


@given(
    seq=st.integers(min_value=0, max_value=2**62),
    actor_kind=st.text(),
    actor_id=st.text(),
    action=st.text(),
    target=st.none() | st.tuples(st.text(), optional_text),
    request_id=optional_text,
    policy_version=optional_text,
    details=st.dictionaries(st.text().filter(lambda k: not k.startswith("$")), json_values, max_size=4),
    micros=st.integers(min_value=0, max_value=10**12),
)
def test_the_column_builder_gives_exactly_the_canonical_bytes(
    seq, actor_kind, actor_id, action, target, request_id, policy_version, details, micros
):
    time = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
    target_kind, target_id = target if target else (None, None)
    typed = build_entry(
        seq=seq, time=time, actor_kind=actor_kind, actor_id=actor_id, action=action, target_kind=target_kind,
        target_id=target_id, request_id=request_id, policy_version=policy_version, details=details,
    )  # fmt: skip
    fast = entry_bytes(
        seq, format_time(time), actor_kind, actor_id, action, target_kind, target_id, request_id, policy_version,
        details_json(to_typed(details)),
    )  # fmt: skip
    assert fast == canonical_bytes(typed)
