r"""Formulas that users type: a small, safe expression language.

One language serves three places: a loss surface in ``x`` and ``y``
(``(1-x)^2 + b*(y-x^2)^2``), a learning-rate lambda for torch's ``LambdaLR`` and
``MultiplicativeLR`` in ``epoch`` (``(1+epoch)^-0.5``, ``0.95^epoch``), and
CyclicLR's ``scale_fn`` in ``x``. The caller names the variables and the
parameters; a parsed :class:`Expr` evaluates on torch tensors (autograd-friendly)
or on Python floats, and renders itself as LaTeX.

Nothing a user types reaches Python's evaluator. The text is checked character by
character and token by token, parsed with :mod:`ast` (which builds a tree and
runs nothing), and every node is checked against a whitelist before it becomes
a closure over torch and :mod:`math` functions.

The language
------------
* Numbers: ``2``, ``0.5``, ``.5``, ``1e-3``, ``2.5E+4``. Every number is a float
  (no integer arithmetic, so ``9^9^9^9`` is ``inf``, not a hang). No ``1_000``,
  hex or complex literals.
* Arithmetic: ``+ - * /``, power ``^`` or ``**``, and Python's floor division
  ``//`` and remainder ``%`` (handy in schedules: ``0.5^(epoch//10)``).
  Precedence is Python's, which is the mathematician's: power binds tightest
  and groups to the right (``2^3^2 == 512``), then unary minus
  (``-x^2 == -(x^2)``, ``2^-1 == 0.5``), then ``* / // %``, then ``+ -``, all
  left to right.
* Comparisons ``< <= > >= == !=`` (chains such as ``0 < x < 1`` mean what they
  say), joined by ``and``, ``or``, ``not``. They give true or false, which only
  ``where``'s first argument accepts.
* Functions: ``sin cos tan arcsin arccos arctan sinh cosh tanh exp log log1p
  log2 log10 sqrt abs floor ceil`` (one argument; ``log`` is the natural
  logarithm; ``asin acos atan`` are read as ``arcsin arccos arctan``),
  ``min(a, b, ...)`` and ``max(a, b, ...)`` (two or more), ``clip(v, lo, hi)``
  (``min(max(v, lo), hi)``), ``where(condition, if_true, if_false)``.
* Constants ``pi`` and ``e``; the caller's variables (``x, y`` or ``epoch``) and
  named parameters (``a``, ``b``, ...).
* Plain ASCII on one line (blanks around it are dropped): other characters,
  Unicode look-alikes included (fullwidth ``ｘ``, Cyrillic ``х``, ``ℯ``), are
  refused with their name rather than normalised, so what is checked is what is
  shown. Typeset maths gets a hint: ``−`` (minus sign), ``×``, ``²``, ``π``.
* Limits: 500 characters, nesting 40 deep (parentheses, calls, powers, signs),
  300 parts (numbers, names and operators).

Arithmetic follows the backend: :meth:`Expr.torch` uses torch's operators in
the order written, so it equals the same formula written by hand in torch, bit
for bit; :meth:`Expr.value` uses Python floats and :mod:`math`, as a Python
lambda would, except that it never raises: overflow gives ``±inf``, division by
zero ``±inf`` (``nan`` for ``0/0``), and a point outside a function's domain
(``log(-1)``, ``sqrt(-1)``, ``(-8)^(1/3)``) gives ``nan``, as torch does.
``where`` computes both branches, as ``torch.where`` does (so a ``nan`` in the
branch not taken still reaches the gradient, as in hand-written torch); ``//``
has a zero gradient.

Errors are :class:`FormulaError` (a ``ConfigError``); the message says what is
wrong and where, with the column and a caret line under the formula. Its
``text``, ``column`` and ``reason`` let a page draw its own pointer.
"""

from __future__ import annotations

import ast
import difflib
import keyword
import math
import operator
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from .params import ConfigError

__all__ = ["CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_NODES", "Expr", "FormulaError", "parse"]

MAX_LENGTH = 500
MAX_DEPTH = 40
MAX_NODES = 300

CONSTANTS = {"pi": math.pi, "e": math.e}

_UNARY_NAMES = (
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
    "exp", "log", "log1p", "log2", "log10", "sqrt", "abs", "floor", "ceil",
)  # fmt: skip
# name -> (fewest, most) arguments; None: no upper bound.
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    **dict.fromkeys(_UNARY_NAMES, (1, 1)),
    "min": (2, None),
    "max": (2, None),
    "clip": (3, 3),
    "where": (3, 3),
}
_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}
# Names people reach for that the language spells differently.
_SUGGEST = {
    "ln": "log (the natural logarithm)",
    "pow": "a^b",
    "power": "a^b",
    "clamp": "clip(v, lo, hi)",
    "minimum": "min",
    "maximum": "max",
    "mod": "a % b",
    "fabs": "abs",
}

_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


class FormulaError(ConfigError):
    """A formula cannot be read; the message says what is wrong and where.

    Attributes:
        reason: what is wrong, without the pointer lines.
        text: the formula as read (surrounding blanks stripped), or None.
        column: 1-based column of the problem in ``text``, or None when the
            formula as a whole is at fault (too long, empty).
    """

    def __init__(self, reason: str, text: str | None = None, column: int | None = None):
        self.reason, self.text, self.column = reason, text, column
        super().__init__(reason + _pointer(text, column))


