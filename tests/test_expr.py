"""The formula language: meaning, agreement with hand-written code, messages, and hostile input.

Oracles: Python's own arithmetic for ``value`` (a user's lambda), hand-written
torch for ``torch`` (bit for bit), and torch's LambdaLR / MultiplicativeLR /
CyclicLR driven by both. The hostile suite runs every formula of
``tests/hostile_formulas.py`` with the dangerous builtins and an audit hook
watching.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import math
import pickle
import re
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from optviz.expr import MAX_DEPTH, MAX_LENGTH, MAX_NODES, Expr, FormulaError, Num, parse
from optviz.optim.base import ConfigError
from tests.hostile_formulas import EXTREME, HOSTILE


def _nodes(node):
    """Every node of a syntax tree, walking its dataclass fields."""
    yield node
    for f in dataclasses.fields(node):
        for child in _children(getattr(node, f.name)):
            yield from _nodes(child)


def _children(value):
    if dataclasses.is_dataclass(value):
        yield value
    elif isinstance(value, tuple):
        for v in value:
            yield from _children(v)


XY = ("x", "y")


def val(text: str, **values: float) -> float:
    e = parse(text, variables=tuple(values) or XY)
    return e.value(**values) if values else e.value(x=0.0, y=0.0)


# ---------------------------------------------------------------- meaning


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-3^2", -9.0),
        ("(-3)^2", 9.0),
        ("2^-1", 0.5),
        ("2^3^2", 512.0),
        ("2**3**2", 512.0),
        ("(2^3)^2", 64.0),
        ("2^-1^2", 0.5),  # 2^(-(1^2))
        ("-2^-2", -0.25),
        ("2*3+4", 10.0),
        ("2+3*4", 14.0),
        ("10-4-3", 3.0),
        ("64/4/2", 8.0),
        ("2*3^2", 18.0),
        ("-2*3", -6.0),
        ("--2", 2.0),
        ("+2", 2.0),
        ("7//2", 3.0),
        ("-7//2", -4.0),
        ("7%3", 1.0),
        ("-7%3", 2.0),  # Python's sign convention, as torch's %
        ("1e-3", 0.001),
        ("2.5E+2", 250.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("pi", math.pi),
        ("e", math.e),
        ("e^1", math.e),
        ("min(3, 1, 2)", 1.0),
        ("max(3, 1, 2)", 3.0),
        ("clip(5, 0, 1)", 1.0),
        ("clip(-5, 0, 1)", 0.0),
        ("where(1 < 2, 10, 20)", 10.0),
        ("where(0 < 1 < 0.5, 10, 20)", 20.0),  # a chain means 0 < 1 and 1 < 0.5
        ("where(1 > 2 or not 1 > 2, 10, 20)", 10.0),
        ("where(1 == 1 and 1 != 2, 10, 20)", 10.0),
        ("floor(-0.5)", -1.0),
        ("ceil(0.5)", 1.0),
        ("atan(1)", math.pi / 4),
        ("abs(-2)", 2.0),
        ("log(e)", 1.0),
        ("log1p(0)", 0.0),
        ("log2(8)", 3.0),
        ("log10(1000)", 3.0),
        ("sqrt(16)", 4.0),
    ],
)
def test_value_follows_maths_and_python_precedence(text, expected):
    assert val(text) == pytest.approx(expected, rel=1e-15)


def test_every_constant_is_a_float_so_huge_powers_cannot_hang():
    # An int power tower would never finish; floats overflow to inf at once.
    assert val("9^9^9^9") == math.inf
    assert val("10^10^10") == math.inf
    assert all(type(n.value) is float for n in _nodes(parse("9^9^9^9")) if isinstance(n, Num))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1/0", math.inf),
        ("-1/0", -math.inf),
        ("0/0", math.nan),
        ("1//0", math.inf),
        ("1%0", math.nan),
        ("0^-1", math.inf),
        ("(-0)^-1", -math.inf),
        ("(-10)^401", -math.inf),
        ("10^400", math.inf),
        ("(-8)^(1/3)", math.nan),
        ("log(0)", -math.inf),
        ("log(-1)", math.nan),
        ("log1p(-1)", -math.inf),
        ("log1p(-2)", math.nan),
        ("sqrt(-1)", math.nan),
        ("arcsin(2)", math.nan),
        ("exp(1000)", math.inf),
        ("cosh(1000)", math.inf),
        ("sinh(-1000)", -math.inf),
        ("sin(1e999)", math.nan),
        ("floor(1e999)", math.inf),
        ("min(0/0, 1)", math.nan),
        ("max(1, 0/0)", math.nan),
    ],
)
def test_value_never_raises_and_agrees_with_torch_at_poles_and_overflow(text, expected):
    got = val(text)
    t = float(parse(text).torch(x=torch.zeros(1, dtype=torch.float64), y=torch.zeros(1, dtype=torch.float64)))
    if math.isnan(expected):
        assert math.isnan(got)
    else:
        assert got == expected
    # Constants are folded in Python floats, so the tensor path gives the same.
    assert (math.isnan(t) and math.isnan(got)) or t == got


VALID = [
    "(1-x)^2 + 100*(y-x^2)^2",
    "(a-x)^2 + b*(y-x^2)^2",
    "sin(3*x)*cos(3*y) + 0.1*(x^2+y^2)",
    "abs(x) + 10*y^2",
    "(x^2+y-11)^2 + (x+y^2-7)^2",
    "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
    "-cos(x)*cos(y)*exp(-((x-pi)^2 + (y-pi)^2))",
    "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
    "where(x > 0 and y > 0, x*y, -(x^2) - y^2/2)",
    "where(0 < x < 1, x, 1e-3*y)",
    "min(x, y, 1) + max(x, -y) + clip(x*y, -1, 1)",
    "log1p(x^2) + sqrt(y^2 + 1) + tanh(x) - sinh(y/10) + cosh(x/10)",
    "arctan(x) + atan(y) + asin(tanh(x)) + acos(tanh(y))",
    "exp(-x^2) * log(1 + y^2) / log2(2 + x^2) - log10(3 + y^2)",
    "floor(x) + ceil(y) + x//2 + y%3",
    "-x^2", "2^-x^2", "x/y/2*3", "x*(y*2)", "x - (y - 1)", "x + -y", "x*-y", "--x", "(-x)^2", "(x^y)^2",
    "where(not x > 0 or y > 0, 1, 2)", "where(not (x > 0 and y > 0), 1, 2)", "where((x > 0 or y > 0) and x < 1, 1, 2)",
    "a*x + b", "1e-3*x + 2.5E3*y", ".5*x + 5.*y",
]  # fmt: skip


@pytest.mark.parametrize("text", VALID)
def test_text_is_normalised_and_parses_back_to_the_same_tree(text):
    e = parse(text, params=("a", "b"))
    again = parse(e.text, params=("a", "b"))
    assert again.tree == e.tree
    assert again.text == e.text
    assert again == e and hash(again) == hash(e)


@pytest.mark.parametrize("text", VALID)
def test_value_agrees_with_torch_float64(text):
    e = parse(text, params=("a", "b"))
    gen = torch.Generator().manual_seed(0)
    xs = torch.randn(20, generator=gen, dtype=torch.float64) * 2
    ys = torch.randn(20, generator=gen, dtype=torch.float64) * 2
    t = e.torch(x=xs, y=ys, a=1.5, b=0.5)
    v = torch.tensor([e.value(x=float(x), y=float(y), a=1.5, b=0.5) for x, y in zip(xs, ys)], dtype=torch.float64)
    torch.testing.assert_close(t, v, rtol=1e-12, atol=1e-12, equal_nan=True)


def test_spaces_powers_and_aliases_are_normalised():
    assert parse("(1-x)**2+100*(y-x^2)^2").text == "(1 - x)^2 + 100*(y - x^2)^2"
    assert parse("atan(x)+asin(y)+acos(y)").text == "arctan(x) + arcsin(y) + arccos(y)"
    assert parse("  x  ").text == "x"
    assert parse("x\n").text == "x"  # surrounding blanks are not part of the formula


def test_names_used_and_params():
    e = parse("(a-x)^2 + b*y", variables=XY, params=("a", "b", "c"))
    assert e.variables == XY and e.params == ("a", "b", "c")
    assert e.variables_used == XY and e.params_used == ("a", "b")
    assert parse("x^2", params={"a": 1.0}).variables_used == ("x",)


def test_missing_or_unknown_values_are_programming_errors():
    e = parse("a*x", params=("a",))
    with pytest.raises(TypeError, match="needs a value for 'a'"):
        e.value(x=1.0)
    with pytest.raises(TypeError, match="no variable or parameter 'z'"):
        e.value(x=1.0, a=1.0, z=2.0)
    assert e.value(x=2.0, a=3.0, y=5.0) == 6.0  # unused declared names may be passed


def test_pickles_by_reparsing_so_it_can_key_a_cache():
    e = parse("b*(y-x^2)^2", params=("b",))
    back = pickle.loads(pickle.dumps(e))
    assert back == e and back.value(x=1.0, y=2.0, b=3.0) == e.value(x=1.0, y=2.0, b=3.0)
    assert isinstance(back, Expr)


# ---------------------------------------------------------------- LaTeX


@pytest.mark.parametrize(
    "text, latex",
    [
        ("(1-x)^2 + 100*(y-x^2)^2", r"\left(1 - x\right)^{2} + 100 \left(y - x^{2}\right)^{2}"),
        (
            "sin(3*x)*cos(3*y) + 0.1*(x^2+y^2)",
            r"\sin\left(3 x\right) \cos\left(3 y\right) + 0.1 \left(x^{2} + y^{2}\right)",
        ),
        ("abs(x) + 10*y^2", r"\left|x\right| + 10 y^{2}"),
        ("-x^2", "-x^{2}"),
        ("2^3^2", "2^{3^{2}}"),
        ("(2^3)^2", r"\left(2^{3}\right)^{2}"),
        ("sqrt(x)/(1+y)", r"\frac{\sqrt{x}}{1 + y}"),
        ("(x+1)/2*y", r"\frac{x + 1}{2} y"),
        ("x*-y", r"x \left(-y\right)"),
        ("x*2", r"x \cdot 2"),
        ("1e-3*x + 2.5e3", r"10^{-3} x + 2.5 \cdot 10^{3}"),
        ("log(x) + log1p(y) + log2(x)", r"\ln\left(x\right) + \ln\left(1 + y\right) + \log_{2}\left(x\right)"),
        (
            "floor(x/10) + x//2 + x%3",
            r"\left\lfloor \frac{x}{10} \right\rfloor + \left\lfloor \frac{x}{2} \right\rfloor + x \bmod 3",
        ),
        ("min(1, (x+1)/10)", r"\min\left(1, \frac{x + 1}{10}\right)"),
        (
            "where(0 < x <= 1 and y != 0, x, -y)",
            r"\begin{cases} x & \text{if } 0 < x \le 1 \land y \ne 0 \\ -y & \text{otherwise} \end{cases}",
        ),
        ("pi*alpha_1*lr", r"\pi \alpha_{1} \mathit{lr}"),
    ],
)  # fmt: skip
def test_latex_snapshots(text, latex):
    assert parse(text, params=("alpha_1", "lr")).latex() == latex


# ---------------------------------------------------------------- torch: bit for bit with hand-written code


def rosenbrock(x, y, a=1.0, b=100.0):
    return (a - x) ** 2 + b * (y - x**2) ** 2


HAND_WRITTEN = [
    ("(1-x)^2 + 100*(y-x^2)^2", lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2),
    ("(a-x)^2 + b*(y-x^2)^2", rosenbrock),
    ("(x^2+y-11)^2 + (x+y^2-7)^2", lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2),
    (
        "(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2",
        lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
    ),
    ("(x + 2*y - 7)^2 + (2*x + y - 5)^2", lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2),
    (
        "sin(3*x)*cos(3*y) + 0.1*(x^2+y^2)",
        lambda x, y: torch.sin(3 * x) * torch.cos(3 * y) + 0.1 * (x**2 + y**2),
    ),
    ("abs(x) + 10*y^2", lambda x, y: torch.abs(x) + 10 * y**2),
    (
        "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
        lambda x, y: 20 + x**2 - 10 * torch.cos(2 * math.pi * x) + y**2 - 10 * torch.cos(2 * math.pi * y),
    ),
    ("2^0.5*x/y", lambda x, y: 2**0.5 * x / y),
    ("1/(1 + exp(-x))*y", lambda x, y: 1 / (1 + torch.exp(-x)) * y),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("text, hand", HAND_WRITTEN, ids=[t for t, _ in HAND_WRITTEN])
def test_torch_equals_hand_written_torch_bit_for_bit(text, hand, dtype):
    e = parse(text, params=("a", "b"))
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(257, generator=gen, dtype=torch.float64) * 6 - 3).to(dtype)
    y = (torch.rand(257, generator=gen, dtype=torch.float64) * 6 - 3).to(dtype)
    got = e.torch(x=x, y=y, a=1.0, b=100.0)
    assert got.dtype == dtype
    assert torch.equal(got, hand(x, y)), (got - hand(x, y)).abs().max()


def test_autograd_gradient_equals_the_hand_written_gradient():
    e = parse("(a-x)^2 + b*(y-x^2)^2", params=("a", "b"))
    gen = torch.Generator().manual_seed(2)
    x = (torch.rand(64, generator=gen, dtype=torch.float64) * 4 - 2).requires_grad_()
    y = (torch.rand(64, generator=gen, dtype=torch.float64) * 4 - 2).requires_grad_()
    gx, gy = torch.autograd.grad(e.torch(x=x, y=y, a=1.0, b=100.0).sum(), (x, y))
    x, y = x.detach(), y.detach()
    torch.testing.assert_close(gx, -2 * (1 - x) - 400 * x * (y - x**2), rtol=1e-13, atol=1e-12)
    torch.testing.assert_close(gy, 200 * (y - x**2), rtol=1e-13, atol=1e-12)


def test_torch_keeps_dtype_broadcasts_and_takes_tensor_params():
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)
    assert parse("where(x > 0, 0.1, 2)").torch(x=x, y=x).dtype == torch.float64
    assert parse("min(x, 0.1) + max(0.2, y)").torch(x=x.float(), y=x.float()).dtype == torch.float32
    assert parse("x^2").torch(x=x, y=torch.zeros(3, 1, dtype=torch.float64)).shape == (3, 5)
    const = parse("2*pi").torch(x=x, y=x)
    assert const.shape == (5,) and const.dtype == torch.float64 and torch.all(const == 2 * math.pi)
    b = torch.tensor([[1.0], [100.0]], dtype=torch.float64)  # a (runs, 1) sweep of b
    out = parse("b*(y-x^2)^2", params=("b",)).torch(x=x, y=x, b=b)
    assert torch.equal(out, b * (x - x**2) ** 2)
    floor = parse("x//0.3 + x%0.3").torch(x=x.clone().requires_grad_(), y=x)
    assert floor.requires_grad  # floor division has a zero gradient, not an error


# ---------------------------------------------------------------- schedules: bit for bit with Python lambdas

SCHEDULES = [
    ("(1+epoch)^-0.5", lambda t: (1 + t) ** -0.5),
    ("0.95^epoch", lambda t: 0.95**t),
    ("min(1, (epoch+1)/10)", lambda t: min(1, (t + 1) / 10)),
    ("0.5^floor(epoch/10)", lambda t: 0.5 ** math.floor(t / 10)),
    ("0.5^(epoch//10)", lambda t: 0.5 ** (t // 10)),
    ("where(epoch < 5, (epoch+1)/5, 0.9^(epoch-5))", lambda t: (t + 1) / 5 if t < 5 else 0.9 ** (t - 5)),
]


@pytest.mark.parametrize("text, lam", SCHEDULES, ids=[t for t, _ in SCHEDULES])
def test_value_equals_the_python_lambda_bit_for_bit(text, lam):
    e = parse(text, variables=("epoch",))
    for t in range(201):
        assert e.value(epoch=t) == float(lam(t)), t
        assert e.value(epoch=float(t)) == float(lam(t)), t


def _lrs(make, steps=120, **sgd):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, **sgd)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_lambda_and_multiplicative_lr_follow_the_formula_exactly():
    lr_sched = torch.optim.lr_scheduler
    for text, lam in SCHEDULES[:3]:
        e = parse(text, variables=("epoch",))
        ours = _lrs(lambda o, e=e: lr_sched.LambdaLR(o, lambda t: e.value(epoch=t)))
        assert ours == _lrs(lambda o, lam=lam: lr_sched.LambdaLR(o, lam))
    e = parse("where(epoch < 10, 1, 0.95)", variables=("epoch",))
    assert _lrs(lambda o: lr_sched.MultiplicativeLR(o, lambda t: e.value(epoch=t))) == _lrs(
        lambda o: lr_sched.MultiplicativeLR(o, lambda t: 1 if t < 10 else 0.95)
    )


def test_cyclic_lr_scale_fn_reproduces_triangular2():
    e = parse("1/(2^(x-1))", variables=("x",))

    def cyclic(**kw):
        return lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=5, **kw)

    ours = _lrs(cyclic(scale_fn=lambda x: e.value(x=x), scale_mode="cycle"), momentum=0.9)
    assert ours == _lrs(cyclic(mode="triangular2"), momentum=0.9)
    # The closed form on tensors gives the same numbers.
    cycles = torch.arange(1, 30, dtype=torch.float64)
    assert torch.equal(e.torch(x=cycles), 1 / (2.0 ** (cycles - 1)))


# ---------------------------------------------------------------- messages


@pytest.mark.parametrize(
    "text, column, words",
    [
        ("(1-x)^^2", 7, "unexpected '^'"),
        ("x + z", 5, "unknown name 'z'"),
        ("sinn(x)", 1, "did you mean sin?"),
        ("Sin(x)", 1, "did you mean sin?"),
        ("ln(x)", 1, "write log"),
        ("sin(x, y)", 1, "sin at column 1 takes 1 argument, got 2"),
        ("min(x)", 1, "min at column 1 takes at least 2 arguments, got 1"),
        ("where(x > 0, 1)", 1, "where at column 1 takes 3 arguments (condition, if_true, if_false), got 2"),
        ("x.real", 2, "'.' (attribute access)"),
        ("sin(x=1)", 6, "'=' at column 6 is not allowed"),
        ("x + 2x", 5, "write 2*x for a product"),
        ("2 x", 3, "missing operator between '2' and 'x'"),
        ("(x + 1", 1, "'(' at column 1 is never closed"),
        ("x + 1)", 6, "')' at column 6 has no matching '('"),
        ("x +", 4, "the formula is incomplete"),
        ("x < y", 3, "a condition (true or false) at column 3 where the formula needs a number"),
        ("sin(x > 0)", 7, "where sin's argument needs a number"),
        ("where(x, 1, 2)", 7, "where where's first argument needs a condition"),
        ("x and y > 0", 1, "where 'and' needs a condition"),
        ("x # note", 3, "a formula has no comments"),
        ("x; y", 2, "a formula is one expression"),
        ("'x'", 1, "a formula has no strings"),
        ("x\ny", 2, "a line break at column 2 is not allowed"),
        ("1j", 1, "complex numbers are not allowed"),
        ("ｘ + 1", 1, "FULLWIDTH LATIN SMALL LETTER X) at column 1 is not allowed: formulas are plain ASCII; type 'x'"),
        ("х + 1", 1, "CYRILLIC SMALL LETTER HA"),
        ("x \u2212 1", 3, "MINUS SIGN) at column 3 is not allowed: type '-' instead"),
        ("x\u200b", 2, "invisible or control character U+200B ZERO WIDTH SPACE at column 2"),
        ("lambda: 1", 7, "':' at column 7 is not allowed"),
        ("x if y else 1", 3, "'if' at column 3 is Python, not part of the formula language"),
        ("x(2)", 1, "'x' at column 1 is not a function: write x*(...)"),
        ("sin + 1", 1, "'sin' at column 1 is a function: call it as sin(...)"),
        ("sin(**x)", 5, "'**' unpacking at column 5 is not allowed"),
        ("sin(*x)", 5, "'*' unpacking at column 5 is not allowed"),
        ("(x, y)", 3, "',' at column 3 is only allowed between a function's arguments"),
        ("()", 1, "empty parentheses"),
        ("__import__", 1, "names cannot start with '_'"),
    ],
)  # fmt: skip
def test_messages_say_what_and_point_at_the_column(text, column, words):
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ConfigError) and isinstance(err, ValueError)
    assert err.column == column, str(err)
    assert words in str(err), str(err)
    lines = str(err).split("\n")
    assert lines[-1] == " " * (column - 1) + "^", str(err)  # the caret sits under the column
    assert len(lines[-2]) == len(err.text) and "\n" not in err.text.replace("\n", "?")


def test_the_caret_example_from_the_brief():
    with pytest.raises(FormulaError) as info:
        parse("(1-x)^^2")
    assert str(info.value).endswith("(1-x)^^2\n      ^")


def test_unknown_names_list_what_the_formula_may_use():
    with pytest.raises(FormulaError) as info:
        parse("x + z", params=("a", "b"))
    msg = str(info.value)
    assert "the variables x, y; the parameters a, b; the constants pi, e; the functions abs" in msg
    assert "where" in msg and "sin" in msg


def test_a_long_formula_is_shown_around_the_error():
    text = "x + " * 60 + "z + " + "x + " * 60 + "x"
    with pytest.raises(FormulaError) as info:
        parse(text)
    *_, line, caret = str(info.value).split("\n")
    assert len(line) <= 80 and line.startswith("...") and line.endswith("...")
    assert line[caret.index("^")] == "z"


@pytest.mark.parametrize(
    "params, words",
    [
        (("sin",), "parameter name 'sin' is taken by the function sin"),
        (("x",), "parameter name 'x' is already a variable"),
        (("pi",), "parameter name 'pi' is already the constant"),
        (("a", "a"), "parameter name 'a' is already a parameter"),
        (("1a",), "must be letters, digits and '_', starting with a letter"),
        (("_a",), "starting with a letter"),
        (("__import__",), "starting with a letter"),
        (("ｂ",), "(ASCII)"),
        (("lambda",), "must be letters"),
        (("a-b",), "must be letters"),
    ],
)
def test_parameter_names_are_checked(params, words):
    with pytest.raises(FormulaError, match=re.escape(words)):
        parse("x", params=params)


def test_limits_are_exact():
    assert parse("1" * MAX_LENGTH).value(x=0, y=0) == float("1" * MAX_LENGTH)
    with pytest.raises(FormulaError, match=f"longer than {MAX_LENGTH} characters"):
        parse("1" * (MAX_LENGTH + 1))
    parse("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH)
    parse("-" * MAX_DEPTH + "x")
    with pytest.raises(FormulaError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse("-" * (MAX_DEPTH + 1) + "x")
    with pytest.raises(FormulaError, match=f"parentheses nested deeper than {MAX_DEPTH} levels"):
        parse("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    # Parts are numbers, names and operators: n terms of x*y are 4n - 1.
    parse("+".join(["x*y"] * ((MAX_NODES + 1) // 4)))
    with pytest.raises(FormulaError, match=f"more than {MAX_NODES} parts"):
        parse("+".join(["x*y"] * ((MAX_NODES + 1) // 4 + 1)))
    # A long sum is long, not deep.
    parse("+".join(["x"] * 100))


def test_non_text_is_refused_with_a_message():
    for thing in (None, b"x", 1, 1.5, ["x"], bytearray(b"x")):
        with pytest.raises(FormulaError, match="must be text"):
            parse(thing)


# ---------------------------------------------------------------- hostile input

_WATCHED = ("__import__", "open", "eval", "exec", "compile", "breakpoint", "input", "globals", "locals", "vars",
            "getattr", "setattr", "delattr", "help", "exit", "quit", "memoryview")  # fmt: skip
_AUDIT: list[tuple[str, str]] | None = None


_WATCHER: int | None = None  # only the watching thread counts: pytest-xdist's own threads run beside it


def _audit(event: str, args: tuple) -> None:
    # ast.parse raises "compile"; anything else (exec, import, open, os.*,
    # subprocess.*, socket.*) means something ran that should not have.
    if _AUDIT is not None and event != "compile" and threading.get_ident() == _WATCHER:
        _AUDIT.append((event, repr(args)[:200]))


sys.addaudithook(_audit)  # hooks cannot be removed; this one does nothing unless _AUDIT is set


@contextmanager
def watched(torch_inside: bool = False):
    """Record calls of dangerous builtins and audit events while inside.

    ``compile`` is allowed only as ast.parse uses it (PyCF_ONLY_AST: a tree,
    no code object). With ``torch_inside`` (evaluating, not parsing), torch's
    own machinery may call getattr on its modules and re-import torch modules
    already loaded (function-level imports in autograd); nothing else.
    """
    global _AUDIT, _WATCHER
    calls: list[str] = []
    skip = ("getattr",) if torch_inside else ()
    real = {n: builtins.__dict__[n] for n in _WATCHED if n in builtins.__dict__ and n not in skip}

    def harmless(name, args, kwargs) -> bool:
        if name == "compile":
            return bool((args[3] if len(args) > 3 else kwargs.get("flags", 0)) & ast.PyCF_ONLY_AST)
        if name == "__import__" and torch_inside:
            return args[0] in sys.modules and args[0].split(".")[0] == "torch"
        return False

    def spy(name, fn):
        def call(*args, **kwargs):
            if threading.get_ident() == _WATCHER and not harmless(name, args, kwargs):
                calls.append(f"{name}{args[:1]}")
            return fn(*args, **kwargs)

        return call

    _WATCHER = threading.get_ident()
    builtins.__dict__.update({name: spy(name, fn) for name, fn in real.items()})
    _AUDIT = []
    try:
        yield calls
        calls.extend(f"audit:{event} {args}" for event, args in _AUDIT)
    finally:
        _AUDIT = None
        builtins.__dict__.update(real)


def _shown(text: str) -> str:
    return (text if len(text) <= 60 else text[:57] + "...").encode("unicode_escape").decode()


def _refusal_problem(text: str) -> str | None:
    """Why ``text`` was not refused as it should be, or None."""
    with watched() as calls:
        try:
            parse(text, variables=XY)
            outcome: BaseException | None = None
        except BaseException as exc:  # noqa: BLE001 - the point is that nothing else escapes
            outcome = exc
    if type(outcome) is not FormulaError:
        return f"{type(outcome).__name__}: {outcome}"
    if not outcome.reason or "Traceback" in str(outcome):
        return f"unclear message {str(outcome)!r}"
    if calls:
        return f"called {calls}"
    return None


FAMILIES = sorted({family for family, _ in HOSTILE})


def test_the_hostile_suite_is_large():
    assert len({t for _, t in HOSTILE}) >= 300


# One test per family, not per formula: a thousand test items would cost more
# than the parsing, and a failure still lists every formula that got through.
@pytest.mark.parametrize("family", FAMILIES)
def test_hostile_formulas_are_refused_cleanly_quickly_and_run_nothing(family):
    problems = {}
    for fam, text in HOSTILE:
        if fam == family and (problem := _refusal_problem(text)):
            problems[_shown(text)] = problem
    assert not problems, problems


@pytest.mark.parametrize("text", EXTREME, ids=[t[:40] for t in EXTREME])
def test_extreme_but_legal_formulas_evaluate_quickly_without_raising(text):
    grids = [torch.tensor([0.0, -1.5, 1e30, math.inf, math.nan], dtype=d) for d in (torch.float32, torch.float64)]
    points = ((0.0, 0.0), (1.5, -2.0), (1e308, -1e308), (math.inf, math.nan))
    with watched() as calls:
        e = parse(text)
    with watched(torch_inside=True) as more:
        values = [e.value(x=x, y=y) for x, y in points]
        outs = [e.torch(x=grid, y=grid.flip(0)) for grid in grids]
    assert calls == [] and more == []
    assert all(out.dtype == grid.dtype and out.shape == grid.shape for out, grid in zip(outs, grids))
    assert all(isinstance(v, float) for v in values)
    # Bounded work, not a stopwatch: no formula the parser accepts is bigger than this.
    assert len(list(_nodes(e.tree))) <= MAX_NODES


def test_evaluation_runs_nothing_either():
    x = torch.linspace(-2, 2, 7, dtype=torch.float64, requires_grad=True)
    with watched(torch_inside=True) as calls:
        for text in VALID:
            e = parse(text, params=("a", "b"))
            e.value(x=0.5, y=-0.5, a=1.0, b=2.0)
            out = e.torch(x=x, y=x.detach(), a=1.0, b=2.0)
            if out.requires_grad:
                torch.autograd.grad(out.sum(), x)
            e.latex()
    assert calls == []


def test_the_modules_never_call_pythons_evaluators():
    root = Path(__file__).resolve().parent.parent / "optviz"
    for name in ("expr.py", "formula.py"):
        source = (root / name).read_text()
        assert not re.search(r"(?<![\w.])(eval|exec|compile|__import__|getattr)\s*\(", source), name
        assert "sympy" not in source
