"""The projector theme (a pure restyling of any figure), its link field, and the race's step
mode for a class: called directly, no Streamlit."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import pytest

from optviz import charts, codec, presets
from optviz.charts import state as inside
from optviz.charts import theme
from optviz.codec import View
from optviz.engine import RunConfig, run
from optviz.problems import SurfaceProblem
from optviz.ui.inside import RECORD

RUNS = [RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, label="momentum"), RunConfig("Adam", {"lr": 0.02})]


@pytest.fixture(scope="module")
def recorded():
    problem = SurfaceProblem("rosenbrock")
    result = run(problem.build(), RUNS, steps=40, record=RECORD, dtype="float64")
    return problem, inside.as_torch_keeps(result.arrays, result.resolved)


def _race(recorded, **kwargs):
    problem, arrays = recorded
    return charts.race_figure(problem, arrays, charts.styles(["momentum", "Adam"]), arrows=True, **kwargs)


# -- the theme ------------------------------------------------------------------------------


def test_projector_scales_fonts_lines_and_markers_and_leaves_the_input_alone(recorded):
    fig = _race(recorded)
    before = fig.to_dict()
    out = theme.projector(fig).to_dict()
    assert fig.to_dict() == before  # pure: the cached figure is not restyled in place
    assert out["layout"]["font"]["size"] == pytest.approx(charts.FONT["size"] * theme.FONT_SCALE)
    assert out["layout"]["font"]["color"] == theme.INK
    assert out["layout"]["legend"]["font"]["size"] >= before["layout"]["legend"]["font"]["size"]
    for a, b in zip(before["layout"]["annotations"], out["layout"]["annotations"]):
        assert b["font"]["size"] == pytest.approx(a["font"]["size"] * theme.TITLE_SCALE)
    for a, b in zip(before["data"], out["data"]):
        assert a.get("x") == b.get("x")  # the data is the same
        if "width" in a.get("line", {}):
            assert b["line"]["width"] == pytest.approx(a["line"]["width"] * theme.LINE_SCALE)
        size = a.get("marker", {}).get("size")
        if isinstance(size, int | float):
            assert b["marker"]["size"] == pytest.approx(size * theme.MARKER_SCALE)
    arrow = next(t for t in out["data"] if t.get("marker", {}).get("symbol") == "arrow")
    assert arrow["marker"]["size"] == pytest.approx([0, 13 * theme.MARKER_SCALE])  # one size per point
    assert out["layout"]["xaxis2"]["linecolor"] == theme.INK and out["layout"]["xaxis2"]["linewidth"] >= 2
    # The animation keeps working: frames, Play, the slider; its label larger too.
    assert out["frames"] == before["frames"]
    menu, old = out["layout"]["updatemenus"][0], before["layout"]["updatemenus"][0]
    assert menu["buttons"] == old["buttons"]
    assert menu["y"] == pytest.approx(old["y"] * theme.FONT_SCALE)  # lower, under the larger tick labels
    assert out["layout"]["height"] > before["layout"]["height"]
    label = out["layout"]["sliders"][0]["currentvalue"]["font"]["size"]
    assert label == pytest.approx(before["layout"]["sliders"][0]["currentvalue"]["font"]["size"] * theme.FONT_SCALE)


def test_projector_restyles_a_plain_plotly_figure_and_keeps_the_click_grid(recorded):
    fig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0], mode="lines+markers", marker=dict(size=[4, 8])))
    out = theme.projector(fig).to_dict()
    assert out["data"][0]["line"]["width"] == pytest.approx(theme.DEFAULT_LINE * theme.LINE_SCALE)
    assert out["data"][0]["marker"]["size"] == pytest.approx([4 * theme.MARKER_SCALE, 8 * theme.MARKER_SCALE])
    assert out["layout"]["font"]["size"] == pytest.approx(theme.DEFAULT_FONT * theme.FONT_SCALE)
    clickable = _race(recorded, clickable=True)
    assert theme.projector(clickable)._click_trace == clickable._click_trace is not None


def test_the_default_theme_is_the_figure_itself(recorded):
    fig = _race(recorded)
    assert theme.apply(fig, "default") is fig
    assert theme.apply(fig, "projector") is not fig


@pytest.mark.parametrize("name", ["sweeps", "compare", "training"])
def test_every_kind_of_figure_takes_the_theme(name):
    """Figures built with plotly's own objects (subplots, colour bars) restyle too."""
    if name == "training":
        exp = presets.DEFAULTS["train"].replace(runs=presets.DEFAULTS["train"].runs[:1])
        from optviz import experiment
        from optviz.ui.kinds import training

        outcome = experiment.compute(exp)
        fig = training.figure(outcome, training.extras(outcome), charts.styles(["a"]), View())
    elif name == "sweeps":
        fig = go.Figure(go.Heatmap(z=np.arange(6.0).reshape(2, 3), colorbar=dict(title=dict(text="loss"))))
    else:
        fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2], marker=dict(line=dict(width=1))))
    out = theme.projector(fig).to_dict()
    assert out["layout"]["font"]["color"] == theme.INK
    assert len(out["data"]) == len(fig.data)


