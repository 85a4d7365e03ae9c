"""The sweep chart builders: what each figure marks, and the click data that names each run."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optviz import charts, sweeps
from optviz.charts import sweeps as sweep_charts
from optviz.engine import RunConfig
from optviz.problems import SurfaceProblem, Task
from optviz.problems.datasets import DataConfig

ROSENBROCK = SurfaceProblem("rosenbrock")
HIMMELBLAU = SurfaceProblem("himmelblau")
QUADRATIC = SurfaceProblem("quadratic")


@pytest.fixture(scope="module")
def lr_sweep():
    configs = [RunConfig("SGD", {"momentum": 0.9}), RunConfig("Adam")]
    return sweeps.lr_sweep(ROSENBROCK, configs, sweeps.log_lrs(1e-5, 1.0, 30), 100, dtype="float64")


def _named(fig, part):
    return [t for t in fig.data if part in (t.name or "")]


def test_lr_sweep_figure_marks_best_lrs_and_divergence(lr_sweep):
    fig = sweep_charts.lr_sweep_figure(lr_sweep)
    legend = [t.name for t in fig.data if t.showlegend]
    assert len(legend) == 2 and all("best lr" in name for name in legend)
    for k in range(2):
        star = _named(fig, f"{lr_sweep.label(k)} best lr")
        assert len(star) == 1 and star[0].x[0] == lr_sweep.best_lr(k)
        assert list(star[0].customdata[0][:2]) == [k, lr_sweep.best_index(k)]
    crosses = _named(fig, "diverged")
    diverged = int((lr_sweep.diverged_at >= 0).sum())
    assert diverged and sum(len(t.x) for t in crosses) == 2 * diverged  # left band and right panel
    for t in crosses:
        k, i = (int(v) for v in t.customdata[0][:2])
        assert lr_sweep.diverged_at[k, i] >= 0 and t.x[0] == lr_sweep.lrs[i]
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"


def test_loss_gap_on_a_log_axis_and_without_a_minimum():
    gap, log = sweep_charts.loss_gap(ROSENBROCK, np.array([0.0, 1e-3, np.nan]))
    assert log and gap[0] == pytest.approx(1e-4) and gap[1] == 1e-3 and np.isnan(gap[2])
    values, log = sweep_charts.loss_gap(SurfaceProblem("saddle"), np.array([-2.0, 1.0]))
    assert not log and values.tolist() == [-2.0, 1.0]


@pytest.fixture(scope="module")
def basin():
    configs = [RunConfig("SGD", {"lr": 0.01}), RunConfig("SGD", {"lr": 0.05, "momentum": 0.9})]
    return sweeps.basin_map(HIMMELBLAU, configs, 100, nx=12, ny=10, dtype="float64")


@pytest.mark.parametrize("color_by", list(sweep_charts.COLOR_BY))
def test_basin_figure_side_by_side_with_contours_and_minima(basin, color_by):
    fig = sweep_charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=40), color_by, clickable=True)
    contours = [t for t in fig.data if t.type == "contour"]
    stars = [t for t in fig.data if t.name == "known minimum"]
    assert len(contours) == 2 and len(stars) == 2 and len(stars[0].x) == 4
    assert {t.xaxis for t in contours} == {"x", "x2"}  # one map per config, same grid
    clicks = _named(fig, "click")
    assert len(clicks) == 2
    j, i = (int(v) for v in clicks[1].customdata[17][:2])
    assert (clicks[1].x[17], clicks[1].y[17]) == basin.start(j, i)
    legend = [t.name for t in fig.data if t.showlegend]
    if color_by == "minimum":
        assert legend[:4] == [f"minimum {m + 1} ({x:.3g}, {y:.3g})" for m, (x, y, _) in enumerate(basin.minima)]
    if basin.diverged.any() and color_by != "diverged":
        assert "diverged" in legend


@pytest.mark.parametrize("color_by", list(sweep_charts.COLOR_BY))
def test_basin_figure_cells_take_the_clicks_themselves(basin, color_by):
    """For the in-place chart, which reports a click on a cell: no grid of hidden markers (a
    drawing that cost more than a second per recolour); every hoverable cell carries (j, i) first."""
    fig = sweep_charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=40), color_by, clickable=True,
                                    click_grid=False)
    assert not _named(fig, "click")
    cells = [t for t in fig.data if t.type == "heatmap" and t.hoverinfo != "skip"]
    assert cells and all("click: watch from here" in t.hovertemplate for t in cells)
    for t in cells:
        custom = np.asarray(t.customdata)
        assert custom.shape == (*np.shape(t.z), 5)
        j, i = 7, 3
        assert (custom[j, i, 0], custom[j, i, 1]) == (j, i) and (t.x[i], t.y[j]) == basin.start(j, i)


@pytest.mark.parametrize("color_by", list(sweep_charts.COLOR_BY))
@pytest.mark.parametrize("diverged", ["none", "some", "all"])
def test_basin_figure_sends_each_cells_numbers_once_on_a_layer_that_hovers(basin, color_by, diverged):
    """A map's colouring may be two heatmaps (the diverged starts over the others): one carries
    the cells' numbers and takes the hover and click on every cell, its gaps too. A heatmap with
    no value anywhere takes none: it must not be that one (a map where no start diverged, coloured
    by "Diverged", lost its clicks so)."""
    at = {"none": -1, "some": np.where(np.arange(basin.xs.size) < 5, 40, -1), "all": 40}[diverged]
    bm = replace(basin, diverged_at=np.broadcast_to(at, basin.diverged_at.shape).copy())
    loss = np.linspace(1, 9, basin.final_loss.size).reshape(basin.final_loss.shape)
    bm = replace(bm, final_loss=np.where(bm.diverged_at >= 0, np.nan, loss))
    fig = sweep_charts.basin_figure(bm, charts.surface_grid(HIMMELBLAU, n=20), color_by, clickable=True,
                                    click_grid=False)
    maps = [t for t in fig.data if t.type == "heatmap"]
    carriers = [t for t in maps if t.customdata is not None]
    assert len(carriers) == len(bm.configs)  # one a map
    for t in carriers:
        assert t.hoverinfo != "skip" and np.isfinite(np.asarray(t.z, dtype=float)).any()
    assert all(t.hoverinfo == "skip" for t in maps if t.customdata is None)


@pytest.mark.parametrize("stacked", [False, True])
@pytest.mark.parametrize("color_by", list(sweep_charts.COLOR_BY))
def test_basin_figure_is_valid_plotly(basin, color_by, stacked):
    """Built as plain JSON, unchecked: Plotly's own validators must find nothing to refuse."""
    import json

    import plotly.graph_objects as go

    from optviz.charts.common import to_json

    for clickable in (False, True):
        fig = sweep_charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=20), color_by, clickable=clickable,
                                        click_grid=not clickable, stacked=stacked)
        go.Figure(json.loads(to_json(fig)))  # raises on a misspelt or ill-typed property


