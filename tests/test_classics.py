"""The classics: every entry's verdict is a test (a change that breaks the physics fails here),
plus the pieces they stand on: the rate fit, the box-counting dimension, the per-layer GD
held to torch's SGD with two param groups, and the CLI's exit status."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from optviz import classics
from optviz.classics import CLASSICS, FractalNet, Verdict, box_dimension, fit_rate, train_grid
from optviz.cli import main as cli_main
from optviz.engine import intra_op_threads
from optviz.experiment import Experiment

SLOW = {"adam-amsgrad", "edge-of-stability", "rosenbrock", "fractal-trainability"}


@pytest.fixture(autouse=True)
def _one_thread():
    with intra_op_threads(1):
        yield


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in CLASSICS])
def test_each_classic_is_reproduced(name):
    data, verdict = classics.judge(CLASSICS[name])
    assert isinstance(verdict, Verdict) and isinstance(verdict.reproduced, bool)
    assert verdict.reproduced, verdict.text
    assert re.search(r"\d", verdict.text)  # the sentence carries the measured numbers


@pytest.mark.parametrize("name", list(CLASSICS))
def test_each_entry_states_claim_source_and_two_sentences_of_outcome(name):
    c = CLASSICS[name]
    assert c.id == name and c.title and c.claim and c.source
    assert len(re.findall(r"[.!?](?:\s|$)", c.expected)) == 2, c.expected
    if c.experiment is not None:
        assert isinstance(c.experiment, Experiment) and c.experiment.runs
        c.experiment.problem.build()


def test_fit_rate_of_a_geometric_and_a_double_root_sequence():
    t = np.arange(200)
    assert math.isclose(fit_rate(3 * (-0.9) ** t), 0.9, rel_tol=1e-12)
    assert math.isclose(fit_rate((2 + 5 * t) * 0.8**t, double_root=True), 0.8, rel_tol=2e-3)


def test_box_dimension_of_a_line_and_a_filled_square():
    line = np.zeros((128, 128), dtype=bool)
    line[64] = True
    assert abs(box_dimension(line) - 1) < 0.05
    assert abs(box_dimension(np.ones((128, 128), dtype=bool)) - 2) < 0.05


def test_per_layer_gd_equals_torch_sgd_with_two_param_groups():
    """A few cells of the fractal grid, each against torch's SGD with one param group per layer."""
    net = FractalNet()
    lr1, lr2 = torch.tensor([0.05, 0.5, 2.0, 8.0]), torch.tensor([0.3, 0.02, 1.0, 6.0])
    steps = 30
    diverged_at, speed = train_grid(net, lr1, lr2, steps, dtype=torch.float64)
    x, y, w1_0, w2_0 = net.data()
    for k in range(len(lr1)):
        w1, w2 = w1_0.clone().requires_grad_(), w2_0.clone().requires_grad_()
        opt = torch.optim.SGD([{"params": [w1], "lr": float(lr1[k])}, {"params": [w2], "lr": float(lr2[k])}])
        logs, first, div = [], None, -1
        for t in range(steps):
            opt.zero_grad()
            loss = ((torch.tanh(x @ w1) @ w2 - y) ** 2).mean()
            first = loss.item() if first is None else first
            if not math.isfinite(loss.item()) or loss.item() > 1e6 * first:
                div = t
                break
            logs.append(math.log10(loss.item()))
            loss.backward()
            opt.step()
        assert diverged_at[k] == div
        assert math.isclose(speed[k], float(np.mean(logs)), rel_tol=1e-10, abs_tol=1e-12)
    assert (diverged_at < 0).any() and (diverged_at >= 0).any()  # both outcomes among these cells


