from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.gateway.budget import (
    Budget,
    Spend,
    Totals,
    composed,
    delta_from_units,
    delta_to_units,
    epsilon_from_micro,
    epsilon_to_micro,
    zcdp_break_even,
)


def test_amounts_round_up_and_convert_back_exactly():
    assert epsilon_to_micro("0.1") == 100_000
    assert epsilon_to_micro("0.0000001") == 1  # rounded up, never to zero
    assert epsilon_to_micro(Decimal("1.0000001")) == 1_000_001
    assert delta_to_units("1e-6") == 10**9
    assert delta_to_units("1e-16") == 1
    assert epsilon_from_micro(1_500_000) == Decimal("1.5")
    assert delta_from_units(10**9) == Decimal("0.000001")
    for bad in ("-1", "nan", "inf", "abc"):
        with pytest.raises(ValueError, match="epsilon"):
            epsilon_to_micro(bad)


def test_ten_spends_of_a_tenth_make_exactly_one():
    totals = Totals()
    for _ in range(10):
        totals = totals.plus(Spend.of("0.1"))
    assert composed(totals, accounting="basic") == (1_000_000, 0)
    for _ in range(10):
        totals = totals.minus(Spend.of("0.1"))
    assert totals == Totals()


def test_zcdp_is_tighter_for_many_small_queries_and_never_looser():
    delta_conv = delta_to_units("1e-7")
    few = Totals().plus(Spend.of("0.5"))
    eps, delta = composed(few, accounting="zcdp", conversion_delta_units=delta_conv)
    assert eps == 500_000  # basic wins for one query
    assert delta == delta_conv
    many = Totals()
    for _ in range(400):
        many = many.plus(Spend.of("0.01"))
    basic, _ = composed(many, accounting="basic")
    zcdp, _ = composed(many, accounting="zcdp", conversion_delta_units=delta_conv)
    assert basic == 4_000_000
    assert zcdp < basic * 0.7
    assert zcdp_break_even(0.01, 1e-7) <= 400


def test_approximate_spends_compose_basically_alongside():
    totals = Totals().plus(Spend.of("1.0", "1e-6")).plus(Spend.of("0.5"))
    eps, delta = composed(totals, accounting="basic")
    assert (eps, delta) == (1_500_000, delta_to_units("1e-6"))


@given(st.lists(st.tuples(st.integers(1, 3_000_000), st.integers(0, 10**9)), max_size=40))
def test_composition_is_monotone_and_bounded_by_basic(spends):
    conversion = delta_to_units("1e-8")
    totals = Totals()
    previous = (0, 0)
    for eps, delta in spends:
        totals = totals.plus(Spend(eps, delta))
        current = composed(totals, accounting="zcdp", conversion_delta_units=conversion)
        basic = composed(totals, accounting="basic")
        assert current[0] <= basic[0]
        assert current[0] >= previous[0]
        previous = current


def test_budget_allows_and_reports_remaining():
    budget = Budget.of("1.0", "1e-6", accounting="basic")
    totals = Totals().plus(Spend.of("0.7"))
    assert budget.allows(totals)
    assert budget.remaining(totals) == (300_000, delta_to_units("1e-6"))
    assert not budget.allows(totals.plus(Spend.of("0.300001")))
    assert budget.allows(totals.plus(Spend.of("0.3")))


def test_budget_ceiling_rounds_down_and_zcdp_needs_a_conversion_delta():
    assert Budget.of("1.0000009", "0", accounting="basic").epsilon_micro == 1_000_000
    with pytest.raises(ValueError, match="conversion delta"):
        Budget.of("1.0", "0", accounting="zcdp")
    budget = Budget.of("8.0", "1e-6", accounting="zcdp")
    assert budget.conversion_delta_units == delta_to_units("1e-7")
