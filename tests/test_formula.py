"""Numeric survey of a typed surface, checked against the minima in the standard tables.

Minima: Jamil & Yang 2013 and Surjanovic & Bingham's Virtual Library of
Simulation Experiments, as in optviz/surfaces.py.
"""

from __future__ import annotations

import pytest
import torch

from optviz.expr import parse
from optviz.formula import DEFAULT_DOMAIN, SurfaceAnalysis, analyze

HIMMELBLAU = [
    (3.0, 2.0),
    (-2.805118086952745, 3.131312518250573),
    (-3.779310253377747, -3.283185991286170),
    (3.584428340330492, -1.848126526964404),
]


def survey(text: str, params=None, domain=None) -> SurfaceAnalysis:
    return analyze(parse(text, params=tuple(params or ())), params, domain)


def assert_minima(found, expected, tol=1e-7):
    assert len(found) == len(expected), found
    for ex in expected:
        assert any(abs(x - ex[0]) < tol and abs(y - ex[1]) < tol for x, y, _ in found), (ex, found)


def test_rosenbrock_minimum_is_found_to_float64_precision():
    r = survey("(1-x)^2 + 100*(y-x^2)^2")
    assert r.domain == DEFAULT_DOMAIN and not r.unbounded and r.problem is None and r.numeric
    ((x, y, f),) = r.minima
    assert abs(x - 1) < 1e-9 and abs(y - 1) < 1e-9 and 0 <= f < 1e-18


def test_parameters_move_the_minimum():
    r = survey("(a-x)^2 + b*(y-x^2)^2", {"a": 2.0, "b": 100.0})
    assert_minima(r.minima, [(2.0, 4.0)], tol=1e-9)


def test_himmelblau_has_four_global_minima():
    r = survey("(x^2+y-11)^2 + (x+y^2-7)^2")
    assert_minima(r.minima, HIMMELBLAU, tol=1e-9)
    assert all(f < 1e-18 for *_, f in r.minima)
    assert r.minima == tuple(sorted(r.minima, key=lambda m: (m[2], m[0], m[1])))  # lowest first


@pytest.mark.parametrize(
    "text, expected, f_min",
    [
        ("(1.5 - x + x*y)^2 + (2.25 - x + x*y^2)^2 + (2.625 - x + x*y^3)^2", [(3.0, 0.5)], 0.0),  # Beale
        ("(x + 2*y - 7)^2 + (2*x + y - 5)^2", [(1.0, 3.0)], 0.0),  # Booth
        (  # six-hump camel: two global minima among six local ones
            "(4 - 2.1*x^2 + x^4/3)*x^2 + x*y + (-4 + 4*y^2)*y^2",
            [(0.0898420131003, -0.7126564030259), (-0.0898420131003, 0.7126564030259)],
            -1.0316284534899,
        ),
        (
            "20 + x^2 - 10*cos(2*pi*x) + y^2 - 10*cos(2*pi*y)",
            [(0.0, 0.0)],
            0.0,
        ),  # Rastrigin: many local minima
        (
            "-cos(x)*cos(y)*exp(-((x-pi)^2 + (y-pi)^2))",
            [(3.141592653589793, 3.141592653589793)],
            -1.0,
        ),  # Easom
        ("abs(x) + 10*y^2", [(0.0, 0.0)], 0.0),  # a kink
        ("x^4 + y^4", [(0.0, 0.0)], 0.0),  # a flat, degenerate bottom
    ],
)
def test_standard_minima(text, expected, f_min):
    r = survey(text)
    assert_minima(r.minima, expected, tol=1e-6)
    assert all(abs(f - f_min) < 1e-9 for *_, f in r.minima)


def test_nan_everywhere_is_a_problem_with_a_message():
    r = survey("log(-1 - x^2)")
    assert r.problem.startswith("the formula is not a finite number anywhere in the view")
    assert "at (0, 0) it is nan" in r.problem
    assert r.minima == () and r.start is None and r.value_range is None


def test_infinite_everywhere_is_a_problem_too():
    assert survey("exp(1000 + x^2)").problem is not None


def test_falling_past_the_edge_is_unbounded():
    r = survey("x + y")
    assert r.unbounded and r.minima == ()
    assert any("on its edge" in n for n in r.notes)
    assert r.start == (3.0, 3.0)  # no minimum: start high, with somewhere to go


def test_a_given_view_is_kept_and_a_minimum_past_its_edge_is_reported():
    r = survey("(x-3)^2 + y^2", domain=((-2, 2), (-2, 2)))
    assert r.domain == ((-2.0, 2.0), (-2.0, 2.0)) and r.unbounded and r.minima == ()


def test_the_default_view_widens_to_a_minimum_outside_it():
    r = survey("(x-20)^2 + y^2")
    assert r.domain == ((-40.0, 40.0), (-40.0, 40.0))
    assert_minima(r.minima, [(20.0, 0.0)])
    assert any("widened" in n for n in r.notes)


def test_the_default_view_narrows_to_where_the_formula_is_finite():
    r = survey("-sqrt(1 - x^2 - y^2)")
    assert r.domain == ((-1.2, 1.2), (-1.2, 1.2))
    assert_minima(r.minima, [(0.0, 0.0)])
    assert abs(r.minima[0][2] + 1) < 1e-12
    assert any("NaN or infinite on" in n for n in r.notes)


def test_minus_infinity_means_no_lowest_value():
    r = survey("log(x^2 + y^2)")
    assert r.unbounded and r.minima == ()
    assert "the formula is -inf at (0, 0)" in r.notes


def test_a_curve_of_minima_is_listed_in_part_with_a_note():
    r = survey("(x^2 + y^2 - 1)^2")
    assert len(r.minima) == 8
    assert all(abs(x * x + y * y - 1) < 1e-8 for x, y, _ in r.minima)
    assert any("curve or region" in n for n in r.notes)


def test_a_constant_formula_has_no_minima():
    r = survey("1 + 0*x")
    assert r.minima == () and not r.unbounded and "the formula is constant over the view" in r.notes


def test_the_start_is_finite_inside_and_away_from_the_minimum():
    for text in (
        "(1-x)^2 + 100*(y-x^2)^2",
        "(x^2+y-11)^2 + (x+y^2-7)^2",
        "sin(3*x)*cos(3*y) + 0.1*(x^2+y^2)",
    ):
        r = survey(text)
        (x0, x1), (y0, y1) = r.domain
        sx, sy = r.start
        assert x0 < sx < x1 and y0 < sy < y1
        nearest = min(((sx - x) ** 2 + (sy - y) ** 2) ** 0.5 for x, y, _ in r.minima)
        assert nearest > 0.2 * ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
        assert parse(text).value(x=sx, y=sy) < 1e4  # not off a cliff


def test_works_inside_no_grad():
    with torch.no_grad():
        r = survey("(1-x)^2 + 100*(y-x^2)^2")
    assert_minima(r.minima, [(1.0, 1.0)])


def test_deterministic():
    assert survey("(x^2+y-11)^2 + (x+y^2-7)^2") == survey("(x^2+y-11)^2 + (x+y^2-7)^2")


def test_needs_x_and_y():
    with pytest.raises(ValueError, match="in x and y"):
        analyze(parse("epoch^2", variables=("epoch",)))
