import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from governance.web.charts import Series, _nice_max, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def _parse(markup) -> ET.Element:
    return ET.fromstring(str(markup))  # noqa: S314 - our own output


def test_line_chart_is_valid_svg_with_accessible_name_and_one_line_per_series():
    svg = _parse(
        line_chart(
            ["W1", "W2", "W3"],
            [Series("analytics", [50, 60, None]), Series("ads <x>", [10, 20, 30])],
            title="Consent rate per week",
            desc="Share of people who allowed each purpose",
            y_max=100,
            unit="%",
        )
    )
    assert svg.get("role") == "img"
    ids = svg.get("aria-labelledby").split()
    assert [el.get("id") for el in svg if el.tag in (f"{SVG}title", f"{SVG}desc")] == ids
    assert svg.find(f"{SVG}title").text == "Consent rate per week"
    assert len(svg.findall(f"{SVG}polyline")) == 2
    # a missing value draws no point
    assert len(svg.findall(f"{SVG}circle")) == 5
    assert "style" not in str(ET.tostring(svg))


def test_text_is_escaped():
    markup = str(bar_chart(["<b>"], [Series("<script>", [1])], title="<t>", desc="&"))
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    _parse(markup)


def test_stacked_bars_sum_to_the_total_height():
    svg = _parse(
        bar_chart(
            ["analytics"],
            [Series("spent", [2.0]), Series("remaining", [3.0])],
            title="Budget",
            desc="Spent and remaining",
            stacked=True,
            classes=["bar-spent", "bar-remaining"],
        )
    )
    rects = svg.findall(f"{SVG}rect")
    assert [r.get("class") for r in rects] == ["bar-spent", "bar-remaining"]
    heights = [float(r.get("height")) for r in rects]
    # the axis top is 5, so 2 + 3 fill the whole plot height
    assert abs(sum(heights) - (260 - 16 - 40)) < 0.5
    # the remaining bar sits on top of the spent bar
    spent, remaining = rects
    assert abs(float(remaining.get("y")) + float(remaining.get("height")) - float(spent.get("y"))) < 0.2


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_nice_max_bounds_the_value_within_a_factor_of_ten(value):
    top = _nice_max(value)
    assert top >= value * (1 - 1e-9)
    assert top <= value * 10 * (1 + 1e-9)


def test_empty_chart_renders():
    _parse(line_chart([], [], title="Nothing yet", desc="No data"))
    _parse(bar_chart([], [], title="Nothing yet", desc="No data"))


def test_horizontal_bars_have_one_row_per_label_and_a_fitting_view_box():
    from governance.web.charts import stacked_hbar_chart

    svg = _parse(
        stacked_hbar_chart(
            ["Personalized recommendations", "Chat"],
            [Series("Spent", [1.0, 0.0]), Series("Remaining", [7.0, 4.0])],
            title="Budget",
            desc="Spent and remaining",
            classes=["bar-spent", "bar-remaining"],
        )
    )
    assert len(svg.findall(f"{SVG}rect")) == 4
    assert svg.get("viewBox").split()[3] != "260"
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "Personalized recommendations" in labels


def test_count_axes_have_whole_ticks():
    svg = _parse(bar_chart(["W1", "W2"], [Series("Withdrawals", [1, 0])], title="t", desc="d", integer=True))
    ticks = [t.text for t in svg.findall(f"{SVG}text")][:5]
    assert ticks == ["0", "1", "2", "3", "4"]
