"""Chart builders are pure: results in, Plotly figure out. Checked without Streamlit."""

from __future__ import annotations

import numpy as np
import pytest

import optviz
from optviz import charts, sweeps
from optviz.engine import RunConfig
from optviz.problems import SurfaceProblem

ROSENBROCK = SurfaceProblem("rosenbrock")
HIMMELBLAU = SurfaceProblem("himmelblau")
RUNS = [
    {"optimizer": "SGD", "hparams": {"lr": 1e-3}, "label": "SGD"},
    {"optimizer": "Adam", "hparams": {"lr": 0.02}, "label": "Adam"},
    {"optimizer": "SGD", "hparams": {"lr": 0.05}, "label": "too big"},
]


@pytest.fixture(scope="module")
def result():
    return optviz.run("rosenbrock", RUNS, steps=300)


def _styles():
    return charts.styles([r["label"] for r in RUNS])


def test_palette_is_colour_blind_safe_and_distinct():
    styles = charts.styles([f"r{i}" for i in range(10)])
    assert [s.color for s in styles[:8]] == list(charts.PALETTE)
    assert styles[8].dash != styles[0].dash  # colours repeat only with a new dash


def test_race_figure_traces_axes_and_frames(result):
    fig = charts.race_figure(ROSENBROCK, result.arrays, _styles())
    data, layout = fig.spec["data"], fig.spec["layout"]
    names = {t.get("name") for t in data}
    assert {"SGD", "Adam", "global minimum"} <= names
    assert any(n and n.startswith("too big ✕ diverged at step") for n in names)
    # The surface is a layout image with contour-line traces (a contour trace would vanish on Play).
    assert not [t for t in data if t["type"] in ("contour", "heatmap")]
    assert layout["images"][0]["source"].startswith("data:image/png;base64,")
    lines = next(t for t in data if t.get("name") == "contours")
    assert sum(v is None for v in lines["x"]) > 10
    assert layout["yaxis2"]["type"] == "log"  # loss gap on a log axis
    frames = fig.to_dict()["frames"]
    assert 2 <= len(frames) <= 80 and frames[-1]["name"] == "300"
    moving = frames[0]["traces"]
    assert all(len(f["data"]) == len(moving) for f in frames)
    layout = fig.to_dict()["layout"]
    assert layout["sliders"][0]["steps"][-1]["args"][0] == ["300"]
    assert layout["updatemenus"][0]["buttons"][0]["label"].endswith("Play")
    # The path of the Adam run in the figure is the engine's path.
    adam = next(t for t in data if t.get("name") == "Adam" and t["mode"] == "lines" and t.get("xaxis") == "x")
    np.testing.assert_allclose(adam["x"], result.arrays["params"][adam["customdata"], 1, 0])
    # What the browser gets is valid Plotly: graph objects accept every property.
    import plotly.graph_objects as go

    go.Figure(fig.to_dict())


def test_frames_show_heads_at_the_step_they_name(result):
    fig = charts.race_figure(ROSENBROCK, result.arrays, _styles(), max_frames=30)
    for frame in fig.to_dict()["frames"]:
        k = int(frame["name"])
        head = frame["data"][1]  # run 0: tail, head, loss dot, lr dot
        x = _decode(head["x"])[0]
        assert x == pytest.approx(result.arrays["params"][k, 0, 0], rel=1e-6)


def _decode(v):
    if isinstance(v, dict):  # plotly's typed-array form
        import base64

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
    return np.asarray(v)


def test_figure_json_is_small_and_typed(result):
    fig = charts.race_figure(ROSENBROCK, result.arrays, _styles())
    text = fig.to_json()
    assert '"bdata"' in text  # typed arrays, not long lists of numbers
    assert len(text) < 1_000_000


def test_streaming_prefix_draws_without_frames(result):
    prefix = {
        "params": result.arrays["params"][:51],
        "loss": result.arrays["loss"][:51],
        "lr": result.arrays["lr"][:50],
    }
    fig = charts.race_figure(ROSENBROCK, prefix, _styles(), animate=False, total_steps=300)
    assert "frames" not in fig.to_dict()
    assert list(fig.spec["layout"]["xaxis2"]["range"]) == [0, 300]  # the axis already spans the whole run


