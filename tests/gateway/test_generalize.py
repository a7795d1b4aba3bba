import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.gateway.generalize import (
    GeneralizationRule,
    Generalizer,
    age_band,
    country_code,
    device_class,
    numeric_band,
    postal_region,
    truncate_timestamp,
)

AS_OF = dt.date(2026, 11, 28)


@pytest.mark.parametrize(
    ("born", "band"),
    [
        ("1996-11-28", "30-39"),  # 30th birthday today
        ("1996-11-29", "20-29"),  # 30 tomorrow
        ("2026-11-28", "0-9"),
        ("1936-01-01", "90+"),
        ("1937-11-29", "80-89"),
        (dt.date(1990, 5, 1), "30-39"),
        (dt.datetime(1990, 5, 1, 8, 0), "30-39"),
    ],
)
def test_age_band_counts_birthdays(born, band):
    assert age_band(born, as_of=AS_OF) == band


@pytest.mark.parametrize("bad", [None, "", "not a date", "2027-01-01", 19900501, "1990-13-01"])
def test_age_band_gives_none_not_the_raw_value(bad):
    assert age_band(bad, as_of=AS_OF) is None


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=AS_OF), st.sampled_from([5, 10, 20]))
def test_age_band_contains_the_age(born, width):
    age = AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))
    band = age_band(born, as_of=AS_OF, width=width)
    if age >= 90:
        assert band == "90+"
    else:
        low, high = (int(x) for x in band.split("-"))
        assert low <= age <= high
        assert low % width == 0


def test_postal_region_keeps_only_the_prefix():
    assert postal_region("10115", keep=2) == "10"
    assert postal_region("sw1a 1aa", keep=3) == "SW1"
    assert postal_region("1", keep=2) is None
    assert postal_region("10-115", keep=2) is None  # punctuation: unparsable, not passed through
    assert postal_region(None) is None


def test_country_code_normalizes_names_and_codes():
    assert country_code("de") == "DE"
    assert country_code("Germany") == "DE"
    assert country_code("Atlantis") is None
    assert country_code(None) is None


@pytest.mark.parametrize(
    ("device", "cls"),
    [
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", "mobile"),
        ("iPad", "tablet"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "desktop"),
        ("mobile", "mobile"),
        ("toaster", "other"),
        ("", None),
    ],
)
def test_device_class(device, cls):
    assert device_class(device) == cls


def test_timestamps_truncate_in_utc():
    moment = "2026-11-28T23:45:12+02:00"
    assert truncate_timestamp(moment, granularity="hour") == "2026-11-28T21:00Z"
    assert truncate_timestamp(moment, granularity="day") == "2026-11-28"
    assert truncate_timestamp(dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC), granularity="month") == "2026-01"
    assert truncate_timestamp("2026-11-28T12:00:00Z", granularity="week") == "2026-W48"
    assert truncate_timestamp("garbage") is None
    with pytest.raises(ValueError, match="granularity"):
        truncate_timestamp(moment, granularity="minute")


def test_numeric_band_top_and_bottom_codes():
    assert numeric_band(37, width=10) == "30-40"
    assert numeric_band(250, width=10, upper=200) == ">=200"
    assert numeric_band(-1, width=10, lower=0) == "<0"
    assert numeric_band("x", width=10) is None


def test_generalizer_applies_rules_by_column_and_passes_others():
    generalizer = Generalizer(
        (
            GeneralizationRule("birth_date", "age_band"),
            GeneralizationRule("occurred_at", "timestamp", {"granularity": "hour"}),
        ),
        as_of=AS_OF,
    )
    columns = ["birth_date", "language", "occurred_at"]
    funcs = generalizer.functions(columns)
    assert funcs[1] is None
    assert funcs[0]("1990-01-01") == "30-39"
    assert funcs[2]("2026-11-28T10:11:12Z") == "2026-11-28T10:00Z"
    assert generalizer.quasi_identifiers(columns) == ["birth_date", "occurred_at"]
    assert generalizer.describe(columns)["occurred_at"] == {"rule": "timestamp", "granularity": "hour"}


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="unknown generalization"):
        GeneralizationRule("x", "magic").bind(as_of=AS_OF)


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.sampled_from(
        [None, dt.UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-8))]
    ),
    st.sampled_from(["hour", "day", "week", "month"]),
)
def test_datetime_and_iso_string_inputs_truncate_alike(moment, zone, granularity):
    value = moment.replace(tzinfo=zone)
    assert truncate_timestamp(value, granularity=granularity) == truncate_timestamp(
        value.isoformat(), granularity=granularity
    )
