"""`governance.jsoncodec`: orjson's encodings agree with what the standard library wrote. The canonical form
(the signed bytes of consent receipts) is byte for byte the standard library's for every document of JSON's own
types, so receipts signed before verify after; stored text reads back as the same value; the types json.dumps
refused are still refused; and a float NaN is written as null instead of the non-JSON `NaN`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from governance import jsoncodec

_scalars = st.none() | st.booleans() | st.integers() | st.text()
documents = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(documents)
def test_the_canonical_bytes_are_the_standard_librarys(document: object) -> None:
    expected = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert jsoncodec.canonical_bytes(document) == expected


@settings(max_examples=200, deadline=None)
@given(documents | st.floats(allow_nan=False, allow_infinity=False))
def test_stored_and_sorted_text_read_back_as_the_same_value(document: object) -> None:
    assert json.loads(jsoncodec.stored_text(document)) == document
    assert json.loads(jsoncodec.sorted_text(document)) == document


def test_sorted_text_sorts_keys_and_non_string_keys_become_strings_as_json_dumps_makes_them() -> None:
    assert jsoncodec.sorted_text({"b": 1, "a": {"d": 2, "c": 3}}) == '{"a":{"c":3,"d":2},"b":1}'
    assert json.loads(jsoncodec.stored_text({1: "x", "2": "y"})) == json.loads(json.dumps({1: "x", "2": "y"}))


@dataclasses.dataclass
class _Row:
    n: int


@pytest.mark.parametrize("value", [dt.datetime(2026, 12, 5, tzinfo=dt.UTC), dt.date(2026, 12, 5), _Row(1)])
def test_what_json_dumps_refused_is_still_refused_without_a_default(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps({"v": value})
    with pytest.raises(TypeError):
        jsoncodec.stored_text({"v": value})
    with pytest.raises(TypeError):
        jsoncodec.canonical_bytes({"v": value})
    assert jsoncodec.sorted_text({"v": value}, default=lambda _v: "encoded") == '{"v":"encoded"}'


def test_nan_and_infinity_are_written_as_null_not_as_invalid_json() -> None:
    text = jsoncodec.stored_text({"loss": math.nan, "bound": math.inf})
    assert json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON")) == {
        "loss": None,
        "bound": None,
    }


def test_an_integer_beyond_64_bits_is_written_as_json_dumps_writes_it() -> None:
    """orjson refuses integers beyond 64 bits; a client may send one (the API fuzzer does), and the error body
    or stored document that holds it is written by the standard library instead."""
    document = {"n": 2**70, "m": [-(2**65)], "s": "é"}
    assert json.loads(jsoncodec.stored_text(document)) == document
    assert jsoncodec.sorted_text(document) == '{"m":[-36893488147419103232],"n":1180591620717411303424,"s":"é"}'
    with pytest.raises(TypeError):
        jsoncodec.stored_text({"n": 2**70, "when": dt.date(2026, 12, 5)})
