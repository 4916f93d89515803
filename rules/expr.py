"""The rule expression language: parsed once into a small tree, never handed to Python's `eval`.

Grammar: names, numbers, `true`/`false`, `+ - * /`, comparisons (`< <= > >= == !=`, not chained),
`and`/`or`/`not`, parentheses, and the functions `min(a, b, …)`, `max(a, b, …)` and, over the members of a
household, `count(condition)` and `sum(number)`. The tree is evaluated by the scalar evaluator here, by the
vectorised one in `rules.vectorised`, and compiled to durable_rules conditions in `rules.durable`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
ARITHMETIC = ("+", "-", "*", "/")
FUNCTIONS = {"min": "number", "max": "number", "count": "number", "sum": "number"}
AGGREGATES = ("count", "sum")
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|"
                    r"(?P<op><=|>=|==|!=|[-+*/<>(),]))")
_KEYWORDS = {"and", "or", "not", "true", "false"}


class ExprError(ValueError):
    """A malformed expression; the message says where."""


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Not:
    operand: object


@dataclass(frozen=True)
class Neg:
    operand: object


@dataclass(frozen=True)
class Binary:
    op: str  # one of ARITHMETIC, COMPARISONS, "and", "or"
    left: object
    right: object


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            offending = position + len(text[position:]) - len(text[position:].lstrip())
            raise ExprError(f"unexpected character {text[offending]!r} at position {offending + 1}")
        kind = match.lastgroup
        value = match.group(kind)
        tokens.append(("keyword" if kind == "name" and value in _KEYWORDS else kind, value))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExprError(f"unexpected end of expression{f', expected {value!r}' if value else ''}")
        if value is not None and token[1] != value:
            raise ExprError(f"expected {value!r}, found {token[1]!r}")
        self.position += 1
        return token

    def accept(self, *values: str) -> str | None:
        token = self.peek()
        if token is not None and token[1] in values and token[0] in ("op", "keyword"):
            self.position += 1
            return token[1]
        return None

    def parse(self):
        node = self.disjunction()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} after a complete expression")
        return node

    def disjunction(self):
        node = self.conjunction()
        while self.accept("or"):
            node = Binary("or", node, self.conjunction())
        return node

    def conjunction(self):
        node = self.negation()
        while self.accept("and"):
            node = Binary("and", node, self.negation())
        return node

    def negation(self):
        if self.accept("not"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self):
        node = self.additive()
        op = self.accept(*COMPARISONS)
        if op:
            node = Binary(op, node, self.additive())
            if self.peek() is not None and self.peek()[1] in COMPARISONS:
                raise ExprError("comparisons cannot be chained; join them with 'and'")
        return node

    def additive(self):
        node = self.multiplicative()
        while op := self.accept("+", "-"):
            node = Binary(op, node, self.multiplicative())
        return node

    def multiplicative(self):
        node = self.unary()
        while op := self.accept("*", "/"):
            node = Binary(op, node, self.unary())
        return node

    def unary(self):
        if self.accept("-"):
            return Neg(self.unary())
        return self.atom()

    def atom(self):
        kind, value = self.take()
        if kind == "number":
            return Num(float(value))
        if kind == "keyword" and value in ("true", "false"):
            return Bool(value == "true")
        if kind == "name":
            if self.accept("("):
                return self.call(value)
            return Name(value)
        if value == "(":
            node = self.disjunction()
            self.take(")")
            return node
        raise ExprError(f"unexpected {value!r}")

    def call(self, fn: str):
        if fn not in FUNCTIONS:
            raise ExprError(f"unknown function {fn!r} (known: {', '.join(FUNCTIONS)})")
        args = [self.disjunction()]
        while self.accept(","):
            args.append(self.disjunction())
        self.take(")")
        if fn in AGGREGATES and len(args) != 1:
            raise ExprError(f"{fn}() takes exactly one argument")
        if fn not in AGGREGATES and len(args) < 2:
            raise ExprError(f"{fn}() takes at least two arguments")
        return Call(fn, tuple(args))


def parse(text: str):
    """Parse an expression (or a bare number) into its tree; raises ExprError."""
    if isinstance(text, bool):
        return Bool(text)
    if isinstance(text, int | float):
        return Num(float(text))
    if not isinstance(text, str) or not text.strip():
        raise ExprError("empty expression")
    return _Parser(text).parse()


@cache
def names(node) -> tuple[str, ...]:
    """Every name the expression reads, in order of first appearance (aggregate arguments included)."""
    found: list[str] = []

    def visit(item):
        if isinstance(item, Name) and item.id not in found:
            found.append(item.id)
        for child in children(item):
            visit(child)

    visit(node)
    return tuple(found)


def children(node) -> tuple:
    if isinstance(node, Not | Neg):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def divide(left: float, right: float) -> float:
    """IEEE division, as numpy does it, so the scalar and vectorised engines agree even on a zero divisor."""
    if right != 0:
        return left / right
    if left == 0 or math.isnan(left):
        return math.nan
    return math.copysign(math.inf, left) * math.copysign(1.0, right)


_SCALAR_OPS = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b, "/": divide,
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def evaluate(node, env, members=None):
    """Evaluate for one household (or one member): `env` maps names to floats and bools.

    `members` is the list of member environments that `count()` and `sum()` range over.
    """
    entry = _COMPILED.get(id(node))
    if entry is None or entry[0] is not node:  # keyed by identity: hashing a whole tree per call costs more
        entry = _COMPILED[id(node)] = (node, compile_scalar(node))
    return entry[1](env, members)


_COMPILED: dict[int, tuple] = {}


@cache
def compile_scalar(node):
    """The tree turned once into nested closures (no eval, no source text): fn(env, members) → value."""
    if isinstance(node, Num | Bool):
        value = node.value
        return lambda env, members: value
    if isinstance(node, Name):
        key = node.id
        return lambda env, members: env[key]
    if isinstance(node, Not):
        operand = compile_scalar(node.operand)
        return lambda env, members: not operand(env, members)
    if isinstance(node, Neg):
        operand = compile_scalar(node.operand)
        return lambda env, members: -operand(env, members)
    if isinstance(node, Binary):
        return _compile_binary(node)
    return _compile_call(node)


def _compile_binary(node: Binary):
    left, right = compile_scalar(node.left), compile_scalar(node.right)
    if node.op == "and":
        return lambda env, members: bool(left(env, members)) and bool(right(env, members))
    if node.op == "or":
        return lambda env, members: bool(left(env, members)) or bool(right(env, members))
    op = _SCALAR_OPS[node.op]
    return lambda env, members: op(left(env, members), right(env, members))


def _compile_call(node: Call):
    args = [compile_scalar(arg) for arg in node.args]
    if node.fn == "count":
        test = args[0]
        return lambda env, members: float(sum(1 for member in members if test(member, None)))
    if node.fn == "sum":
        term = args[0]
        return lambda env, members: float(sum(term(member, None) for member in members))
    pick = min if node.fn == "min" else max

    def extreme(env, members):
        values = [float(arg(env, members)) for arg in args]
        # numpy's minimum/maximum propagate NaN; Python's min/max may drop it: follow numpy, as the batch engine does
        return math.nan if any(math.isnan(value) for value in values) else pick(values)

    return extreme


def to_text(node) -> str:
    """The expression written back as text (used for hoisted names and messages)."""
    if isinstance(node, Num):
        return f"{node.value:g}"
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Not):
        return f"not ({to_text(node.operand)})"
    if isinstance(node, Neg):
        return f"-({to_text(node.operand)})"
    if isinstance(node, Binary):
        return f"({to_text(node.left)} {node.op} {to_text(node.right)})"
    return f"{node.fn}({', '.join(to_text(arg) for arg in node.args)})"
