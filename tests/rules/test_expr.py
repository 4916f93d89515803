"""The expression language: its grammar and precedence, its error messages, scalar evaluation (with numpy's
division semantics) and `names`; and that it never reaches Python's eval."""

from __future__ import annotations

import ast
import builtins
import inspect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules import expr
from rules.expr import Binary, Bool, Call, ExprError, Name, Neg, Not, Num, evaluate, names, parse

a, b, c, d = Name("a"), Name("b"), Name("c"), Name("d")


@pytest.mark.parametrize("text, tree", [
    ("1 + 2 * 3", Binary("+", Num(1.0), Binary("*", Num(2.0), Num(3.0)))),
    ("(1 + 2) * 3", Binary("*", Binary("+", Num(1.0), Num(2.0)), Num(3.0))),
    ("a - b - c", Binary("-", Binary("-", a, b), c)),
    ("a / b / c", Binary("/", Binary("/", a, b), c)),
    ("a / (b / c)", Binary("/", a, Binary("/", b, c))),
    ("a * b + c / d", Binary("+", Binary("*", a, b), Binary("/", c, d))),
    ("-a * b", Binary("*", Neg(a), b)),
    ("-(a * b)", Neg(Binary("*", a, b))),
    ("a - -b", Binary("-", a, Neg(b))),
    ("--a", Neg(Neg(a))),
    ("a + b > c * d", Binary(">", Binary("+", a, b), Binary("*", c, d))),
    ("a >= 2.5", Binary(">=", a, Num(2.5))),
    ("not a and b", Binary("and", Not(a), b)),
    ("not (a and b)", Not(Binary("and", a, b))),
    ("not a > b", Not(Binary(">", a, b))),
    ("not not a", Not(Not(a))),
    ("a or b and c", Binary("or", a, Binary("and", b, c))),
    ("(a or b) and c", Binary("and", Binary("or", a, b), c)),
    ("a and b or c and d", Binary("or", Binary("and", a, b), Binary("and", c, d))),
    ("a == true", Binary("==", a, Bool(True))),
    ("a != false", Binary("!=", a, Bool(False))),
    ("min(a, b, 3)", Call("min", (a, b, Num(3.0)))),
    ("max(a - 1, 0) / b", Binary("/", Call("max", (Binary("-", a, Num(1.0)), Num(0.0))), b)),
    ("count(a and b > 1)", Call("count", (Binary("and", a, Binary(">", b, Num(1.0))),))),
    ("sum(a * 2)", Call("sum", (Binary("*", a, Num(2.0)),))),
    ("  a\t<=\nb  ", Binary("<=", a, b)),
    ("andrew or notable", Binary("or", Name("andrew"), Name("notable"))),  # keywords only as whole words
])
def test_parse_builds_the_tree_with_the_usual_precedence(text, tree):
    assert parse(text) == tree


@pytest.mark.parametrize("value, tree", [(3, Num(3.0)), (2.5, Num(2.5)), (True, Bool(True)), (False, Bool(False))])
def test_yaml_scalars_parse_as_constants(value, tree):
    assert parse(value) == tree


@pytest.mark.parametrize("text, message", [
    ("a$b", "unexpected character '$' at position 2"),
    ("a.b", "unexpected character '.' at position 2"),
    ("$", "unexpected character '$' at position 1"),
    ("a==1=", "unexpected character '=' at position 5"),
    ("x[0] > 1", "unexpected character '[' at position 2"),
    ("(a + b", "unexpected end of expression, expected ')'"),
    ("((a)", "unexpected end of expression, expected ')'"),
    ("a + b)", "unexpected ')' after a complete expression"),
    (")", "unexpected ')'"),
    ("a +", "unexpected end of expression"),
    ("a b", "unexpected 'b' after a complete expression"),
    ("avg(a, b)", "unknown function 'avg' (known: min, max, count, sum)"),
    ("min(a)", "min() takes at least two arguments"),
    ("max(a)", "max() takes at least two arguments"),
    ("count(a, b)", "count() takes exactly one argument"),
    ("sum(a, b)", "sum() takes exactly one argument"),
    ("min(a, b", "unexpected end of expression, expected ')'"),
    ("a < b < c", "comparisons cannot be chained; join them with 'and'"),
    ("a == b != c", "comparisons cannot be chained; join them with 'and'"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    (None, "empty expression"),
])
def test_parse_errors_say_what_is_wrong(text, message):
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("text, position", [("a $ b", 3), ("a   = 1", 5), ("  @", 3)])
def test_the_position_of_an_unexpected_character_counts_the_spaces_before_it(text, position):
    with pytest.raises(ExprError) as caught:
        parse(text)
    assert str(caught.value).endswith(f"at position {position}")


@pytest.mark.parametrize("text", [
    "__import__('os')", "__import__('os').system('true')", "os.system('true')", "open('/etc/passwd')",
    "(lambda: 1)()", "a if b else c", "[x for x in a]", "'text'", "a ** 2", "a % 2", "a // 2", "1e3 > a",
])
def test_python_is_not_an_expression(text):
    with pytest.raises(ExprError):
        parse(text)


def test_the_module_never_calls_eval_exec_or_compile(monkeypatch):
    tree = ast.parse(inspect.getsource(expr))
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__"}

    def refuse(*args, **kwargs):
        raise AssertionError("Python's eval/exec/compile was used")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, refuse)
    node = parse("max(a - 1, 0) / b > 2 and not (count(c) == 0)")
    assert evaluate(node, {"a": 9.0, "b": 2.0}, [{"c": True}, {"c": False}]) is True
    assert list(names(node)) == ["a", "b", "c"]