def _small_grid(num: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    lx, ly = classics.FRACTAL_VIEW.axes(num)
    g1, g2 = np.meshgrid(10.0**lx, 10.0**ly)
    return torch.as_tensor(g1.ravel()), torch.as_tensor(g2.ravel())


def test_dropping_diverged_runs_from_the_batch_changes_no_outcome():
    lr1, lr2 = _small_grid()
    every_step = train_grid(FractalNet(), lr1, lr2, 60, dtype=torch.float64, compact_every=1)
    never = train_grid(FractalNet(), lr1, lr2, 60, dtype=torch.float64, compact_every=10**9)
    assert (every_step[0] == never[0]).all() and (every_step[0] >= 0).any()
    np.testing.assert_allclose(every_step[1], never[1], rtol=1e-12)


def test_float32_grid_agrees_with_float64_on_almost_every_cell():
    """Cells on the boundary may flip (it is chaotic there); the rest may not."""
    lr1, lr2 = _small_grid()
    single, double = (
        train_grid(FractalNet(), lr1, lr2, 100, dtype=dt)[0] >= 0 for dt in (torch.float32, torch.float64)
    )
    assert (single == double).mean() >= 0.98


def test_lbfgs_evaluations_are_counted_by_the_closure_and_by_torch_alike():
    out = classics.lbfgs_evaluations()
    assert out["calls"] == out["func_evals"] and out["loss"] < 1e-8 and out["calls"] < 100


def test_the_cli_prints_verdicts_and_exits_1_when_one_is_not_reproduced(monkeypatch, capsys):
    assert cli_main(["classics", "optimal-momentum"]) == 0
    assert "optimal-momentum: reproduced: heavy ball contracts by 0.818" in capsys.readouterr().out
    broken = classics.Classic(
        "broken", "t", "c", "s", "One. Two.", lambda device=None: {}, lambda d: Verdict(False, "measured 0")
    )
    monkeypatch.setitem(CLASSICS, "broken", broken)
    assert cli_main(["classics", "broken"]) == 1
    assert "broken: NOT reproduced: measured 0" in capsys.readouterr().out
    assert cli_main(["classics", "nope"]) == 2
    assert "unknown classic 'nope'" in capsys.readouterr().err


# -- figures and the page ----------------------------------------------------------------------


def test_every_classic_has_a_figure():
    from optviz.charts.classics import FIGURES

    assert set(FIGURES) == set(CLASSICS)


@pytest.mark.parametrize("name", ["lr-too-large", "optimal-momentum", "himmelblau-basins"])
def test_quick_figures_draw_the_measured_paths(name):
    from optviz.charts.classics import classic_figure

    fig = classic_figure(name, CLASSICS[name].run())
    assert fig.data and all(len(t.x) for t in fig.data if t.x is not None)


def test_fractal_figure_colours_cells_by_outcome():
    from optviz.charts.classics import fractal_figure, fractal_z

    grid = classics.fractal_grid(classics.FRACTAL_VIEW, 24, 40)
    z = fractal_z(grid)
    assert ((z >= 1) == grid["diverged"]).all() and ((0 <= z) & (z <= 2)).all()
    fig = fractal_figure({"grids": [grid]})
    assert fig.data[0].type == "heatmap" and fig.data[1].customdata.shape[1] == 3


APP = str(__import__("pathlib").Path(__file__).resolve().parents[1] / "app.py")


def _classics_page(query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180).run()
    at._page_hash = next(h for h, i in at._registered_pages.items() if i.get("url_pathname") == "classics")
    at.query_params = dict(query or {})
    return at.run()


def _ok(at) -> None:
    assert not at.exception, at.exception


def test_page_runs_a_classic_in_one_click_and_shows_the_verdict():
    at = _classics_page()
    _ok(at)
    assert "Classics" in at.markdown[0].value and at.info
    at.button(key="cl.run.optimal-momentum").click().run()
    _ok(at)
    assert at.query_params["classic"] == ["optimal-momentum"] or at.query_params["classic"] == "optimal-momentum"
    assert "Reproduced" in at.success[0].value and "0.818" in at.success[0].value
    assert any("Polyak" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    assert at.button(key="cl.open")


def test_a_link_opens_its_classic_and_the_run_opens_in_the_surfaces_page():
    at = _classics_page({"classic": "himmelblau-basins"})
    _ok(at)
    assert "4 of 4 minima reached" in at.success[0].value
    at.button(key="cl.open").click().run()
    _ok(at)
    assert at.query_params["surface"] in ("himmelblau", ["himmelblau"])


def test_fractal_page_zooms_into_a_clicked_window(monkeypatch):
    """A small grid (AppTest cannot click inside Plotly: the click's window goes in as state)."""
    from dataclasses import replace

    small = replace(CLASSICS["fractal-trainability"], run=lambda device=None: classics._fractal(num=32, steps=30))
    monkeypatch.setitem(CLASSICS, "fractal-trainability", small)
    at = _classics_page({"classic": "fractal-trainability"})
    _ok(at)
    assert at.success or at.error  # a verdict either way at this size
    assert any("Click a cell to zoom in" in c.value for c in at.caption)
    at.session_state["cl.zoom"] = (0.5, -0.25, 0.1)
    at.run()
    _ok(at)
    assert len(at.get("plotly_chart")) == 2
    assert any("Zoomed in" in m.value and "0.5000" in m.value for m in at.markdown)


def test_a_fractal_link_round_trips_and_bad_values_keep_the_classics_with_a_warning():
    window = classics.Window(0.123456789012, -1.5, 3.2e-7)
    back = classics.fractal_from_link({k: [v] for k, v in classics.fractal_link(window, 64, 90).items()})
    assert back[1:] == (64, 90, []) and abs(back[0].x - window.x) < 1e-10 and back[0].half == window.half
    w, num, steps, warnings = classics.fractal_from_link({"x": "nope", "half": "-1", "num": "12.5", "steps": "40"})
    assert (w, num, steps) == (classics.FRACTAL_VIEW, classics.FRACTAL_NUM, 40) and len(warnings) == 3


def _sweeps_page(query: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180).run()
    at._page_hash = next(h for h, i in at._registered_pages.items() if i.get("url_pathname") == "sweeps")
    at.query_params = query
    return at.run()


def test_the_sweeps_page_maps_trainability_from_a_link_and_zooms_on_a_click():
    window = classics.Window(0.5, -0.25, 0.75)
    at = _sweeps_page(classics.fractal_link(window, 24, 30))
    _ok(at)
    assert not at.error and at.session_state["sw.section"] == "fractal"
    assert len(at.get("plotly_chart")) == 1
    assert any("Box-counting dimension" in c.value for c in at.caption)
    at.session_state["sw.fr.pending"] = (0.6, -0.2, 0.75 / 4)  # what a click on a cell leaves (AppTest cannot click)
    at.run()
    _ok(at)
    assert classics.fractal_from_link(dict(at.query_params))[0] == classics.Window(0.6, -0.2, 0.1875)
    at.button(key="sw.fr.reset").click().run()
    _ok(at)
    assert classics.fractal_from_link(dict(at.query_params))[0] == classics.FRACTAL_VIEW


def test_the_fractal_classic_opens_on_the_sweeps_page(monkeypatch):
    from dataclasses import replace

    small = replace(
        CLASSICS["fractal-trainability"],
        run=lambda device=None: classics._fractal(num=24, steps=30),
        sweep=classics.fractal_link(classics.FRACTAL_VIEW, 24, 30),
    )
    monkeypatch.setitem(CLASSICS, "fractal-trainability", small)
    at = _classics_page({"classic": "fractal-trainability"})
    _ok(at)
    at.button(key="cl.open").click().run()
    _ok(at)
    assert at.query_params["mode"] in ("fractal", ["fractal"]) and at.session_state["sw.section"] == "fractal"
    assert len(at.get("plotly_chart")) == 1


def test_a_classic_with_an_engine_sweep_link_opens_that_section(monkeypatch):
    """The Sweeps page opens any of its links, not only the trainability map's."""
    from dataclasses import replace

    from optviz.codec import SWEEP_DEFAULTS, encode_sweep

    settings = replace(SWEEP_DEFAULTS["lr"], num=12, steps=40)
    small = replace(CLASSICS["lr-too-large"], experiment=None, sweep=encode_sweep("lr", settings))
    monkeypatch.setitem(CLASSICS, "lr-too-large", small)
    at = _classics_page({"classic": "lr-too-large"})
    _ok(at)
    at.button(key="cl.open").click().run()
    _ok(at)
    assert at.session_state["sw.section"] == "lr" and at.session_state["sw.settings"]["lr"] == settings
    assert len(at.get("plotly_chart")) == 1


def test_a_deep_zoom_runs_in_float64(monkeypatch):
    """Past float32's 7 digits neighbouring cells would train at the same lrs."""
    seen = []
    real = classics.train_grid
    monkeypatch.setattr(classics, "train_grid", lambda *a, dtype, **k: seen.append(dtype) or real(*a, dtype=dtype, **k))
    classics.fractal_grid(classics.FRACTAL_VIEW, 16, 5)
    classics.fractal_grid(classics.Window(0.3, 0.1, 1e-6), 16, 5)
    assert seen == [torch.float32, torch.float64]


def test_a_hand_edited_trainability_link_is_brought_within_bounds_with_a_warning():
    at = _sweeps_page({"mode": "fractal", "num": "100000", "steps": "40", "half": "1e-300"})
    _ok(at)
    assert any("brought within this server's bounds" in w.value for w in at.warning)
    assert at.session_state["sw.fr.num"] == 200 and at.session_state["sw.fr.half"] == 1e-12


def test_the_trainability_map_fits_a_server_with_a_small_grid_limit(monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_GRID", "5")
    at = _sweeps_page(classics.fractal_link(classics.FRACTAL_VIEW, 24, 10))
    _ok(at)
    assert at.session_state["sw.fr.num"] == 5 and any("num=5" in w.value for w in at.warning)
