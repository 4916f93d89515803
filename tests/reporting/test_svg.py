"""The dashboard's SVG map and charts: well-formed, complete, classed as documented, escaped, small, stable."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from lxml import etree

from modules.reporting.svg import bar_chart, choropleth, classify, line_chart
from modules.reporting.svg.map import PALETTE, region_codes
from modules.reporting.svg.prepare_outlines import simplify

AREAS = Path(__file__).resolve().parents[2] / "webapp" / "data" / "areas_uz.csv"
SVG = "{http://www.w3.org/2000/svg}"


def _regions() -> dict[str, str]:
    with open(AREAS, encoding="utf-8") as handle:
        return {row["code"]: row["name_en"] for row in csv.DictReader(handle) if row["level"] == "region"}


def _percent(value: float) -> str:
    return f"{value:.0f}%"


def _map(values, link=None, names=None, **options):
    return choropleth(values, title="Coverage", legend_title="Share covered", link=link,
                      names=names if names is not None else _regions(), number_format=_percent, **options)


def _parse(markup) -> etree._Element:
    return etree.fromstring(str(markup).encode("utf-8"))


def _shapes(markup) -> dict[str, etree._Element]:
    return {path.get("data-region"): path for path in _parse(markup).iter(f"{SVG}path") if path.get("data-region")}


def test_the_map_has_every_region_of_the_area_list_and_nothing_else():
    assert region_codes() == sorted(_regions())
    assert len(region_codes()) == 14
    assert set(_shapes(_map({}))) == set(_regions())


def test_the_map_is_well_formed_xml_with_an_accessible_name():
    root = _parse(_map({"UZ-AN": 10}, description="Share of eligible households covered, by region"))
    svg = root.find(f"{SVG}svg")
    assert svg.get("role") == "img"
    assert svg.get("viewBox").startswith("0 0 ")
    assert svg.get("width") == "100%"
    title_id, desc_id = svg.get("aria-labelledby").split()
    assert svg.find(f"{SVG}title").get("id") == title_id
    assert svg.find(f"{SVG}title").text == "Coverage"
    assert svg.find(f"{SVG}desc").get("id") == desc_id


def test_equal_intervals_from_the_smallest_to_the_largest_value_give_the_classes_and_the_legend():
    values = {"UZ-AN": 0, "UZ-BU": 19.9, "UZ-FA": 20, "UZ-JI": 50, "UZ-NG": 79, "UZ-NW": 80, "UZ-QA": 100}
    edges, classes = classify(values)
    assert edges == [0, 20, 40, 60, 80, 100]
    assert classes == {"UZ-AN": 0, "UZ-BU": 0, "UZ-FA": 1, "UZ-JI": 2, "UZ-NG": 3, "UZ-NW": 4, "UZ-QA": 4}

    markup = _map(values)
    shapes = _shapes(markup)
    assert shapes["UZ-AN"].get("fill") == PALETTE[0]
    assert shapes["UZ-JI"].get("fill") == PALETTE[2]
    assert shapes["UZ-QA"].get("fill") == PALETTE[4]
    assert shapes["UZ-JI"].find(f"{SVG}title").text == "Jizzakh Region: 50%"
    legend = [item.xpath("string(.)") for item in _parse(markup).iter("li")]
    assert legend == ["0% – 20%", "20% – 40%", "40% – 60%", "60% – 80%", "80% – 100%", "–"]
    assert "Share covered" in _parse(markup).xpath("string(.//div[@class='svg-legend']/p)")


def test_fixed_bounds_keep_the_scale_and_put_values_outside_it_in_the_end_classes():
    edges, classes = classify({"UZ-AN": -5, "UZ-BU": 45, "UZ-FA": 250}, bounds=[0, 20, 40, 60, 80, 100])
    assert edges == [0, 20, 40, 60, 80, 100]
    assert classes == {"UZ-AN": 0, "UZ-BU": 2, "UZ-FA": 4}
    with pytest.raises(ValueError):
        classify({}, bounds=[0, 10, 5, 20, 30, 40])


def test_the_same_value_everywhere_is_one_middle_class_and_no_values_give_no_classes():
    edges, classes = classify({code: 7 for code in region_codes()})
    assert edges == [7]
    assert set(classes.values()) == {2}
    legend = [item.xpath("string(.)") for item in _parse(_map({code: 7 for code in region_codes()})).iter("li")]
    assert legend == ["7%"]
    assert classify({"UZ-AN": None, "UZ-BU": float("nan")}) == ([], {"UZ-AN": None, "UZ-BU": None})


def test_regions_without_data_are_hatched_and_named_with_the_callers_words():
    markup = _map({"UZ-AN": 10, "UZ-BU": 20, "UZ-FA": None}, no_data_label="No data")
    shapes = _shapes(markup)
    for code in ("UZ-FA", "UZ-XO"):  # None, and missing altogether
        assert shapes[code].get("fill").startswith("url(#") and shapes[code].get("fill").endswith("-nodata)")
        assert shapes[code].get("data-class") == ""
        assert shapes[code].find(f"{SVG}title").text.endswith(": No data")
    pattern_ids = {pattern.get("id") for pattern in _parse(markup).iter(f"{SVG}pattern")}
    assert shapes["UZ-FA"].get("fill")[5:-1] in pattern_ids
    assert [item.xpath("string(.)") for item in _parse(markup).iter("li")][-1] == "No data"

    complete = _map({code: index for index, code in enumerate(region_codes())}, no_data_label="No data")
    assert "No data" not in [item.xpath("string(.)") for item in _parse(complete).iter("li")]


def test_with_a_link_every_region_is_a_link_to_its_drill_down_and_the_map_a_group():
    markup = _map({"UZ-AN": 1, "UZ-BU": 2}, link=lambda code: f"/reports/regions/{code}?month=2026-03&x=1")
    root = _parse(markup)
    links = list(root.iter(f"{SVG}a"))
    assert sorted(link.get("href") for link in links) == sorted(
        f"/reports/regions/{code}?month=2026-03&x=1" for code in region_codes())
    assert all(link.find(f"{SVG}title").text for link in links)
    assert root.find(f"{SVG}svg").get("role") == "group"
    assert "&amp;x=1" in str(markup)
    assert not list(_parse(_map({"UZ-AN": 1})).iter(f"{SVG}a"))


def test_names_and_labels_are_escaped():
    names = {**_regions(), "UZ-AN": "Andijan & <Co>"}
    markup = choropleth({"UZ-AN": 1, "UZ-BU": 2}, title="A & <b>", legend_title="<i>share</i> & more", link=None,
                        names=names, number_format=_percent, no_data_label="<none>")
    root = _parse(markup)
    assert _shapes(markup)["UZ-AN"].find(f"{SVG}title").text == "Andijan & <Co>: 1%"
    assert root.find(f"{SVG}svg").find(f"{SVG}title").text == "A & <b>"
    assert "<b>" not in str(markup) and "<i>" not in str(markup) and "<none>" not in str(markup)


def test_the_same_input_gives_the_same_bytes_whatever_the_order_of_the_dict():
    values = {code: index * 3.5 for index, code in enumerate(region_codes())}
    first = _map(values, link=lambda code: f"/r/{code}")
    again = _map(dict(reversed(list(values.items()))), link=lambda code: f"/r/{code}")
    assert str(first) == str(again)
    assert str(_map({}, id="other")) != str(_map({}))


def test_two_maps_on_one_page_have_different_ids():
    one, two = _map({}), choropleth({}, title="Amounts", legend_title="UZS", link=None, names={},
                                    number_format=str)
    assert _parse(one).find(f"{SVG}svg").get("id") != _parse(two).find(f"{SVG}svg").get("id")


def test_the_map_stays_small_with_links_and_long_names():
    names = {code: "Qoraqalpogʻiston Respublikasi " * 3 for code in region_codes()}
    markup = _map({code: index * 1234.5678 for index, code in enumerate(region_codes())},
                  link=lambda code: f"/reports/dashboard/regions/{code}?month=2026-03", names=names)
    assert len(str(markup).encode("utf-8")) < 40_000


def test_tashkent_city_is_drawn_after_the_region_around_it():
    order = [path.get("data-region") for path in _parse(_map({})).iter(f"{SVG}path") if path.get("data-region")]
    assert order.index("UZ-TK") > order.index("UZ-TO")


def test_douglas_peucker_drops_points_within_the_tolerance_only():
    line = [(0, 0), (1, 0.05), (2, 0), (3, 2), (4, 0)]
    assert simplify(line, 0.1) == [(0, 0), (2, 0), (3, 2), (4, 0)]
    assert simplify(line, 5) == [(0, 0), (4, 0)]


def test_a_bar_chart_parses_and_shows_every_label_and_value():
    rows = [("Andijan & <Co>", 1200.0), ("Bukhara", 0.0), ("Fergana", None), ("Xorazm", 35000.5)]
    markup = bar_chart(rows, title="Beneficiaries", number_format=lambda v: f"{v:,.0f}",
                       no_data_label="No data", description="By region")
    root = _parse(markup)
    assert root.get("role") == "img" and root.get("width") == "100%"
    assert root.find(f"{SVG}title").text == "Beneficiaries"
    texts = [node.text for node in root.iter(f"{SVG}text")]
    for label, shown in [("Andijan & <Co>", "1,200"), ("Bukhara", "0"), ("Fergana", "No data"),
                         ("Xorazm", "35,000")]:
        assert label in texts and shown in texts
    titles = [node.text for node in root.iter(f"{SVG}title")]
    assert "Andijan & <Co>: 1,200" in titles and "Fergana: No data" in titles
    assert len(list(root.iter(f"{SVG}rect"))) == 3  # no bar without a value
    assert str(markup) == str(bar_chart(rows, title="Beneficiaries", number_format=lambda v: f"{v:,.0f}",
                                        no_data_label="No data", description="By region"))


def test_bars_stay_inside_the_drawing_with_negative_values():
    root = _parse(bar_chart([("Up", 30.0), ("Down", -10.0)], title="Change", number_format=str))
    width = float(root.get("viewBox").split()[2])
    for rect in root.iter(f"{SVG}rect"):
        assert 0 <= float(rect.get("x")) and float(rect.get("x")) + float(rect.get("width")) <= width


def test_a_line_chart_parses_and_has_its_series_months_and_points():
    months = [f"2026-{month:02d}" for month in range(1, 13)]
    series = {"Beneficiaries": [(month, 1000 + 10 * index) for index, month in enumerate(months)],
              "Appeals & <grievances>": [(month, None if index == 5 else index) for index, month in enumerate(months)]}
    markup = line_chart(series, title="Twelve months", number_format=lambda v: f"{v:.0f}")
    root = _parse(markup)
    assert root.get("role") == "img"
    texts = [node.text for node in root.iter(f"{SVG}text")]
    assert "Beneficiaries" in texts and "Appeals & <grievances>" in texts
    month_labels = [node for node in root.iter(f"{SVG}text") if node.text in months]
    assert month_labels[0].text == "2026-01" and len(month_labels) >= 4
    # Thinned out so that they do not overlap: about 0.6 em a character at 15 units.
    xs = [float(node.get("x")) for node in month_labels]
    assert all(b - a >= 7 * 15 * 0.55 for a, b in zip(xs, xs[1:], strict=False))
    titles = [node.text for node in root.iter(f"{SVG}title")]
    assert "Beneficiaries, 2026-03: 1020" in titles
    assert "Appeals & <grievances>, 2026-06: 0" not in titles  # the missing month has no point
    assert sum(1 for title in titles if title.startswith("Appeals & <grievances>, ")) == 11
    lines = [path for path in root.iter(f"{SVG}path") if path.get("fill") == "none"]
    assert len(lines) == 3  # one line, and one broken in two by the gap
    assert str(markup) == str(line_chart(series, title="Twelve months", number_format=lambda v: f"{v:.0f}"))


def test_whole_counts_get_whole_class_edges_and_fractions_keep_theirs():
    edges, _classes = classify({"UZ-TK": 0, "UZ-SA": 7, "UZ-AN": 13})
    assert edges == [0, 3, 6, 8, 11, 13]
    fractional, _classes = classify({"UZ-TK": 0.5, "UZ-SA": 7.25})
    assert fractional[1] == 0.5 + 6.75 / 5
    tiny, _classes = classify({"UZ-TK": 0, "UZ-SA": 3})  # too few whole steps for five classes: as computed
    assert tiny == [0, 0.6, 1.2, 1.8, 2.4, 3]


def test_few_whole_counts_get_whole_ticks_and_no_values_an_axis_of_whole_numbers():
    def ticks(markup) -> list[str]:
        return [node.text for node in _parse(markup).iter(f"{SVG}text") if node.get("text-anchor") == "end"]

    months = [f"2026-{month:02d}" for month in range(1, 4)]
    assert ticks(line_chart({"Cases": [(month, 0) for month in months]}, title="Overdue",
                            number_format=lambda v: f"{v:g}")) == ["0", "1", "2", "3", "4"]
    assert ticks(line_chart({"Cases": [(month, None) for month in months]}, title="Nothing",
                            number_format=lambda v: f"{v:g}")) == ["0", "1", "2", "3", "4"]
    fractions = ticks(line_chart({"Million": [(months[0], 0.2), (months[1], 0.75)]}, title="Amounts",
                                 number_format=lambda v: f"{v:g}"))
    assert fractions[:3] == ["0", "0.2", "0.4"]
    axis = list(_parse(bar_chart([("One", 1), ("Two", 2)], title="Few", number_format=lambda v: f"{v:g}")))[-1]
    assert [node.text for node in axis] == ["0", "1", "2", "3", "4"]


def test_a_long_bar_label_is_shortened_to_fit_and_kept_whole_in_its_title():
    name = "Care allowance for a child with a disability, paid to the parent who looks after the child"
    root = _parse(bar_chart([(name, 11)], title="Programmes", number_format=str))
    label = next(node.text for node in root.iter(f"{SVG}text") if node.get("font-size") == "17")
    assert label.endswith("…") and name.startswith(label[:-1]) and len(label) * 17 * 0.58 <= 400
    assert f"{name}: 11" in [node.text for node in root.iter(f"{SVG}title")]