def _pointer(text: str | None, column: int | None) -> str:
    """The formula and a caret under ``column``, cut to a window around it."""
    if text is None or column is None:
        return ""
    width = 72
    start = max(0, min(column - 1 - width // 2, len(text) - width))
    line = "".join(c if _printable(c) else "?" for c in text[start : start + width])
    lead = "..." if start else ""
    tail = "..." if start + width < len(text) else ""
    return f"\n{lead}{line}{tail}\n{' ' * (len(lead) + column - 1 - start)}^"


def _printable(c: str) -> bool:
    # Control, format (bidi overrides) and line-separator characters would
    # scramble the pointer lines.
    return unicodedata.category(c)[0] not in "CZ" or c == " "


def _short(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[:limit] + "..."


# ---------------------------------------------------------------- characters

_ALLOWED_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ +-*/%^().,<>=!")
# What a refused character is called, and what to do instead.
_CHAR_REASONS = {
    "#": ("'#'", "a formula has no comments"),
    ";": ("';'", "a formula is one expression"),
    "'": ("a quote", "a formula has no strings"),
    '"': ("a quote", "a formula has no strings"),
    "[": ("'['", "group with parentheses"),
    "]": ("']'", "group with parentheses"),
    "{": ("'{'", "group with parentheses"),
    "}": ("'}'", "group with parentheses"),
    "\\": ("a backslash", ""),
    "&": ("'&'", "write 'and'"),
    "|": ("'|'", "write 'or', or abs(v) for an absolute value"),
    "~": ("'~'", "write 'not'"),
    "?": ("'?'", "write where(condition, a, b)"),
    "=": ("'='", "compare with '=='"),
    "!": ("'!'", "write 'not', or '!=' to compare"),
    ".": ("'.' (attribute access)", ""),
    "\t": ("a tab", "use spaces"),
    "\n": ("a line break", "write the formula on one line"),
    "\r": ("a line break", "write the formula on one line"),
}


def _refuse_char(text: str, i: int) -> FormulaError:
    c = text[i]
    subject, why = _CHAR_REASONS.get(c, (f"'{c}'", ""))
    return FormulaError(f"{subject} at column {i + 1} is not allowed{': ' + why if why else ''}", text, i + 1)


# Characters pasted from typeset maths, with what to type instead.
_TYPESET = {
    "\u2212": "-", "\u2013": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*", "\u2217": "*",
    "\u00f7": "/", "\u2215": "/", "\u03c0": "pi", "\u00b2": "^2", "\u00b3": "^3", "\u221a": "sqrt(...)",
    "\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u00a0": "a plain space",
}  # fmt: skip


def _check_characters(text: str) -> None:
    for i, c in enumerate(text):
        if c in _ALLOWED_CHARS:
            continue
        at = f"at column {i + 1}"
        if ord(c) < 128 and c.isprintable():
            raise _refuse_char(text, i)
        code = f"U+{ord(c):04X}"
        name = unicodedata.name(c, "")
        label = f"{code} {name}".strip()
        if c in _TYPESET:
            hint = _TYPESET[c] if c == "\u00a0" else f"'{_TYPESET[c]}'"
            raise FormulaError(f"'{c}' ({label}) {at} is not allowed: type {hint} instead", text, i + 1)
        if c in _CHAR_REASONS:
            raise _refuse_char(text, i)
        if not _printable(c):
            raise FormulaError(f"the invisible or control character {label} {at} is not allowed", text, i + 1)
        # Look-alikes are refused, not normalised (Python's parser would read
        # fullwidth 'ｅｖａｌ' as 'eval'), but we say what was probably meant.
        plain = unicodedata.normalize("NFKC", c)
        hint = f"; type '{plain}' instead" if plain.isascii() and plain.isprintable() else ""
        raise FormulaError(
            f"'{c}' ({label}) {at} is not allowed: formulas are plain ASCII{hint}", text, i + 1
        )


# ---------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"(?P<space> +)"
    r"|(?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|//|<=|>=|==|!=|[-+*/%^(),<>])"
)
_LOGIC_WORDS = ("and", "or", "not")


@dataclass(frozen=True)
class _Token:
    kind: str  # "number", "name", "op"
    text: str
    start: int  # 0-based column in the formula

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def ends_operand(self) -> bool:
        return (
            self.kind == "number"
            or self.text == ")"
            or (self.kind == "name" and self.text not in _LOGIC_WORDS)
        )

    def starts_operand(self) -> bool:
        return self.kind in ("number", "name") and self.text not in ("and", "or") or self.text == "("


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        m = _TOKEN_RE.match(text, i)
        if m is None:
            raise _refuse_char(text, i)
        if m.lastgroup != "space":
            out.append(_Token(m.lastgroup, m.group(), i))
        i = m.end()
    return out


def _check_tokens(text: str, tokens: list[_Token]) -> None:
    """Refuse what the token sequence alone shows to be wrong, with a pointer.

    Python's parser would refuse most of it too, but with messages written for
    programs ("Perhaps you forgot a comma?"); these are written for formulas.
    """

    def fail(what: str, tok: _Token, why: str = "") -> None:
        raise FormulaError(f"{what} at column {tok.start + 1}{why}", text, tok.start + 1)

    stack: list[tuple[_Token, bool]] = []  # open parentheses: (token, is a call)
    prev: _Token | None = None
    for tok in tokens:
        if tok.kind == "name" and keyword.iskeyword(tok.text) and tok.text not in _LOGIC_WORDS:
            fail(f"'{tok.text}'", tok, " is Python, not part of the formula language")
        if prev is not None and prev.kind == "number" and tok.kind == "name" and prev.end == tok.start:
            glued = f"'{prev.text}{_short(tok.text)}'"
            if tok.text in ("j", "J"):
                fail(glued, prev, ": complex numbers are not allowed")
            if tok.text.startswith("_"):
                fail(glued, prev, ": write numbers without '_'")
            product = f"{prev.text}*{_short(tok.text)}"
            fail(glued, prev, f" is a number directly followed by a name: write {product} for a product")
        if tok.kind == "name" and tok.text.startswith("_"):
            fail(f"unknown name '{_short(tok.text)}'", tok, ": names cannot start with '_'")
        calls = prev is not None and prev.kind == "name" and tok.text == "("
        if prev is not None and prev.ends_operand() and tok.starts_operand() and not calls:
            hint = ": write * for a product" if tok.text != "not" else ""
            fail(f"missing operator between '{_short(prev.text)}' and '{_short(tok.text)}'", tok, hint)
        if tok.text == "(":
            stack.append((tok, prev is not None and prev.kind == "name" and prev.text not in _LOGIC_WORDS))
            if len(stack) > MAX_DEPTH:
                fail(f"parentheses nested deeper than {MAX_DEPTH} levels", tok)
        elif tok.text == ")":
            if not stack:
                fail("')'", tok, " has no matching '('")
            opened, is_call = stack.pop()
            if prev is opened and not is_call:
                fail("empty parentheses", opened)
            if prev is not None and prev.text == ",":
                fail("missing argument after ','", prev)
        elif tok.text == ",":
            if not stack or not stack[-1][1]:
                fail("','", tok, " is only allowed between a function's arguments")
            if prev is not None and prev.text in ("(", ","):
                fail("missing argument before ','", tok)
        prev = tok
    if stack:
        fail("'('", stack[-1][0], " is never closed")


# ---------------------------------------------------------------- tree

_SUM, _PROD = "sum", "prod"
_CMP_OPS = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BIN_OPS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%"}
_CHAIN_OF = {"+": _SUM, "-": _SUM, "*": _PROD, "/": _PROD, "//": _PROD, "%": _PROD}

# Precedence, lowest first; a child binding less tightly than its place needs
# gets parentheses when printed.
_OR, _AND, _NOT, _CMP, _SUMP, _PRODP, _NEG, _POW, _ATOM = range(1, 10)


@dataclass(frozen=True)
class Num:
    value: float
    text: str
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Name:
    id: str
    kind: str  # "variable", "param" or "constant"
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Neg:
    operand: Node
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Chain:
    """``first op1 t1 op2 t2 ...`` for one precedence level, evaluated left to right."""

    kind: str  # _SUM or _PROD
    first: Node
    rest: tuple[tuple[str, Node], ...]
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Pow:
    base: Node
    exp: Node
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Compare:
    first: Node
    rest: tuple[tuple[str, Node], ...]
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Logic:
    op: str  # "and" or "or"
    operands: tuple[Node, ...]
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Not:
    operand: Node
    col: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Call:
    fn: str
    args: tuple[Node, ...]
    col: int = field(default=0, compare=False)


Node = Num | Name | Neg | Chain | Pow | Compare | Logic | Not | Call
_CONDITIONS = (Compare, Logic, Not)

# What each refused Python construct is called in a message. The character and
# token checks catch all of them first; this is the second line of defence.
_REFUSED = {
    ast.Attribute: "'.' (attribute access)",
    ast.Subscript: "indexing with '[...]'",
    ast.Tuple: "a tuple",
    ast.List: "a list",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Starred: "'*' unpacking",
    ast.Lambda: "'lambda'",
    ast.IfExp: "'if ... else'",
    ast.NamedExpr: "':='",
    ast.JoinedStr: "a string",
    ast.Await: "'await'",
    ast.Yield: "'yield'",
    ast.YieldFrom: "'yield'",
}


class _Reader:
    """Turns a checked :mod:`ast` tree into our own tree, refusing anything else."""

    def __init__(self, text: str, src: str, origin: list[int], tokens: list[_Token], names: dict[str, str]):
        self.text, self.src, self.origin, self.tokens, self.names = text, src, origin, tokens, names
        self.count = 0

    def col(self, node: ast.AST) -> int:
        """0-based column in the user's text of where ``node`` starts."""
        return self.origin[min(node.col_offset, len(self.origin) - 1)]

    def op_col(self, left: ast.AST, right: ast.AST) -> int:
        """Column of the operator token between two operands."""
        lo, hi = self.origin[min(left.end_col_offset, len(self.origin) - 1)], self.col(right)
        for tok in self.tokens:
            if lo <= tok.start < hi and tok.text not in "()":
                return tok.start
        return lo

    def fail(self, reason: str, col: int, hint: str = "") -> FormulaError:
        return FormulaError(f"{reason} at column {col + 1}{hint}", self.text, col + 1)

    def tick(self, parts: int) -> None:
        self.count += parts
        if self.count > MAX_NODES:
            raise FormulaError(
                f"the formula has more than {MAX_NODES} parts (numbers, names and operators)", self.text
            )

    def read(self, node: ast.AST, depth: int = 0) -> Node:
        self.tick(1)
        if depth > MAX_DEPTH:
            raise self.fail(f"nested deeper than {MAX_DEPTH} levels", self.col(node))
        kind = type(node)
        if kind is ast.Constant:
            value = node.value
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.fail(
                    _REFUSED.get(kind, "a constant that is not a number"), self.col(node), " is not allowed"
                )
            literal = self.src[node.col_offset : node.end_col_offset]
            return Num(float(literal), literal, self.col(node))  # float(str) never overflows: 1e999 is inf
        if kind is ast.Name:
            return self.name(node)
        if kind is ast.UnaryOp:
            if type(node.op) is ast.Not:
                return Not(self.condition(node.operand, depth + 1, "'not'"), self.col(node))
            operand = self.number(node.operand, depth + 1, "a sign")
            if type(node.op) is ast.USub:
                return Neg(operand, self.col(node))
            if type(node.op) is ast.UAdd:
                return operand
        if kind is ast.BinOp:
            if type(node.op) is ast.Pow:
                base = self.number(node.left, depth + 1, "'^'")
                return Pow(
                    base, self.number(node.right, depth + 1, "'^'"), self.op_col(node.left, node.right)
                )
            if type(node.op) in _BIN_OPS:
                return self.chain(node, depth)
        if kind is ast.Compare:
            if not all(type(op) in _CMP_OPS for op in node.ops):
                raise self.fail(
                    "this comparison", self.op_col(node.left, node.comparators[0]), " is not allowed"
                )
            col = self.op_col(node.left, node.comparators[0])
            first = self.number(node.left, depth + 1, "a comparison")
            rest = tuple(
                (_CMP_OPS[type(op)], self.number(c, depth + 1, "a comparison"))
                for op, c in zip(node.ops, node.comparators)
            )
            return Compare(first, rest, col)
        if kind is ast.BoolOp:
            word = "and" if type(node.op) is ast.And else "or"
            col = self.op_col(node.values[0], node.values[1])
            return Logic(word, tuple(self.condition(v, depth + 1, f"'{word}'") for v in node.values), col)
        if kind is ast.Call:
            return self.call(node, depth)
        raise self.fail(_REFUSED.get(kind, f"'{kind.__name__}'"), self.col(node), " is not allowed")

    def number(self, node: ast.AST, depth: int, where: str) -> Node:
        out = self.read(node, depth)
        if isinstance(out, _CONDITIONS):
            raise self.fail(
                "a condition (true or false)",
                out.col,
                f" where {where} needs a number; use conditions only as where's first argument: "
                "where(x > 0, a, b)",
            )
        return out

    def condition(self, node: ast.AST, depth: int, where: str) -> Node:
        out = self.read(node, depth)
        if not isinstance(out, _CONDITIONS):
            raise self.fail("a number", out.col, f" where {where} needs a condition such as x > 0")
        return out

    def chain(self, node: ast.BinOp, depth: int) -> Chain:
        # Walk down the left spine without recursing: a long sum is one level deep.
        family = _CHAIN_OF[_BIN_OPS[type(node.op)]]
        links = []
        while (
            type(node) is ast.BinOp
            and type(node.op) in _BIN_OPS
            and _CHAIN_OF[_BIN_OPS[type(node.op)]] == family
        ):
            links.append((_BIN_OPS[type(node.op)], node.right))
            node = node.left
        self.tick(len(links) - 1)  # one part per operator; read() counted the first
        first = self.number(node, depth + 1, "arithmetic")
        rest = tuple((op, self.number(r, depth + 1, "arithmetic")) for op, r in reversed(links))
        return Chain(family, first, rest, first.col)

    def name(self, node: ast.Name) -> Name:
        name, col = node.id, self.col(node)
        kind = self.names.get(name)
        if kind is not None:
            return Name(name, kind, col)
        if name in FUNCTIONS or name in _ALIASES:
            raise self.fail(f"'{name}'", col, f" is a function: call it as {name}(...)")
        raise self.unknown(name, col, "name")

    def unknown(self, name: str, col: int, what: str) -> FormulaError:
        known = [*self.names, *FUNCTIONS, *_ALIASES]
        close = [n for n in known if n.lower() == name.lower()] or difflib.get_close_matches(
            name, known, 1, 0.75
        )
        hint = f"; did you mean {close[0]}?" if close else ""
        if name in _SUGGEST:
            hint = f"; write {_SUGGEST[name]}"
        return self.fail(f"unknown {what} '{_short(name)}'", col, f"{hint}\n{self.vocabulary()}")

    def vocabulary(self) -> str:
        groups = [
            ("variables", [n for n, k in self.names.items() if k == "variable"]),
            ("parameters", [n for n, k in self.names.items() if k == "param"]),
            ("constants", list(CONSTANTS)),
            ("functions", sorted(FUNCTIONS)),
        ]
        return "The formula may use " + "; ".join(f"the {g} {', '.join(ns)}" for g, ns in groups if ns) + "."

    def call(self, node: ast.Call, depth: int) -> Call:
        col = self.col(node)
        if type(node.func) is not ast.Name:
            raise self.fail("a call", col, ": calls only to the listed functions are allowed")
        name = _ALIASES.get(node.func.id, node.func.id)
        if name not in FUNCTIONS:
            if name in self.names:
                raise self.fail(f"'{name}'", col, f" is not a function: write {name}*(...) for a product")
            raise self.unknown(name, col, "function")
        if node.keywords:
            kw = node.keywords[0]
            what = f"the keyword argument '{kw.arg}='" if kw.arg else "'**' unpacking"
            raise self.fail(what, self.origin[kw.col_offset], " is not allowed")
        for a in node.args:
            if type(a) is ast.Starred:
                raise self.fail(_REFUSED[ast.Starred], self.col(a), " is not allowed")
        lo, hi = FUNCTIONS[name]
        n = len(node.args)
        if n < lo or (hi is not None and n > hi):
            want = {(1, 1): "1 argument", (3, 3): "3 arguments", (2, None): "at least 2 arguments"}[(lo, hi)]
            usage = {"where": " (condition, if_true, if_false)", "clip": " (v, lo, hi)"}.get(name, "")
            raise self.fail(name, col, f" takes {want}{usage}, got {n}")
        if name == "where":
            args = (
                self.condition(node.args[0], depth + 1, "where's first argument"),
                *(self.number(a, depth + 1, f"{name}'s argument") for a in node.args[1:]),
            )
        else:
            args = tuple(self.number(a, depth + 1, f"{name}'s argument") for a in node.args)
        return Call(name, args, col)


def _check_names(variables: Iterable[str], params: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {c: "constant" for c in CONSTANTS}
    for kind, group in (("variable", variables), ("param", params)):
        for name in group:
            label = "variable" if kind == "variable" else "parameter"
            if not isinstance(name, str) or not _NAME_RE.match(name) or keyword.iskeyword(name):
                raise FormulaError(
                    f"{label} name {name!r} must be letters, digits and '_', starting with a letter (ASCII)"
                )
            if name in FUNCTIONS or name in _ALIASES:
                raise FormulaError(f"{label} name '{name}' is taken by the function {name}")
            if name in names:
                taken = {"constant": "the constant", "variable": "a variable", "param": "a parameter"}[
                    names[name]
                ]
                raise FormulaError(f"{label} name '{name}' is already {taken}")
            names[name] = kind
    return names


def _syntax_error(text: str, origin: list[int], tokens: list[_Token], err: SyntaxError) -> FormulaError:
    """Python's syntax error, pointed at the user's text and said for formulas."""
    index = (err.offset or 0) - 1
    if index < 0 or index >= len(origin):
        last = tokens[-1].text if tokens else ""
        return FormulaError(
            f"the formula is incomplete: something is missing after '{last}'", text, len(text) + 1
        )
    col = origin[index]
    tok = next((t for t in tokens if t.start <= col < t.end), None)
    shown = tok.text if tok else text[col]
    return FormulaError(f"unexpected '{shown}' at column {col + 1}", text, col + 1)


# ---------------------------------------------------------------- evaluation
#
# One closure tree serves both backends: a value is a Python float (or bool, for
# conditions) or a torch tensor, and each operation dispatches on what it gets.
# Python's own operators already do the right thing for every mix except where
# float arithmetic raises; the float helpers below return inf or nan instead.

_INF, _NAN = math.inf, math.nan


def _odd_integer(b: float) -> bool:
    return math.fmod(b, 2.0) in (1.0, -1.0)


def _fdiv(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        return _NAN if a == 0 or math.isnan(a) else math.copysign(_INF, a) * math.copysign(1.0, b)


def _fpow(a: float, b: float) -> float:
    try:
        r = a**b
    except ZeroDivisionError:  # 0 to a negative power: C's pole, signed for odd powers of -0
        return math.copysign(_INF, a) if _odd_integer(b) else _INF
    except OverflowError:
        return -_INF if a < 0 and _odd_integer(b) else _INF
    return _NAN if isinstance(r, complex) else r  # a negative number to a fractional power


def _scalar_like(v: float, like: Tensor | None, shape: tuple[int, ...] = ()) -> Tensor:
    """``v`` as a tensor of ``like``'s dtype and device.

    Through float64 and a cast, so that 1e300 becomes inf in float32 as it does
    in arithmetic; torch.full, torch.where and torch.clamp would raise instead.
    """
    if like is None:
        return torch.full(shape, v)
    return like.new_full(shape, v, dtype=torch.float64).to(like.dtype)


def _div(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a / b
    return _fdiv(a, b)


def _floordiv(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        # torch's floor_divide has no gradient; div with rounding_mode is the same
        # kernel and differentiates to zero.
        if not isinstance(a, Tensor):
            a = _scalar_like(a, b)
        return torch.div(a, b, rounding_mode="floor")
    try:
        return a // b
    except ZeroDivisionError:
        return _fdiv(a, b)


def _mod(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a % b
    try:
        return a % b
    except ZeroDivisionError:
        return _NAN


def _pow(a, b):
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a**b
    return _fpow(a, b)


def _safe(fn: Callable[[float], float], overflow: Callable[[float], float] = lambda v: _INF):
    def f(v: float) -> float:
        try:
            return fn(v)
        except ValueError:  # outside the domain: sin(inf), arcsin(2)
            return _NAN
        except OverflowError:
            return overflow(v)

    return f


def _flog(fn: Callable[[float], float], pole: float = 0.0) -> Callable[[float], float]:
    def f(v: float) -> float:
        if v == pole:
            return -_INF
        return _NAN if v < pole else fn(v)  # nan passes through fn

    return f


def _fround(fn: Callable[[float], int]) -> Callable[[float], float]:
    def f(v: float) -> float:
        if not math.isfinite(v):
            return v
        r = float(fn(v))
        return math.copysign(r, v) if r == 0 else r  # torch keeps the sign of zero

    return f


_UNARY: dict[str, tuple[Callable, Callable[[float], float]]] = {
    "sin": (torch.sin, _safe(math.sin)),
    "cos": (torch.cos, _safe(math.cos)),
    "tan": (torch.tan, _safe(math.tan)),
    "arcsin": (torch.arcsin, _safe(math.asin)),
    "arccos": (torch.arccos, _safe(math.acos)),
    "arctan": (torch.arctan, math.atan),
    "sinh": (torch.sinh, _safe(math.sinh, lambda v: math.copysign(_INF, v))),
    "cosh": (torch.cosh, _safe(math.cosh)),
    "tanh": (torch.tanh, math.tanh),
    "exp": (torch.exp, _safe(math.exp)),
    "log": (torch.log, _flog(math.log)),
    "log1p": (torch.log1p, _flog(math.log1p, -1.0)),
    "log2": (torch.log2, _flog(math.log2)),
    "log10": (torch.log10, _flog(math.log10)),
    "sqrt": (torch.sqrt, lambda v: _NAN if v < 0 else math.sqrt(v)),
    "abs": (torch.abs, abs),
    "floor": (torch.floor, _fround(math.floor)),
    "ceil": (torch.ceil, _fround(math.ceil)),
}


def _unary(name: str) -> Callable[[Any], Any]:
    on_tensor, on_float = _UNARY[name]

    def f(v):
        return on_tensor(v) if isinstance(v, Tensor) else on_float(v)

    return f


def _extreme(pick_tensor: Callable, pick_float: Callable) -> Callable[[Any, Any], Any]:
    def f(a, b):
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            like = a if isinstance(a, Tensor) else b
            a, b = (v if isinstance(v, Tensor) else _scalar_like(v, like) for v in (a, b))
            return pick_tensor(a, b)
        return _NAN if math.isnan(a) or math.isnan(b) else pick_float(a, b)  # nan wins, as in torch

    return f


_minimum = _extreme(torch.minimum, min)
_maximum = _extreme(torch.maximum, max)


def _clip(v, lo, hi):
    if isinstance(v, Tensor):
        lo, hi = (b if isinstance(b, Tensor) else _scalar_like(b, v) for b in (lo, hi))
        return torch.clamp(v, lo, hi)
    return _minimum(_maximum(v, lo), hi)


def _where(c, a, b, like):
    if not isinstance(c, Tensor):
        return a if c else b
    a, b = (v if isinstance(v, Tensor) else _scalar_like(v, like) for v in (a, b))
    return torch.where(c, a, b)


def _logic(tensor_op: Callable, float_op: Callable) -> Callable[[Any, Any, Any], Any]:
    def f(a, b, like):
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            t = a if isinstance(a, Tensor) else b
            a, b = (v if isinstance(v, Tensor) else t.new_full((), v, dtype=torch.bool) for v in (a, b))
            return tensor_op(a, b)
        return float_op(a, b)

    return f


_and = _logic(torch.logical_and, lambda a, b: a and b)
_or = _logic(torch.logical_or, lambda a, b: a or b)


def _not(a):
    return torch.logical_not(a) if isinstance(a, Tensor) else not a


_CHAIN_FN = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _div,
    "//": _floordiv,
    "%": _mod,
}
_CMP_FN = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

Fn = Callable[[Mapping[str, Any], Any], Any]  # (values, like) -> float | bool | Tensor


def _lower(node: Node) -> tuple[Fn, bool]:
    """A closure computing ``node``, and whether it is constant.

    Constant parts (no variable, no parameter) are computed once, in Python
    floats, which is what hand-written code does with ``2**0.5 * x``.
    """
    fn, const = _lower_parts(node)
    if const:
        value = fn({}, None)
        return (lambda env, like: value), True
    return fn, False


def _lower_parts(node: Node) -> tuple[Fn, bool]:
    if isinstance(node, Num):
        value = node.value
        return (lambda env, like: value), True
    if isinstance(node, Name):
        if node.kind == "constant":
            value = CONSTANTS[node.id]
            return (lambda env, like: value), True
        key = node.id
        return (lambda env, like: env[key]), False
    if isinstance(node, (Neg, Not)):
        g, const = _lower(node.operand)
        if isinstance(node, Neg):
            return (lambda env, like: -g(env, like)), const
        return (lambda env, like: _not(g(env, like))), const
    if isinstance(node, Pow):
        (a, ca), (b, cb) = _lower(node.base), _lower(node.exp)
        return (lambda env, like: _pow(a(env, like), b(env, like))), ca and cb
    if isinstance(node, Chain):
        first, const = _lower(node.first)
        rest = []
        for op, t in node.rest:
            g, c = _lower(t)
            rest.append((_CHAIN_FN[op], g))
            const = const and c
        if len(rest) == 1:
            (op1, g1), f0 = rest[0], first
            return (lambda env, like: op1(f0(env, like), g1(env, like))), const

        def chain(env, like):
            acc = first(env, like)
            for op, g in rest:
                acc = op(acc, g(env, like))
            return acc

        return chain, const
    if isinstance(node, Compare):
        parts = [_lower(node.first)] + [_lower(t) for _, t in node.rest]
        fns, const = [p[0] for p in parts], all(p[1] for p in parts)
        ops = [_CMP_FN[op] for op, _ in node.rest]

        def compare(env, like):
            values = [f(env, like) for f in fns]  # each operand once, as Python's chains do
            out = ops[0](values[0], values[1])
            for i in range(1, len(ops)):
                out = _and(out, ops[i](values[i], values[i + 1]), like)
            return out

        return compare, const
    if isinstance(node, Logic):
        parts = [_lower(o) for o in node.operands]
        fns, const = [p[0] for p in parts], all(p[1] for p in parts)
        join = _and if node.op == "and" else _or

        def logic(env, like):
            out = fns[0](env, like)
            for f in fns[1:]:
                out = join(out, f(env, like), like)
            return out

        return logic, const
    assert isinstance(node, Call)
    parts = [_lower(a) for a in node.args]
    fns, const = [p[0] for p in parts], all(p[1] for p in parts)
    if node.fn in _UNARY:
        op, g = _unary(node.fn), fns[0]
        return (lambda env, like: op(g(env, like))), const
    if node.fn in ("min", "max"):
        pick = _minimum if node.fn == "min" else _maximum

        def extreme(env, like):
            out = fns[0](env, like)
            for f in fns[1:]:
                out = pick(out, f(env, like))
            return out

        return extreme, const
    a, b, c = fns
    if node.fn == "clip":
        return (lambda env, like: _clip(a(env, like), b(env, like), c(env, like))), const
    return (lambda env, like: _where(a(env, like), b(env, like), c(env, like), like)), const


# ---------------------------------------------------------------- printing


def _prec(node: Node) -> int:
    if isinstance(node, Chain):
        return _SUMP if node.kind == _SUM else _PRODP
    if isinstance(node, Logic):
        return _AND if node.op == "and" else _OR
    return {Neg: _NEG, Pow: _POW, Compare: _CMP, Not: _NOT}.get(type(node), _ATOM)


def _text(node: Node) -> str:
    """Python-and-maths syntax that parses back to the same tree."""

    def wrap(n: Node, need: int) -> str:
        s = _text(n)
        return s if _prec(n) >= need else f"({s})"

    if isinstance(node, Num):
        return node.text
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Neg):
        return "-" + wrap(node.operand, _NEG)
    if isinstance(node, Pow):
        return wrap(node.base, _ATOM) + "^" + wrap(node.exp, _NEG)
    if isinstance(node, Chain):
        if node.kind == _SUM:
            return wrap(node.first, _SUMP) + "".join(f" {op} {wrap(t, _PRODP)}" for op, t in node.rest)
        return wrap(node.first, _PRODP) + "".join(f"{op}{wrap(t, _NEG)}" for op, t in node.rest)
    if isinstance(node, Compare):
        return wrap(node.first, _SUMP) + "".join(f" {op} {wrap(t, _SUMP)}" for op, t in node.rest)
    if isinstance(node, Logic):
        need = _NOT if node.op == "and" else _AND
        return f" {node.op} ".join(wrap(o, need) for o in node.operands)
    if isinstance(node, Not):
        return "not " + wrap(node.operand, _NOT)
    return f"{node.fn}({', '.join(_text(a) for a in node.args)})"


_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "mu", "nu", "xi",
    "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
}  # fmt: skip
_LATEX_CMP = {"<": "<", "<=": r"\le", ">": ">", ">=": r"\ge", "==": "=", "!=": r"\ne"}
_LATEX_FN = {
    "sin": r"\sin", "cos": r"\cos", "tan": r"\tan", "arcsin": r"\arcsin", "arccos": r"\arccos",
    "arctan": r"\arctan", "sinh": r"\sinh", "cosh": r"\cosh", "tanh": r"\tanh", "exp": r"\exp",
    "log": r"\ln", "log2": r"\log_{2}", "log10": r"\log_{10}", "min": r"\min", "max": r"\max",
    "clip": r"\operatorname{clip}",
}  # fmt: skip


def _latex_name(name: str) -> str:
    base, _, sub = name.partition("_")
    out = f"\\{base}" if base in _GREEK else base if len(base) == 1 else rf"\mathit{{{base}}}"
    return f"{out}_{{{_latex_name(sub)}}}" if sub else out


def _latex_number(text: str) -> str:
    mantissa, _, exponent = text.lower().partition("e")
    if mantissa.startswith("."):
        mantissa = "0" + mantissa
    mantissa = mantissa.rstrip(".") if mantissa.endswith(".") else mantissa
    if not exponent:
        return mantissa
    power = f"10^{{{int(exponent)}}}"
    return power if float(mantissa) == 1 else rf"{mantissa} \cdot {power}"


def _starts_with_minus(node: Node) -> bool:
    if isinstance(node, Neg):
        return True
    return isinstance(node, Chain) and _starts_with_minus(node.first)


def _latex(node: Node) -> str:
    def paren(s: str) -> str:
        return rf"\left({s}\right)"

    def wrap(n: Node, need: int) -> str:
        s = _latex(n)
        return s if _latex_prec(n) >= need else paren(s)

    def term(n: Node, need: int) -> str:
        # A minus right after an operator reads badly: a + (-b), a \cdot (-b).
        return paren(_latex(n)) if _starts_with_minus(n) else wrap(n, need)

    if isinstance(node, Num):
        return _latex_number(node.text)
    if isinstance(node, Name):
        return r"\pi" if node.id == "pi" else _latex_name(node.id)
    if isinstance(node, Neg):
        return "-" + wrap(node.operand, _NEG)
    if isinstance(node, Pow):
        base = node.base
        b = paren(_latex(base)) if isinstance(base, Call) and base.fn == "sqrt" else wrap(base, _ATOM)
        return f"{b}^{{{_latex(node.exp)}}}"
    if isinstance(node, Chain) and node.kind == _SUM:
        return wrap(node.first, _SUMP) + "".join(f" {op} {term(t, _PRODP)}" for op, t in node.rest)
    if isinstance(node, Chain):
        # Left to right, as evaluated; a fraction's bar groups its numerator,
        # so a sum needs parentheses only before '*' or '%'.
        out, loose = _latex(node.first), _latex_prec(node.first) < _PRODP
        for op, t in node.rest:
            if op == "/":
                out = rf"\frac{{{out}}}{{{_latex(t)}}}"
            elif op == "//":
                out = rf"\left\lfloor \frac{{{out}}}{{{_latex(t)}}} \right\rfloor"
            else:
                left, right = paren(out) if loose else out, term(t, _NEG)
                sep = r" \bmod " if op == "%" else r" \cdot " if right[0].isdigit() else " "
                out = left + sep + right
            loose = False
        return out
    if isinstance(node, Compare):
        return wrap(node.first, _SUMP) + "".join(f" {_LATEX_CMP[op]} {wrap(t, _SUMP)}" for op, t in node.rest)
    if isinstance(node, Logic):
        need = _NOT if node.op == "and" else _AND
        return (r" \land " if node.op == "and" else r" \lor ").join(wrap(o, need) for o in node.operands)
    if isinstance(node, Not):
        return r"\lnot " + wrap(node.operand, _NOT)
    args = [_latex(a) for a in node.args]
    if node.fn == "sqrt":
        return rf"\sqrt{{{args[0]}}}"
    if node.fn == "abs":
        return rf"\left|{args[0]}\right|"
    if node.fn == "floor":
        return rf"\left\lfloor {args[0]} \right\rfloor"
    if node.fn == "ceil":
        return rf"\left\lceil {args[0]} \right\rceil"
    if node.fn == "log1p":
        return rf"\ln\left(1 + {args[0]}\right)"
    if node.fn == "where":
        return rf"\begin{{cases}} {args[1]} & \text{{if }} {args[0]} \\ {args[2]} & \text{{otherwise}} \end{{cases}}"
    return _LATEX_FN[node.fn] + paren(", ".join(args))


def _latex_prec(node: Node) -> int:
    if isinstance(node, Num) and "e" in node.text.lower():
        return _PRODP  # 2 \cdot 10^{3}
    return _prec(node)


def _names_in(node: Node) -> set[str]:
    if isinstance(node, Name):
        return {node.id}
    children: list[Node] = []
    if isinstance(node, (Neg, Not)):
        children = [node.operand]
    elif isinstance(node, Pow):
        children = [node.base, node.exp]
    elif isinstance(node, (Chain, Compare)):
        children = [node.first, *(t for _, t in node.rest)]
    elif isinstance(node, Logic):
        children = list(node.operands)
    elif isinstance(node, Call):
        children = list(node.args)
    return set().union(*(_names_in(c) for c in children))


# ---------------------------------------------------------------- public API


@dataclass(frozen=True)
class Expr:
    """A parsed formula: evaluate it on tensors or floats, or render it.

    Build one with :func:`parse`. Two are equal when their normalised text,
    variables and parameters are; pickling re-parses the text, so an ``Expr``
    can key ``st.cache_data``.

    Attributes:
        text: normalised source (spaces, ``^`` for powers, aliases resolved)
            that parses back to the same formula.
        variables: the variables the caller declared, in order.
        params: the parameters the caller declared, in order.
        variables_used: the declared variables the formula uses, in order.
        params_used: the declared parameters the formula uses, in order.
        tree: the checked syntax tree.
    """

    text: str
    variables: tuple[str, ...]
    params: tuple[str, ...]
    variables_used: tuple[str, ...] = field(compare=False, repr=False)
    params_used: tuple[str, ...] = field(compare=False, repr=False)
    tree: Node = field(compare=False, repr=False)
    _fn: Fn = field(compare=False, repr=False)

    def __reduce__(self):
        return parse, (self.text, self.variables, self.params)

    def latex(self) -> str:
        r"""The formula in LaTeX (KaTeX-compatible): ``\frac``, ``^{...}``, ``\sqrt``, ``|v|``.

        Returns:
            A LaTeX string for math mode, built from the same tree as the evaluators.
        """
        return _latex(self.tree)

    def _env(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name in values:
            if name not in self.variables and name not in self.params:
                raise TypeError(f"{self.text!r} has no variable or parameter {name!r}")
        for name in (*self.variables_used, *self.params_used):
            if name not in values:
                raise TypeError(f"{self.text!r} needs a value for {name!r}")
        return dict(values)

    def torch(self, **values: Any) -> Tensor:
        """Evaluate elementwise on tensors, with autograd.

        Operations run in the order written, with the formula's numbers as
        Python floats, so the result equals the same formula written by hand in
        torch, bit for bit, and keeps the variables' dtype.

        Args:
            **values: the variables, as tensors (shapes broadcast; a number
                becomes a tensor of the first tensor's dtype), and the
                parameters the formula uses, as floats or tensors.

        Returns:
            A tensor of the variables' broadcast shape (a formula that uses no
            variable gives a constant tensor, without a gradient).
        """
        env = self._env(values)
        like = next((env[v] for v in self.variables if isinstance(env.get(v), Tensor)), None)
        for name, v in env.items():
            if not isinstance(v, Tensor) and name in self.variables:
                env[name] = _scalar_like(float(v), like)
            elif not isinstance(v, Tensor):
                env[name] = float(v)
        given = [env[v] for v in self.variables if v in env]
        out = self._fn(env, like)
        if isinstance(out, Tensor) and all(t.shape == out.shape for t in given):
            return out  # the usual case
        # torch.broadcast_shapes would import torch._refs on first use (a second).
        shape = torch.broadcast_tensors(*given, *([out] if isinstance(out, Tensor) else []))[0].shape
        if not isinstance(out, Tensor):
            return _scalar_like(out, like, shape)
        return out if out.shape == shape else out.broadcast_to(shape)

    def value(self, **values: float) -> float:
        """Evaluate on Python floats, as a Python lambda would (for schedules).

        ``e.value(epoch=t)`` for ``(1+epoch)^-0.5`` is ``(1 + t) ** -0.5`` bit for
        bit. It never raises on a number: overflow gives ``±inf``, a point
        outside a function's domain ``nan``.

        Args:
            **values: every variable and the parameters the formula uses, as numbers.

        Returns:
            The formula's value as a float.
        """
        env = self._env(values)
        for k, v in env.items():
            try:
                env[k] = float(v)
            except OverflowError:  # an int beyond float range
                env[k] = math.copysign(_INF, v)
        return float(self._fn(env, None))


def parse(
    text: str, variables: Iterable[str] = ("x", "y"), params: Iterable[str] | Mapping[str, Any] = ()
) -> Expr:
    """Read a formula typed by a user.

    Args:
        text: the formula, e.g. ``"(1-x)^2 + b*(y-x^2)^2"``.
        variables: the names the caller substitutes at each evaluation, e.g.
            ``("x", "y")`` or ``("epoch",)``.
        params: names of the user's named parameters (a mapping's keys count),
            e.g. ``("a", "b")``; the formula may use any of them.

    Returns:
        The parsed :class:`Expr`.

    Raises:
        FormulaError: with a message that says what is wrong and points at it,
            for anything outside the language, and for bad parameter names.
    """
    variables, params = tuple(variables), tuple(params)
    names = _check_names(variables, params)
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:  # before looking at it: a megabyte costs nothing
        raise FormulaError(f"the formula is longer than {MAX_LENGTH} characters (it has {len(text)})")
    text = text.strip(" \t\r\n")
    if not text:
        raise FormulaError("the formula is empty")
    _check_characters(text)
    tokens = _tokens(text)
    _check_tokens(text, tokens)
    # Only now, with no strings or comments possible, '^' can only be an
    # operator: spell it as Python's '**', remembering where each character came from.
    src = text.replace("^", "**")
    origin = [i for i, c in enumerate(text) for _ in range(2 if c == "^" else 1)]
    try:
        tree = ast.parse(src, mode="eval")  # builds a tree; runs nothing
    except SyntaxError as err:
        raise _syntax_error(text, origin, tokens, err) from None
    except (RecursionError, MemoryError, ValueError):
        raise FormulaError("the formula is too deeply nested", text) from None
    node = _Reader(text, src, origin, tokens, names).read(tree.body)
    if isinstance(node, _CONDITIONS):
        raise FormulaError(
            f"a condition (true or false) at column {node.col + 1} where the formula needs a number; "
            "write where(condition, a, b)",
            text,
            node.col + 1,
        )
    fn, _ = _lower(node)
    used = _names_in(node)
    return Expr(
        _text(node),
        variables,
        params,
        tuple(v for v in variables if v in used),
        tuple(p for p in params if p in used),
        node,
        fn,
    )
