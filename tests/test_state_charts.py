"""Inside the optimizer: the arrows, the state panel, the step card and the curvature,
checked against the recorded arrays, torch's own Hessian and numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optviz import charts, codec, curvature, presets
from optviz.charts import state as inside
from optviz.engine import RunConfig, run
from optviz.problems import SurfaceProblem
from optviz.ui.inside import RECORD
from optviz.ui.maths import step_latex

RUNS = [
    RunConfig("SGD", {"lr": 1e-3}, label="SGD"),
    RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}, label="momentum"),
    RunConfig("Adam", {"lr": 0.02}, label="Adam"),
]


@pytest.fixture(scope="module")
def recorded():
    problem = SurfaceProblem("rosenbrock").build()
    result = run(problem, RUNS, steps=60, record=RECORD, dtype="float64")
    return problem, result


def test_arrows_are_the_recorded_vectors(recorded):
    _, result = recorded
    a = inside.as_torch_keeps(result.arrays, result.resolved)
    vec = inside.arrow_vectors(a)
    np.testing.assert_array_equal(vec["gradient"], -a["grad"])
    np.testing.assert_array_equal(vec["update"][:-1], a["params"][1:] - a["params"][:-1])
    assert np.isnan(vec["update"][-1]).all()
    # Plain SGD keeps no buffer; heavy ball its momentum_buffer; Adam its exp_avg.
    assert np.isnan(vec["momentum"][:, 0]).all()
    np.testing.assert_array_equal(vec["momentum"][:-1, 1], -a["state/momentum_buffer"][:, 1])
    np.testing.assert_array_equal(vec["momentum"][:-1, 2], -a["state/exp_avg"][:, 2])


def test_race_figure_moves_the_arrows_with_its_frames_and_states_their_scales(recorded):
    problem, result = recorded
    styles = charts.styles([r.label for r in RUNS])
    fig = charts.race_figure(
        problem, inside.as_torch_keeps(result.arrays, result.resolved), styles, arrows=True
    ).to_dict()
    legend = [t["name"] for t in fig["data"] if t.get("legendgroup", "").startswith("arrow-") and "name" in t]
    assert [n.split(" ×")[0] for n in legend] == ["−∇f", "−momentum", "update taken"]
    assert all("× " in n for n in legend)
    frames = fig["frames"]
    assert all(len(f["data"]) == len(f["traces"]) for f in frames)
    arrow_traces = [i for i, t in enumerate(fig["data"]) if t.get("marker", {}).get("symbol") == "arrow"]
    assert len(arrow_traces) == 3 * len(RUNS)
    assert set(arrow_traces) <= set(frames[0]["traces"])
    # At frame k, run 0's gradient arrow starts at its point k and points along -g_k.
    k = int(frames[5]["name"])
    slot = frames[5]["traces"].index(arrow_traces[0])
    seg = frames[5]["data"][slot]
    np.testing.assert_allclose([seg["x"][0], seg["y"][0]], result.arrays["params"][k, 0])
    direction = np.array([seg["x"][1] - seg["x"][0], seg["y"][1] - seg["y"][0]])
    g = -result.arrays["grad"][k, 0]
    assert np.dot(direction, g) / (np.linalg.norm(direction) * np.linalg.norm(g)) == pytest.approx(1.0)
    # Hovering the path shows the recorded state of each point.
    path = next(t for t in fig["data"] if t.get("name") == "Adam" and t.get("mode") == "lines")
    assert "exp_avg_sq = " in path["hovertemplate"] and "lr = " in path["hovertemplate"]
    hover, template = inside.path_hover(result.arrays, 2, np.arange(5))
    assert hover.shape == (5, 2 + 2 + 1 + 4) and template.count("customdata") == 1 + 1 + 2 + 1 + 4
    np.testing.assert_allclose(hover[3, 7:9], result.arrays["state/exp_avg_sq"][3, 2], rtol=1e-6)
    plain = charts.race_figure(problem, result.arrays, styles).to_dict()
    assert not any(t.get("marker", {}).get("symbol") == "arrow" for t in plain["data"])


def test_effective_lr_is_lr_for_sgd_and_adams_rescaling(recorded):
    _, result = recorded
    a = inside.as_torch_keeps(result.arrays, result.resolved)
    eff = inside.effective_lr(a)
    np.testing.assert_allclose(eff[:, 0], 1e-3, rtol=1e-9)
    t = np.arange(1, len(eff) + 1)[:, None]
    m_hat = a["state/exp_avg"][:, 2] / (1 - 0.9**t)
    v_hat = a["state/exp_avg_sq"][:, 2] / (1 - 0.999**t)
    expected = 0.02 * m_hat / (np.sqrt(v_hat) + 1e-8) / a["grad"][:-1, 2]
    np.testing.assert_allclose(eff[:, 2], expected, rtol=1e-8)
    series = inside.state_series(a, 2)
    assert set(series["norms"]) == {"‖g‖", "‖exp_avg‖", "‖exp_avg_sq‖"}
    assert set(series["effective"]) == {"x", "y", "lr"}
    np.testing.assert_allclose(inside.state_series(a, 0)["cosine"]["cos(−g, update)"], 1.0)
    fig = inside.state_figure(a, 2, charts.styles(["Adam"])[0], step=7).to_dict()
    assert fig["layout"]["shapes"][0]["x0"] == 7
    # SGD's step ÷ g is lr up to rounding: its axis spans a decade, not the rounding.
    low, high = inside.state_figure(a, 0, charts.styles(["SGD"])[0]).to_dict()["layout"]["yaxis2"]["range"]
    assert high - low >= 1 and low < -3 < high
    # A label at each power of ten where the panel spans one; 1, 2, 5 only inside a decade.
    layout = inside.state_figure(a, 0, charts.styles(["SGD"])[0]).to_dict()["layout"]
    assert layout["yaxis"]["dtick"] == 1 and layout["yaxis2"]["dtick"] == 1
    assert inside.log_ticks([-3.2, -2.9]) == {"range": [-3.2, -2.9], "dtick": "D2"}


@pytest.mark.parametrize("r", [1, 2])
def test_the_step_card_substitutes_recorded_numbers_that_give_the_next_point(recorded, r):
    _, result = recorded
    t = 11
    values = inside.step_values(result.arrays, r, t - 1)
    res = result.resolved[r]
    lines = step_latex(res["optimizer"], res["hparams"], values, t)
    assert len(lines) == 3 + 2  # recorded values, buffers, next point; then x and y substituted
    assert lines[-2].startswith("x_{11} =") and lines[-1].startswith("y_{11} =")
    # The card's formula, from the recorded buffers alone, lands on the recorded point.
    if res["optimizer"] == "SGD":
        new = values["theta"] - values["lr"] * values["momentum_buffer"]
    else:
        m_hat, v_hat = values["exp_avg"] / (1 - 0.9**t), values["exp_avg_sq"] / (1 - 0.999**t)
        new = values["theta"] - values["lr"] * m_hat / (np.sqrt(v_hat) + 1e-8)
    np.testing.assert_allclose(new, values["next"], rtol=1e-12)
    # On a phone the same terms are stacked, and each substituted line ends on its own row.
    narrow = step_latex(res["optimizer"], res["hparams"], values, t, narrow=True)
    assert len(narrow) == len(lines) and r"\quad" not in narrow[0] and narrow[0].startswith(r"\begin{gathered}")
    assert narrow[-1].startswith(r"\footnotesize\begin{aligned} y_{11} &= ")
    assert narrow[-1].endswith(rf"\\ &= {lines[-1].split(' = ')[-1]} \end{{aligned}}")


def test_sharpness_is_torchs_dense_hessian(recorded):
    problem, result = recorded
    pc = curvature.path_curvature(problem.loss, result.arrays, result.resolved)
    for k in (0, 17, 60):
        for r in (0, 1):
            point = torch.tensor(result.arrays["params"][k, r], dtype=torch.float64)
            h = torch.autograd.functional.hessian(lambda p: problem.loss(p[None])[0], point)
            assert pc.sharpness[k, r] == pytest.approx(float(torch.linalg.eigvalsh(h)[-1]), rel=1e-10)
    # Adam's: the eigenvalues of P^-1 H, P = diag(sqrt(v_hat)) + eps, from the recorded v.
    k = 20
    point = torch.tensor(result.arrays["params"][k, 2], dtype=torch.float64)
    h = torch.autograd.functional.hessian(lambda p: problem.loss(p[None])[0], point).numpy()
    p = np.sqrt(result.arrays["state/exp_avg_sq"][k, 2] / (1 - 0.999 ** (k + 1))) + 1e-8
    assert pc.sharpness[k, 2] == pytest.approx(max(np.linalg.eigvals(np.diag(1 / p) @ h).real), rel=1e-9)
    assert pc.measure == ["λ_max(H)", "λ_max(H)", "λ_max(P⁻¹H)"]
    assert [line[1] for line in pc.lines] == ["2/η", "2(1+β)/η", "(2+2β₁)/((1−β₁)η)"]
    np.testing.assert_allclose(pc.lines[2][0], 38 / 0.02)
    inside.sharpness_figure(
        pc.sharpness, pc.lines, charts.styles(["a", "b", "c"]), step=3, measures=pc.measure
    ).to_dict()


def test_stability_passes_below_two_over_eta_and_fails_above():
    # A 1:100 bowl: lambda_max = 100, so GD is stable iff lr < 0.02 and heavy ball (0.9) iff lr < 0.038.
    bowl = lambda p, step=0: 0.5 * (p[:, 0] ** 2 + 100 * p[:, 1] ** 2)  # noqa: E731
    params = np.zeros((3, 3, 2))
    arrays = {"params": params, "lr": np.full((2, 3), 0.0)}
    arrays["lr"][:] = [0.019, 0.021, 0.03]
    resolved = [
        {
            "optimizer": "SGD",
            "hparams": {"lr": lr, "momentum": m, "dampening": 0.0, "nesterov": False, "weight_decay": 0.0},
        }
        for lr, m in ((0.019, 0.0), (0.021, 0.0), (0.03, 0.9))
    ]
    pc = curvature.path_curvature(bowl, arrays, resolved)
    rows = curvature.stability_rows(pc, ["a", "b", "c"], 1)
    assert [row["stable"] for row in rows] == ["pass", "fail", "pass"]
    assert rows[0]["value"] == pytest.approx(100.0)


def test_the_inside_view_is_kept_in_the_link():
    exp = presets.SURFACE_DEFAULT
    params = codec.encode(exp, codec.View(inside=True))
    assert params["inside"] == "1"
    _, view, warnings = codec.decode(params, exp)
    assert view.inside and not warnings
    assert "inside" not in codec.encode(exp, codec.View())
    _, view, warnings = codec.decode({**params, "inside": "yes"}, exp)
    assert not view.inside and warnings


def test_a_scalar_state_is_shown_as_itself_not_as_a_norm():
    problem = SurfaceProblem("rosenbrock").build()
    result = run(problem, [RunConfig("ASGD", {"lr": 1e-3})], steps=5, record=RECORD, dtype="float64")
    norms = inside.state_series(result.arrays, 0)["norms"]
    assert "eta" in norms and "‖ax‖" in norms
    np.testing.assert_allclose(norms["eta"], result.arrays["state/eta"][:, 0, 0])


def test_bias_corrections_are_one_minus_beta_to_the_t_where_torch_divides_by_them(recorded):
    _, result = recorded
    t = np.arange(1, 61)
    adam = inside.bias_corrections("Adam", {"betas": (0.9, 0.999)}, 60)
    np.testing.assert_array_equal(adam["1−β₁ᵗ"], 1 - 0.9**t)
    np.testing.assert_array_equal(adam["1−β₂ᵗ"], 1 - 0.999**t)
    assert set(inside.bias_corrections("NAdam", {"betas": (0.9, 0.999)}, 5)) == {"1−β₂ᵗ"}  # m: μ products
    assert set(inside.bias_corrections("Adamax", {"betas": (0.9, 0.999)}, 5)) == {"1−β₁ᵗ"}
    assert inside.bias_corrections("SGD", {}, 5) == {}
    # The state panel draws them (its fourth panel) for the Adam run, from its resolved betas.
    a = inside.as_torch_keeps(result.arrays, result.resolved)
    series = inside.state_series(a, 2, result.resolved[2])
    np.testing.assert_array_equal(series["bias"]["1−β₂ᵗ"], 1 - 0.999**t)
    assert "bias" not in inside.state_series(a, 1, result.resolved[1])
    fig = inside.state_figure(a, 2, charts.styles(["Adam"])[0], resolved=result.resolved[2]).spec
    drawn = next(tr for tr in fig["data"] if tr["name"] == "1−β₁ᵗ")
    assert drawn["yaxis"] == "y4"
    np.testing.assert_allclose(drawn["y"], 1 - 0.9 ** t[drawn["x"]])


def test_adams_per_coordinate_step_size_is_what_moved_it(recorded):
    """lr/(√v̂+ε) from the recorded v, times the bias-corrected m, is torch's step."""
    _, result = recorded
    a = inside.as_torch_keeps(result.arrays, result.resolved)
    res = result.resolved[2]
    size = inside.adaptive_lr(a, 2, res["optimizer"], res["hparams"])
    t = np.arange(1, 61)[:, None]
    step = size * a["state/exp_avg"][:, 2] / (1 - 0.9**t)
    np.testing.assert_allclose(step, a["params"][:-1, 2] - a["params"][1:, 2], rtol=1e-10)
    assert {"lr/(√v̂+ε) x", "lr/(√v̂+ε) y"} <= set(inside.state_series(a, 2, res)["effective"])
    assert inside.adaptive_lr(a, 0, "SGD", result.resolved[0]["hparams"]) is None


