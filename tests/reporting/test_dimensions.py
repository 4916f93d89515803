"""The words of the reporting summary's dimensions and values, in each language: no code reaches a reader."""

from __future__ import annotations

import pytest

from modules.reporting import summary
from modules.reporting.dimensions import Labels, dimension_codes, label
from webapp.extensions import db
from webapp.models import Programme


def test_every_dimension_has_a_name_in_each_language():
    for language in ("uz", "ru", "en"):
        labels = Labels(language)
        for dimension in summary.DIMENSIONS:
            assert labels.dimension(dimension) and labels.dimension(dimension) != dimension
    assert Labels("en").dimension("age_band") == "Age band"
    assert Labels("en").dimension("period") == "Month"


def test_fixed_values_in_english():
    labels = Labels("en")
    assert [labels.value("sex", code) for code in dimension_codes("sex")] == ["Women", "Men"]
    assert [labels.value("age_band", code) for code in dimension_codes("age_band")] == [
        "0–2 years", "3–5 years", "6–17 years", "18–29 years", "30–59 years", "60 and older"]
    assert [labels.value("household_size", size) for size in dimension_codes("household_size")] == [
        "1 person", "2 people", "3 people", "4 people", "5 people", "6 or more people"]


@pytest.mark.parametrize(("indicator", "code", "word"), [
    ("new_entrants", "claim", "new application"),
    ("new_entrants", "change", "change of circumstances"),
    ("new_entrants", "appeal", "appeal"),
    ("new_entrants", "returning", "returning after a break"),
    ("exits", "death", "death"),
    ("exits", "stopped", "stopped by a decision"),
    ("exits", "term_ended", "granted period ended"),
    ("cases_received", "update", "Update of circumstances"),
    ("cases_overdue", "appeal", "Appeal"),
    ("refusal_reasons", "income_above_threshold", "Not met: Income per person within the threshold"),
])
def test_reasons_read_by_what_the_indicator_puts_there(indicator, code, word):
    assert Labels("en").value("reason", code, indicator) == word


def test_every_reason_code_has_a_word():
    labels = Labels("ru")
    for code in (*summary.ENTRY_REASONS, *summary.EXIT_REASONS, "enquiry", "update", "alert", "grievance"):
        assert labels.value("reason", code) != code


def test_refusal_rules_take_the_pack_title_in_the_language_as_a_condition_not_met():
    assert Labels("ru").value("reason", "income_above_threshold", "refusal_reasons") == \
        "Не выполнено: Доход на члена семьи не выше порога"
    assert Labels("uz").value("reason", "car_too_new", "refusal_reasons") == \
        "Bajarilmagan: Chegaradan yangi yengil avtomobil yoʻq"
    assert Labels("en").value("reason", "no_such_rule", "refusal_reasons") == "Not met: no_such_rule"


def test_programmes_regions_and_districts_are_named_from_their_rows():
    programme = db.session.query(Programme).filter_by(code="child_allowance").one()
    assert Labels("ru").value("programme", "child_allowance") == programme.name_ru
    assert Labels("en").value("programme", "child_allowance") == programme.name_en
    assert Labels("ru").value("region", "UZ-TK") == "город Ташкент"
    assert Labels("uz").value("region", "UZ-TK") == "Toshkent shahri"
    assert Labels("en").value("district", "UZ-TK-02") == "Chilanzar District"
    assert Labels("en").value("region", "UZ-XX") == "UZ-XX"


def test_names_are_read_in_one_query_per_dimension(app):
    from sqlalchemy import event, select

    labels = Labels("en")
    db.session.execute(select(1))  # the test's transaction is begun before counting
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for code in ("UZ-TK", "UZ-SA", "UZ-AN", "UZ-TK"):
            labels.value("region", code)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_none_reads_not_applicable_and_a_missing_programme_all_programmes():
    labels = Labels("en")
    assert labels.value("sex", None) == "not applicable"
    assert labels.value("district", None) == "not applicable"
    assert labels.value("programme", None) == "All programmes"


def test_months_are_written_in_words():
    assert Labels("en").value("period", "2026-01") == "January 2026"
    assert "2026" in Labels("ru").value("period", "2026-01")
    assert Labels("en").value("period", "2026-13") == "2026-13"


def test_russian_words_differ_from_the_codes():
    labels = Labels("ru")
    for dimension in ("sex", "age_band", "household_size"):
        for code in dimension_codes(dimension):
            assert labels.value(dimension, code) != str(code)


def test_label_in_one_call():
    assert label("sex", "F", "en") == "Women"
    assert label("reason", "death", "en", "exits") == "death"