def test_basin_figure_stacks_its_maps_on_a_phone(basin):
    """One map a row, each full width; the colour bar beside its own map, not over the next title."""
    fig = sweep_charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=20), "loss", stacked=True)
    x1, x2, y1, y2 = fig.layout.xaxis, fig.layout.xaxis2, fig.layout.yaxis, fig.layout.yaxis2
    assert tuple(x1.domain) == tuple(x2.domain) and y2.domain[1] < y1.domain[0]
    bars = [t for t in fig.data if t.type == "heatmap" and t.showscale]
    assert len(bars) == 1
    lo, hi = fig.layout["yaxis" + bars[0].yaxis[1:]].domain
    assert lo <= bars[0].colorbar.y - bars[0].colorbar.len / 2 and bars[0].colorbar.y + bars[0].colorbar.len / 2 <= hi


def test_basin_figure_refuses_an_unknown_colouring(basin):
    with pytest.raises(ValueError):
        sweep_charts.basin_figure(basin, charts.surface_grid(HIMMELBLAU, n=20), "rainbow")


def test_heatmap_figure_marks_the_best_cell_and_polyaks_point():
    x, y = sweeps.Axis("lr", 0.1, 10, 15, log=True), sweeps.Axis("momentum", 0, 0.95, 10)
    hm = sweeps.heatmap(QUADRATIC, RunConfig("SGD"), x, y, 60, dtype="float64")
    polyak = sweeps.polyak_point(QUADRATIC)
    fig = sweep_charts.heatmap_figure(hm, polyak, clickable=True)
    j, i = hm.best_cell()
    best = _named(fig, "best cell")[0]
    assert (best.x[0], best.y[0]) == (x.values[i], y.values[j])
    star = _named(fig, "Polyak")[0]
    assert (star.x[0], star.y[0]) == polyak
    assert _named(fig, "diverged") and fig.layout.xaxis.type == "log"
    click = _named(fig, "click")[0]
    assert len(click.x) == 150 and list(click.customdata[0][:2]) == [0, 0]
    assert "Polyak" not in str([t.name for t in sweep_charts.heatmap_figure(hm).data])
    cells = sweep_charts.heatmap_figure(hm, polyak, clickable=True, click_grid=False)
    assert not _named(cells, "click")
    maps = [t for t in cells.data if t.type == "heatmap"]
    carriers = [t for t in maps if t.customdata is not None]  # one layer carries the cells' numbers
    assert len(maps) == 2 and len(carriers) == 1 and all(t.hoverinfo == "skip" for t in maps if t not in carriers)
    for t in carriers:
        custom = np.asarray(t.customdata)
        assert custom.shape == (*np.shape(t.z), 4) and tuple(custom[4, 9, :2]) == (4, 9)
        assert custom[4, 9, 2] == hm.final_loss[4, 9] and "%{customdata[2]:.3g}" in t.hovertemplate
        assert "click: watch this run" in t.hovertemplate