@pytest.mark.parametrize("surface, point", [("rosenbrock", (0.5, 0.25)), ("saddle", (0.3, -0.2))])
def test_the_cross_is_the_dense_hessians_eigenvectors(surface, point):
    problem = SurfaceProblem(surface).build()
    points = np.array([point, [np.nan, np.nan]])  # a diverged run draws nothing
    hess = curvature.hessian_2d(problem.loss, torch.tensor(points))
    grid = charts.surface_grid(problem, n=30)
    styles = charts.styles(["run", "gone"])
    fig = inside.hessian_cross_figure(
        grid, points, hess.eigenvalues.numpy(), hess.eigenvectors.numpy(), styles, step=3
    ).spec
    arms = [tr for tr in fig["data"] if tr.get("name", "").startswith("run λ_")]
    assert len(arms) == 2 and not any(tr.get("name", "").startswith("gone") for tr in fig["data"])
    dense = torch.autograd.functional.hessian(lambda p: problem.loss(p[None])[0], torch.tensor(point))
    values, vectors = np.linalg.eigh(dense.numpy())
    length = inside.CROSS_REACH * min(grid.x[-1] - grid.x[0], grid.y[-1] - grid.y[0])
    for k, name in ((1, "run λ_max"), (0, "run λ_min")):
        arm = next(tr for tr in arms if tr["name"] == name)
        a, b = np.array([arm["x"][0], arm["y"][0]]), np.array([arm["x"][1], arm["y"][1]])
        np.testing.assert_allclose((a + b) / 2, point, atol=1e-12)  # centred on the run's point
        half = (b - a) / 2
        assert abs(np.dot(half, vectors[:, k])) / np.linalg.norm(half) == pytest.approx(1.0, abs=1e-6)
        expected = length * np.sqrt(abs(values[k]) / np.abs(values).max())
        assert np.linalg.norm(half) == pytest.approx(expected, rel=1e-6)
        assert arm["line"]["dash"] == ("dash" if values[k] < 0 else "solid")
    assert (values < 0).any() == (surface == "saddle")
    assert any("longest 12% of the view" in tr.get("name", "") for tr in fig["data"])