# -- the link ---------------------------------------------------------------------------------


def test_the_view_round_trips_through_the_link():
    exp = presets.DEFAULTS["surface"]
    views = (View(), View(theme="projector"), View("3d", 1e-4, True, "projector"),
             View(inside=True, step=7, predict=True, curvature=True), View(inside=True, step=0))
    for view in views:
        params = codec.encode(exp, view)
        assert ("theme" in params) == (view.theme != "default")
        _, back, warnings = codec.decode(params, exp)
        assert back == view and warnings == []


def test_a_bad_theme_in_a_link_warns_and_falls_back():
    exp = presets.DEFAULTS["surface"]
    _, view, warnings = codec.decode({**codec.encode(exp), "theme": ["neon"]}, exp)
    assert view.theme == "default"
    assert warnings == ["unknown theme 'neon'; showing default"]


# -- step mode ----------------------------------------------------------------------------------


def _arrow_tails(fig: dict) -> list[tuple[float, float]]:
    return [(t["x"][0], t["y"][0]) for t in fig["data"] if t.get("marker", {}).get("symbol") == "arrow"]


def test_step_mode_draws_the_path_so_far_with_heads_and_arrows_at_the_step(recorded):
    _, arrays = recorded
    params = arrays["params"]
    fig = _race(recorded, at=7).spec
    assert "sliders" not in _race(recorded, at=7).to_dict()["layout"]  # the buttons drive it, not Plotly's slider
    paths = [t for t in fig["data"] if t.get("opacity") == 0.8]
    assert [len(p["x"]) for p in paths] == [9, 9]  # points 0..8: up to the new point
    tails = _arrow_tails(fig)
    assert len(tails) == 3 * 2  # −∇f, momentum, update for each run
    for r in range(2):
        assert tails[3 * r] == pytest.approx(tuple(params[7, r]))
    rings = [t for t in fig["data"] if t.get("hovertemplate", "").startswith("point 8")]
    np.testing.assert_allclose([(t["x"][0], t["y"][0]) for t in rings], params[8])


def test_predict_hides_the_new_point_and_the_update_but_not_the_gradient(recorded):
    _, arrays = recorded
    shown, hidden = _race(recorded, at=7).spec, _race(recorded, at=7, reveal=False).spec
    paths = [t for t in hidden["data"] if t.get("opacity") == 0.8]
    assert [len(p["x"]) for p in paths] == [8, 8]  # points 0..7 only
    assert not [t for t in hidden["data"] if t.get("hovertemplate", "").startswith("point 8")]
    legend = [t["name"] for t in hidden["data"] if t.get("legendgroup", "").startswith("arrow-") and "name" in t]
    assert [n.split(" ×")[0] for n in legend] == ["−∇f"]
    # The gradient arrow is the same one, at the same scale, as when revealed.
    assert _arrow_tails(hidden) == [_arrow_tails(shown)[0], _arrow_tails(shown)[3]]
    grad = [t for t in hidden["data"] if t.get("marker", {}).get("symbol") == "arrow"]
    full = [t for t in shown["data"] if t.get("marker", {}).get("symbol") == "arrow"][::3]
    assert [g["x"] for g in grad] == [f["x"] for f in full]
    assert np.isfinite(arrays["params"][8]).all()  # there was a point to hide