def test_lr_sweep_figure_of_a_training():
    """A sweep on a dataset has no known minimum: losses on their own axis, still marking the best lr."""
    task = Task(DataConfig("moons", {"n_samples": 60}), "logistic", {}, "bce", batch_size=15, epochs=2)
    sweep = sweeps.lr_sweep(task, [RunConfig("Adam")], sweeps.log_lrs(1e-3, 10.0, 6))
    values, log = sweep_charts.loss_gap(task, np.array([0.5, 0.1]))
    assert values.tolist() == [0.5, 0.1] and log
    fig = sweep_charts.lr_sweep_figure(sweep)
    star = [t for t in fig.data if t.name == "Adam best lr"]
    assert len(star) == 1 and star[0].x[0] == sweep.best_lr(0)
    assert fig.layout.yaxis.type == "log" and "Final loss f<br>after 6 steps" in fig.layout.annotations[0].text
    x, y = sweeps.Axis("lr", 0.01, 1, 3, log=True), sweeps.Axis("betas[0]", 0.5, 0.9, 2)
    hm = sweeps.heatmap(task, RunConfig("Adam"), x, y)
    assert sweep_charts.heatmap_figure(hm).data[0].colorbar.title.text == "final<br>log₁₀(f)"
    quadratic = sweeps.heatmap(QUADRATIC, RunConfig("SGD"), x, sweeps.Axis("momentum", 0, 0.9, 2), 10)
    assert sweep_charts.heatmap_figure(quadratic).data[0].colorbar.title.text == "final<br>log₁₀(f − f*)"


LINK = '<a href="https://example.com">me</a>'


def test_a_label_is_shown_as_text_in_every_sweep_chart(lr_sweep, basin):
    """A run's label comes from a link: Plotly would render its HTML (a link, bold) in titles,
    names and hover."""
    def named(result):
        return replace(result, configs=tuple(replace(c, label=LINK) for c in result.configs))

    x, y = sweeps.Axis("lr", 0.1, 10, 3, log=True), sweeps.Axis("momentum", 0, 0.9, 2)
    hm = sweeps.heatmap(QUADRATIC, RunConfig("SGD", label=LINK), x, y, 20, dtype="float64")
    grid = charts.surface_grid(HIMMELBLAU, n=20)
    figures = [sweep_charts.lr_sweep_figure(named(lr_sweep)), sweep_charts.heatmap_figure(hm)]
    figures += [sweep_charts.basin_figure(named(basin), grid, c) for c in charts.COLOR_BY]
    for fig in figures:
        text = fig.to_json()
        assert "<a href" not in text and "&lt;a href" in text


def test_lr_sweep_figure_stacks_its_panels_on_a_phone(lr_sweep):
    side = sweep_charts.lr_sweep_figure(lr_sweep)
    fig = sweep_charts.lr_sweep_figure(lr_sweep, stacked=True)
    assert tuple(fig.layout.xaxis.domain) == tuple(fig.layout.xaxis2.domain)
    assert fig.layout.yaxis2.domain[1] < fig.layout.yaxis.domain[0]
    # The same traces on the same panels: a panel's axes are x/y (final loss) or x2/y2 (best loss).
    assert [(t.name, t.xaxis, t.yaxis) for t in fig.data] == [(t.name, t.xaxis, t.yaxis) for t in side.data]
    assert fig.layout.yaxis.range == side.layout.yaxis.range and fig.layout.height > side.layout.height