ENV = {"a": 6.0, "b": 4.0, "c": -2.0, "yes": True, "no": False}


@pytest.mark.parametrize("text, value", [
    ("1 + 2 * 3", 7.0), ("(1 + 2) * 3", 9.0), ("10 - 4 - 3", 3.0), ("24 / 4 / 2", 3.0), ("a / b", 1.5),
    ("-a * b", -24.0), ("a - -c", 4.0), ("-(a - b) * c", 4.0), ("min(a, b, c)", -2.0), ("max(a, b, c)", 6.0),
    ("max(c, 0)", 0.0), ("a >= 6", True), ("a > 6", False), ("a == 6", True), ("a != 6", False),
    ("b <= a", True), ("b < a", True), ("1 == 1.0", True), ("yes and no", False), ("yes or no", True),
    ("not yes or yes", True), ("not (yes or yes)", False), ("no == false", True), ("yes != true", False),
    ("a > b and b > c", True), ("a > b and b < c", False), ("true", True), ("3", 3.0),
])
def test_evaluate(text, value):
    result = evaluate(parse(text), ENV)
    assert result == value and type(result) is type(value)


MEMBERS = [{"age": 40.0, "adult": True, "income": 100.0}, {"age": 10.0, "adult": False, "income": 0.0},
           {"age": 70.0, "adult": True, "income": 50.5}]


@pytest.mark.parametrize("text, value", [
    ("count(adult)", 2.0), ("count(age < 18)", 1.0), ("count(adult and income > 60)", 1.0), ("count(false)", 0.0),
    ("sum(income)", 150.5), ("sum(income) / count(adult)", 75.25), ("sum(age * 2) - limit", 230.0),
    ("count(age > limit)", 2.0),  # a household value seen from each member
])
def test_count_and_sum_range_over_the_members(text, value):
    household = {"limit": 10.0}
    result = evaluate(parse(text), household, [{**household, **member} for member in MEMBERS])
    assert result == value and isinstance(result, float)


def test_aggregates_over_no_members_are_zero():
    assert evaluate(parse("count(adult) + sum(income)"), {}, []) == 0.0


def same_float(x, y) -> bool:
    return (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))


SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, math.inf, -math.inf, math.nan, 1e308, 5e-324]


@pytest.mark.parametrize("left", SPECIAL)
@pytest.mark.parametrize("right", SPECIAL)
def test_division_is_numpys_even_by_zero(left, right):
    with np.errstate(all="ignore"):
        expected = float(np.true_divide(np.float64(left), np.float64(right)))
    assert same_float(expr.divide(left, right), expected)
    assert same_float(evaluate(parse("a / b"), {"a": left, "b": right}), expected)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_division_is_numpys_for_any_floats(left, right):
    with np.errstate(all="ignore"):
        expected = float(np.true_divide(np.float64(left), np.float64(right)))
    assert same_float(expr.divide(left, right), expected)


@pytest.mark.parametrize("text, zero", [("a / 0", math.inf), ("-a / 0", -math.inf), ("0 / 0", math.nan),
                                        ("a / (b - b)", math.inf), ("c / 0", -math.inf)])
def test_division_by_zero_in_an_expression(text, zero):
    assert same_float(evaluate(parse(text), ENV), zero)



@pytest.mark.parametrize("text", [
    "max(a / b, 0)", "min(a / b, 0)",
    "max(0, a / b)", "min(0, a / b)",
])
def test_min_and_max_treat_nan_as_numpy_does(text):
    env = {"a": 0.0, "b": 0.0}
    reduce = np.maximum if text.startswith("max") else np.minimum
    with np.errstate(all="ignore"):
        expected = float(reduce(np.float64(0.0), np.true_divide(0.0, 0.0)))
    assert same_float(evaluate(parse(text), env), expected)


@pytest.mark.parametrize("text, found", [
    ("a + b * a", ["a", "b"]),
    ("count(child and age < limit) + limit > members", ["child", "age", "limit", "members"]),
    ("max(x, 1) / sum(income)", ["x", "income"]),
    ("not flag or 3 > 2", ["flag"]),
    ("true", []),
    ("2 * 3", []),
])
def test_names_in_order_of_first_appearance(text, found):
    assert list(names(parse(text))) == found


@pytest.mark.parametrize("text", ["1 + 2 * 3", "(a or b) and not c", "-(a - b) / min(c, 2.5)", "count(a > 1) <= d"])
def test_to_text_reads_back_as_the_same_tree(text):
    assert parse(expr.to_text(parse(text))) == parse(text)