def test_3d_view_and_click_grid(result):
    fig = charts.race_figure(ROSENBROCK, result.arrays, _styles(), view="3d")
    types = {t["type"] for t in fig.spec["data"]}
    assert {"surface", "scatter3d"} <= types and "contour" not in types
    import plotly.graph_objects as go

    go.Figure(fig.to_dict())
    flat = charts.race_figure(ROSENBROCK, result.arrays, _styles(), clickable=True)
    grid = flat.spec["data"][flat._click_trace]
    assert grid["marker"]["opacity"] == 0 and len(grid["x"]) >= 400
    # For the in-place chart, one transparent heatmap of the same grid: the same hover and click.
    cells = charts.race_figure(ROSENBROCK, result.arrays, _styles(), clickable=True, click_cells=True)
    layer = cells.spec["data"][cells._click_trace]
    assert layer["type"] == "heatmap" and layer["opacity"] == 0 and not layer["showscale"]
    assert np.asarray(layer["customdata"]).ravel().tolist() == pytest.approx(np.asarray(grid["customdata"]).tolist())
    assert layer["hovertemplate"] == grid["hovertemplate"]


@pytest.mark.parametrize("surface", ["rosenbrock", "beale", "quadratic", "himmelblau"])
def test_3d_surface_has_no_comb_of_spikes(surface):
    """A grid point just on a valley floor must not plunge below its neighbours (the issue's
    comb under Rosenbrock's valley): no point lies a decade under all four neighbours."""
    problem = SurfaceProblem(surface)
    res = optviz.run(surface, ["Adam"], steps=5)
    fig = charts.race_figure(problem, res.arrays, charts.styles(["Adam"]), view="3d")
    z = np.asarray(next(t for t in fig.spec["data"] if t["type"] == "surface")["z"], dtype=float)
    inner = z[1:-1, 1:-1]
    neighbours = np.minimum.reduce([z[:-2, 1:-1], z[2:, 1:-1], z[1:-1, :-2], z[1:-1, 2:]])
    assert not np.any(inner < neighbours - 1.0)


def test_surfaces_without_minimum_use_linear_loss_axis():
    res = optviz.run("saddle", ["Adam"], steps=20)
    fig = charts.race_figure(SurfaceProblem("saddle"), res.arrays, charts.styles(["Adam"]))
    assert fig.spec["layout"]["yaxis2"]["type"] == "linear"


def test_numeric_helpers_match_numpy():
    grid = charts.surface_grid(ROSENBROCK, n=50)
    xx, yy = np.meshgrid(grid.x, grid.y)
    np.testing.assert_allclose(grid.z, (1 - xx) ** 2 + 100 * (yy - xx**2) ** 2, rtol=1e-12)
    assert grid.floor == 0.0
    assert charts.steps_to_reach(np.array([5.0, 2.0, 0.5, 0.1]), 0.5) == 2
    assert charts.steps_to_reach(np.array([5.0, 2.0]), 0.5) is None
    path = np.array([[0, 0], [1, 1], [np.nan, np.nan], [np.nan, np.nan]], dtype=float)
    assert charts.last_finite(path, 3) == 1
    assert list(charts.frame_steps(5)) == [0, 1, 2, 3, 4]
    steps = charts.frame_steps(1001, 100)
    assert steps[0] == 0 and steps[-1] == 1000 and len(steps) <= 100


def test_html_export_plays_offline(result):
    html = charts.to_html(charts.race_figure(ROSENBROCK, result.arrays, _styles()))
    assert "addFrames" in html and '<script src="http' not in html and len(html) > 3_000_000  # plotly.js inlined


def test_to_json_is_what_plotly_writes(result):
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from optviz.charts.common import to_json

    race = charts.race_figure(ROSENBROCK, result.arrays, _styles())
    gaps = go.Figure(go.Scatter(x=np.arange(4.0), y=[1.0, float("nan"), 3.0, np.inf]),  # NaN and inf: null
                     layout=dict(xaxis=dict(range=[np.float32(0.5), np.float64(2)])))
    # Text per cell (an object array) and customdata in three dimensions, as a basin map sends them.
    basin = sweeps.basin_map(HIMMELBLAU, [RunConfig("SGD", {"lr": 0.01})], 30, nx=6, ny=5)
    cells = charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=12), clickable=True, click_grid=False)
    for fig in (race, gaps, cells):
        assert json.loads(to_json(fig)) == json.loads(pio.to_json(fig, validate=False))
