"""Inside the optimizer: arrows at a point, the state over steps, curvature along the path.

Pure functions of the engine's recorded arrays (``record=(..., "grad", "state")``):
``params`` and ``grad`` are ``(points, runs, dims)``, ``lr`` is ``(steps, runs)``
and each ``state/<name>`` is ``(steps, runs, dims)``, the buffer *after* update
``t`` (the one that moved point ``t`` to ``t + 1``), NaN for a run whose
optimizer has no such buffer. Nothing here recomputes a step: what is drawn is
what torch's optimizer held.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..analysis import thin
from ..optim import OPTIMIZERS
from .common import FONT, SURFACE_COLORS, TEMPLATE, AnimatedFigure, Grid, Style, decade_dtick

# torch's names for the buffer an update follows (SGD's momentum, Adam's first moment).
FIRST_MOMENT = ("exp_avg", "momentum_buffer")
# Torch's second-moment buffers: what makes a method adaptive (per-coordinate step sizes).
SECOND_MOMENT = ("exp_avg_sq", "square_avg", "sum", "exp_inf")
# An arrow's length: at most this fraction of the smaller side of the domain, for
# the 95th percentile of its kind's lengths (a spike may leave the picture, the rest stay readable).
REACH = 0.14


@dataclass(frozen=True)
class ArrowKind:
    """One kind of arrow: how it is named in the legend and drawn."""

    key: str
    label: str
    dash: str
    width: float


ARROW_KINDS = (
    ArrowKind("gradient", "−∇f", "dot", 2.5),
    ArrowKind("momentum", "−momentum", "dash", 2.5),
    ArrowKind("update", "update taken", "solid", 4.0),
)


def as_torch_keeps(arrays: Mapping[str, np.ndarray], resolved: Sequence[Mapping]) -> dict[str, np.ndarray]:
    """The arrays with each buffer torch would not keep blanked out (NaN).

    A batch shares one state across a group (plain SGD beside SGD with momentum), but
    torch keeps a ``momentum_buffer`` only where ``momentum`` is not 0: without one,
    plain SGD shows no momentum arrow and its card no ``b``.
    """
    out = dict(arrays)
    none = [r for r, res in enumerate(resolved) if not res["hparams"].get("momentum")]
    for key in ("state/momentum_buffer", "norms/state/momentum_buffer"):  # every weight, or its norm
        if key in out and none:
            out[key] = out[key].copy()
            out[key][:, none] = np.nan
    return out


def first_moment(arrays: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """Each run's momentum (or first-moment) buffer, ``(steps, runs, dims)``: the first of
    :data:`FIRST_MOMENT` that the run's optimizer keeps; NaN for a run with none."""
    out = None
    for key in FIRST_MOMENT:
        value = arrays.get(f"state/{key}")
        if value is None:
            continue
        out = value.copy() if out is None else np.where(np.isfinite(out), out, value)
    return out


def updates(params: np.ndarray) -> np.ndarray:
    """``θ_{t+1} − θ_t`` per point (the last point has none: NaN), ``(points, runs, dims)``."""
    out = np.full_like(params, np.nan)
    out[:-1] = params[1:] - params[:-1]
    return out


def arrow_vectors(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per kind of arrow, the vector at each point of each run, ``(points, runs, dims)``.

    The gradient and the momentum are drawn negated: the way they push. A
    momentum arrow exists only where some run keeps a first-moment buffer.
    """
    params = arrays["params"]
    out = {"gradient": -arrays["grad"], "update": updates(params)}
    m = first_moment(arrays)
    if m is not None and np.isfinite(m).any():
        padded = np.full_like(params, np.nan)
        padded[: len(m)] = -m
        out["momentum"] = padded
    return out


def arrow_scale(vectors: np.ndarray, reach: float) -> float:
    """The factor that draws the 95th percentile of these arrows' lengths as ``reach``."""
    norms = np.linalg.norm(vectors, axis=-1)
    norms = norms[np.isfinite(norms) & (norms > 0)]
    if not norms.size:
        return 1.0
    return reach / float(np.percentile(norms, 95))


def scale_text(scale: float) -> str:
    """``× 0.0021``: how an arrow's drawn length relates to the vector's."""
    return f"× {scale:.2g}"


def arrow_xy(point: np.ndarray, vector: np.ndarray, scale: float) -> dict:
    """A segment from ``point`` along ``scale·vector`` (nothing where either is NaN)."""
    if not (np.isfinite(point).all() and np.isfinite(vector).all()) or not np.any(vector):
        return dict(x=[None, None], y=[None, None])
    tip = point + scale * vector
    return dict(x=[float(point[0]), float(tip[0])], y=[float(point[1]), float(tip[1])])


def path_hover(arrays: Mapping[str, np.ndarray], run: int, idx: np.ndarray) -> tuple[np.ndarray, str]:
    """Hover for a run's path at points ``idx``: ``customdata`` rows and a template showing the
    step, θ, the loss, ∇f, and the lr and every buffer of the update made from that point."""
    params = arrays["params"][:, run]
    points = len(params)
    cols = [idx.astype(np.float64), arrays["loss"][idx, run]]
    lines = ["step %{customdata[0]}", "θ = (%{x:.4g}, %{y:.4g})", "f = %{customdata[1]:.4g}"]

    def add(name: str, values: np.ndarray) -> None:
        padded = np.full((points, 2), np.nan)
        padded[: len(values)] = values[:points, run, :2]
        k = len(cols)
        cols.extend([padded[idx, 0], padded[idx, 1]])
        lines.append(f"{name} = (%{{customdata[{k}]:.4g}}, %{{customdata[{k + 1}]:.4g}})")

    add("∇f", arrays["grad"])
    if "lr" in arrays:
        lr = np.full(points, np.nan)
        lr[: len(arrays["lr"])] = arrays["lr"][:, run]
        lines.append(f"lr = %{{customdata[{len(cols)}]:.4g}}")
        cols.append(lr[idx])
    for key in sorted(k for k in arrays if k.startswith("state/")):
        if np.isfinite(arrays[key][:, run]).any():
            add(key.removeprefix("state/"), arrays[key])
    template = "<b>%{fullData.name}</b><br>" + "<br>".join(lines) + "<extra></extra>"
    return np.stack(cols, 1).astype(np.float32), template


# -- the state panel -------------------------------------------------------------------


def effective_lr(arrays: Mapping[str, np.ndarray]) -> np.ndarray:
    """The actual step per coordinate divided by the gradient: ``(θ_t − θ_{t+1}) / g_t``,
    ``(steps, runs, dims)``.

    For SGD it is ``lr``; for Adam it is ``lr·m̂/(√v̂+ε) / g``: the per-coordinate
    rescaling that lets Adam cross a 100:1 valley. Where ``g`` is exactly 0: NaN.
    """
    params, grad = arrays["params"], arrays["grad"]
    steps = len(params) - 1
    step = params[:-1] - params[1:]
    g = grad[:steps]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(g != 0, step / g, np.nan)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine of the angle between ``a`` and ``b`` along the last axis (NaN where either is 0)."""
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (a * b).sum(-1) / (na * nb)
    return np.where((na > 0) & (nb > 0), out, np.nan)


# torch's optimizers whose step divides by √v̂ + ε with v̂ = v/(1 − β₂ᵗ): their per-coordinate
# step size is lr/(√v̂ + ε). (RAdam puts ε elsewhere and only once rectified; Adamax divides by u.)
SQRT_V_HAT = ("Adam", "AdamW", "NAdam")
SUBSCRIPTS = "₁₂"


def bias_corrections(optimizer: str, hparams: Mapping, steps: int) -> dict[str, np.ndarray]:
    """torch's bias corrections ``1 − βᵢᵗ`` at updates ``t = 1 .. steps``, by name (``1−β₁ᵗ``),
    for the betas the registry says the optimizer corrects; empty for one that corrects none.

    As torch's ``1 - beta ** step`` with the step a float: in double precision.
    """
    spec = OPTIMIZERS.get(optimizer)
    if spec is None or not spec.bias_corrected:
        return {}
    t = np.arange(1, steps + 1, dtype=np.float64)
    return {f"1−β{SUBSCRIPTS[i]}ᵗ": 1 - float(hparams["betas"][i]) ** t for i in spec.bias_corrected}


def adaptive_lr(arrays: Mapping[str, np.ndarray], run: int, optimizer: str, hparams: Mapping) -> np.ndarray | None:
    """Adam's per-coordinate step size ``lr/(√v̂ₜ + ε)``, ``(steps, dims)``, from the recorded
    second moment (AMSGrad's running maximum where it is on); None for other optimizers."""
    key = "state/max_exp_avg_sq" if hparams.get("amsgrad") else "state/exp_avg_sq"
    if optimizer not in SQRT_V_HAT or key not in arrays or "lr" not in arrays:
        return None
    v = arrays[key][:, run]
    t = np.arange(1, len(v) + 1, dtype=np.float64)[:, None]
    v_hat = v / (1 - float(hparams["betas"][1]) ** t)
    return arrays["lr"][: len(v), run, None] / (np.sqrt(v_hat) + float(hparams["eps"]))


def state_series(arrays: Mapping[str, np.ndarray], run: int, resolved: Mapping | None = None
                 ) -> dict[str, dict[str, np.ndarray]]:
    """What the state panel plots for one run, by panel: norms, effective lr per
    coordinate, and the cosine between −g and the update. Each series is per update.
    With the run's ``resolved`` config, an Adam-family run adds its ``lr/(√v̂+ε)`` per
    coordinate and a ``bias`` panel of torch's bias corrections."""
    params, grad = arrays["params"][:, run], arrays["grad"][:, run]
    steps = len(params) - 1
    norms = {"‖g‖": np.linalg.norm(grad[:steps], axis=-1)}
    for key in sorted(k for k in arrays if k.startswith("state/")):
        value = arrays[key][:steps, run]
        if not np.isfinite(value).any():
            continue
        name = key.removeprefix("state/")
        if (value == value[:, :1]).all() and value.shape[-1] > 1:
            norms[name] = value[:, 0]  # a scalar per run (ASGD's eta, NAdam's mu_product): itself, not √dims × it
        else:
            norms[f"‖{name}‖"] = np.linalg.norm(value, axis=-1)
    eff = effective_lr(arrays)[:, run]
    names = "xyzw" if eff.shape[-1] <= 4 else None
    per_coord = {f"{names[i] if names else i}": eff[:, i] for i in range(min(eff.shape[-1], 4))}
    lr = arrays.get("lr")
    if lr is not None:
        per_coord["lr"] = lr[:steps, run]
    taken = params[1:] - params[:-1]
    out = {"norms": norms, "effective": per_coord, "cosine": {"cos(−g, update)": cosine(-grad[:steps], taken)}}
    if resolved is not None:
        adaptive = adaptive_lr(arrays, run, resolved["optimizer"], resolved["hparams"])
        if adaptive is not None:
            for i in range(min(adaptive.shape[-1], 4)):
                per_coord[f"lr/(√v̂+ε) {names[i] if names else i}"] = adaptive[:steps, i]
        _add_bias(out, resolved, steps)
    return out


def _add_bias(series: dict, resolved: Mapping, steps: int) -> None:
    bias = bias_corrections(resolved["optimizer"], resolved["hparams"], steps)
    if bias:
        series["bias"] = bias


def norm_series(arrays: Mapping[str, np.ndarray], run: int, resolved: Mapping | None = None
                ) -> dict[str, dict[str, np.ndarray]]:
    """The state panel's series for a run recorded with ``norms`` (a model: a few numbers per
    update instead of every weight): ‖g‖, ‖update‖ and each buffer's norm; step ÷ g as its
    10th, 50th and 90th percentile over the weights, with ‖update‖ ÷ ‖g‖ and the lr; the cosine."""
    grad, update = arrays["norms/grad"][:, run], arrays["norms/update"][:, run]
    steps = len(grad)
    norms = {"‖g‖": grad, "‖update‖": update}
    for key in sorted(k for k in arrays if k.startswith(("norms/state/", "norms/scalar/"))):
        value = arrays[key][:, run]
        if np.isfinite(value).any():
            name = key.split("/", 2)[2]
            norms[name if key.startswith("norms/scalar/") else f"‖{name}‖"] = value
    with np.errstate(divide="ignore", invalid="ignore"):
        effective = {"median": arrays["norms/eff_p50"][:, run], "10th %": arrays["norms/eff_p10"][:, run],
                     "90th %": arrays["norms/eff_p90"][:, run], "‖update‖÷‖g‖": update / grad}
    if "lr" in arrays:
        effective["lr"] = arrays["lr"][:steps, run]
    out = {"norms": norms, "effective": effective, "cosine": {"cos(−g, update)": arrays["norms/cos"][:, run]}}
    if resolved is not None:
        _add_bias(out, resolved, steps)
    return out


def _nulls(values: np.ndarray) -> list[float | None]:
    """Plotly's gaps: None where a value is not finite (JSON has no NaN)."""
    return [float(v) if np.isfinite(v) else None for v in values]


def state_figure(arrays: Mapping[str, np.ndarray], run: int, style: Style, *, step: int | None = None,
                 resolved: Mapping | None = None) -> AnimatedFigure:
    """The chosen run's state over steps: stacked panels sharing the step axis.

    Top: ‖g‖ and each state buffer's norm (a scalar state: its value; log). Middle: the effective learning rate
    per coordinate (log; a gap is a step that went against the gradient) with the
    scheduled lr, and Adam's lr/(√v̂+ε). Then cos(−g, update), 1 for plain SGD, and, for an
    Adam-family run (given its ``resolved`` config), torch's bias corrections 1 − βᵢᵗ. A dashed
    line marks ``step``. Arrays recorded with ``norms`` (a model) give norms and percentiles
    over the weights instead of per-coordinate values (:func:`norm_series`).
    """
    per_weight = "grad" in arrays
    series = state_series(arrays, run, resolved) if per_weight else norm_series(arrays, run, resolved)
    steps = len(next(iter(series["norms"].values())))
    t = thin(steps)
    dashes = ["solid", "dash", "dot", "dashdot", "longdash"]
    data = []
    effective = ("Effective lr per coordinate: step ÷ gradient" if per_weight
                 else "Effective lr: step ÷ gradient over the weights (percentiles), ‖update‖ ÷ ‖g‖")
    panels = [("norms", "y", "Norms (log)"), ("effective", "y2", effective), ("cosine", "y3", "cos(−g, update)")]
    if "bias" in series:
        panels.append(("bias", "y4", "Bias corrections 1 − βᵗ (torch divides m and v by them)"))
    for name, axis, _ in panels:
        for i, (label, values) in enumerate(series[name].items()):
            line = dict(color=style.color if label != "lr" else "#555", dash=dashes[i % len(dashes)], width=2.5)
            data.append(dict(type="scatter", x=t, y=_nulls(values[t]),
                             mode="lines", name=label, line=line, xaxis="x", yaxis=axis, legendgroup=name,
                             hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
    shapes = []
    if step is not None:
        shapes.append(dict(type="line", x0=step, x1=step, y0=0, y1=1, xref="x", yref="paper",
                           line=dict(color="#222", width=1.5, dash="dash")))
    if "bias" in series:
        domains = {"y": (0.76, 1.0), "y2": (0.5, 0.7), "y3": (0.26, 0.44), "y4": (0.0, 0.2)}
    else:
        domains = {"y": (0.68, 1.0), "y2": (0.34, 0.62), "y3": (0.0, 0.26)}
    bottom = panels[-1][1]
    extra = {}
    if "bias" in series:
        extra["yaxis4"] = dict(domain=domains["y4"], range=[0, 1.05], title=dict(text="1 − βᵗ"))
    layout = dict(
        height=620 if "bias" not in series else 780, font=FONT, template=TEMPLATE,
        margin=dict(l=64, r=44, t=56, b=48), modebar=dict(orientation="v"),
        legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0, font=dict(size=14)),
        title=dict(text=f"Inside {style.label}", font=dict(size=16), x=0, y=0.995),
        xaxis=dict(anchor=bottom, title=dict(text="step"), range=[0, max(steps, 1)]),
        **extra,
        yaxis=dict(domain=domains["y"], type="log", exponentformat="power", title=dict(text="norm"),
                   **log_ticks(log_range(series["norms"]))),
        yaxis2=dict(domain=domains["y2"], type="log", exponentformat="power", title=dict(text="step ÷ g"),
                    **log_ticks(log_range(series["effective"]))),
        yaxis3=dict(domain=domains["y3"], range=[-1.1, 1.1], title=dict(text="cosine")),
        shapes=shapes,
        annotations=[dict(text=text, x=0, y=domains[axis][1], xref="paper", yref="paper", xanchor="left",
                          yanchor="bottom", showarrow=False, font=dict(size=14)) for _, axis, text in panels[1:]],
    )
    return AnimatedFigure(spec=dict(data=data, layout=layout))


def log_range(series: Mapping[str, np.ndarray], decades: float = 1.0) -> list[float] | None:
    """A log axis's range (log10 units) over the positive finite values, at least ``decades``
    wide: float32's rounding must not fill a panel (SGD's step ÷ g is lr to 7 digits)."""
    values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in series.values()])
    values = values[np.isfinite(values) & (values > 0)]
    if not values.size:
        return None
    lo, hi = np.log10(values.min()), np.log10(values.max())
    pad = max(0.0, (decades - (hi - lo)) / 2)
    return [float(lo - pad - 0.05), float(hi + pad + 0.05)]


def log_ticks(rng: list[float] | None) -> dict:
    """A short log panel's range and ticks: labels at powers of ten (at most four) where the
    range spans one, else at 1, 2 and 5 times one. Plotly's own choice there labels the 2s and
    5s of several decades, and on a panel a few lines high they ran into the powers of ten."""
    if rng is None:
        return {"range": None}
    return {"range": rng, "dtick": decade_dtick(rng, most=4) if rng[1] - rng[0] >= 1 else "D2"}


def step_values(arrays: Mapping[str, np.ndarray], run: int, step: int) -> dict[str, np.ndarray | float]:
    """The recorded numbers of update ``step`` of one run: ``θ_t``, ``g_t``, ``lr``, every
    buffer after the update, and ``θ_{t+1}``. NaN where the run had diverged."""
    params = arrays["params"][:, run]
    out: dict[str, np.ndarray | float] = {"theta": params[step], "grad": arrays["grad"][step, run],
                                          "next": params[step + 1]}
    if "lr" in arrays:
        out["lr"] = float(arrays["lr"][step, run])
    for key in sorted(k for k in arrays if k.startswith("state/")):
        value = arrays[key][step, run]
        if np.isfinite(value).any():
            out[key.removeprefix("state/")] = value
    return out


# -- curvature ------------------------------------------------------------------------


def sharpness_figure(sharpness: np.ndarray, thresholds: Sequence[tuple[np.ndarray, str] | None],
                     runs: Sequence[Style], *, step: int | None = None, measures: Sequence[str] | None = None,
                     steps: np.ndarray | None = None) -> AnimatedFigure:
    """λ_max of the exact Hessian along each run's path (log), with each run's stability
    threshold (2/η, 2(1+β)/η, ...) as a dotted line of its colour.

    ``sharpness`` is ``(points, runs)``; ``thresholds[r]`` is ``(values (steps,), label)``
    or None where the run's optimizer has no such line; ``measures[r]`` names what
    ``sharpness[:, r]`` is (Adam's is preconditioned). ``steps`` (a model's measured
    points) places row ``k`` and each threshold's value ``k`` at step ``steps[k]``;
    by default row ``k`` is step ``k``.
    """
    points = sharpness.shape[0]
    t = thin(points)
    x = t if steps is None else np.asarray(steps)[t]
    data = []
    for r, style in enumerate(runs):
        values = sharpness[t, r]
        name = f"{style.label}: {measures[r]}" if measures else style.label
        mode = "lines" if steps is None else "lines+markers"  # a model's few measured points, marked
        data.append(dict(type="scatter", x=x, y=_nulls(values), mode=mode,
                         name=name, line=dict(color=style.color, width=2.5, dash=style.dash),
                         legendgroup=f"run{r}",
                         hovertemplate=f"{style.label}<br>step %{{x}}<br>λ_max %{{y:.4g}}<extra></extra>"))
        line = thresholds[r]
        if line is not None:
            values, label = line
            lt = thin(len(values))
            lx = lt if steps is None else np.asarray(steps)[lt]
            data.append(dict(type="scatter", x=lx, y=values[lt].tolist(), mode="lines", name=f"{label} ({style.label})",
                             line=dict(color=style.color, width=1.5, dash="dot"), legendgroup=f"run{r}",
                             hovertemplate=f"{label}<br>step %{{x}}<br>%{{y:.4g}}<extra></extra>"))
    shapes = []
    if step is not None:
        shapes.append(dict(type="line", x0=step, x1=step, y0=0, y1=1, xref="x", yref="paper",
                           line=dict(color="#222", width=1.5, dash="dash")))
    finite = sharpness[np.isfinite(sharpness)]
    log = bool(finite.size) and float(finite.min()) > 0
    layout = dict(
        height=420, font=FONT, template=TEMPLATE, margin=dict(l=64, r=24, t=48, b=48),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=13)),
        xaxis=dict(title=dict(text="step"), range=[0, max(int(x[-1]) if len(x) else 0, 1)]),
        yaxis=dict(title=dict(text="sharpness λ_max"), type="log" if log else "linear", exponentformat="power"),
        shapes=shapes,
    )
    return AnimatedFigure(spec=dict(data=data, layout=layout))


# -- the Hessian's eigen-directions on the contour ----------------------------------------

# A cross's longest arm (the sharpest direction) reaches this fraction of the view's smaller side.
CROSS_REACH = 0.12


def cross_arms(eigenvalues: np.ndarray, eigenvectors: np.ndarray, length: float
               ) -> list[list[tuple[np.ndarray, float]]]:
    """Per run, its two half-arms ``(vector, λ)``, sharpest first: along each unit eigenvector,
    ``length · √(|λ| / max |λ|)``, so the sharper direction is the longer arm and a 100:1
    curvature ratio reads as 10:1. Empty where a run has no finite Hessian or a flat one.

    ``eigenvalues`` is ``(runs, 2)`` ascending, ``eigenvectors`` ``(runs, 2, 2)`` with column
    ``k`` for ``eigenvalues[:, k]`` (:func:`optviz.curvature.hessian_2d`).
    """
    out = []
    for lam, vec in zip(eigenvalues, eigenvectors):
        top = float(np.max(np.abs(lam))) if np.isfinite(lam).all() else math.nan
        if not (math.isfinite(top) and top > 0 and np.isfinite(vec).all()):
            out.append([])
            continue
        order = sorted(range(2), key=lambda k: -abs(float(lam[k])))
        out.append([(length * math.sqrt(abs(float(lam[k])) / top) * vec[:, k], float(lam[k])) for k in order])
    return out


def hessian_cross_figure(grid: Grid, points: np.ndarray, eigenvalues: np.ndarray, eigenvectors: np.ndarray,
                         runs: Sequence[Style], *, step: int, reach: float = CROSS_REACH) -> AnimatedFigure:
    """Each run's point ``step`` on the contour, with the exact Hessian's eigen-directions there
    as a cross: solid where the curvature is positive, dashed where it is negative (a saddle
    shows one of each). Arms as :func:`cross_arms`, the longest ``reach`` of the view; the
    legend states the scale and each run's eigenvalues.

    ``points`` is ``(runs, 2)``; ``eigenvalues`` and ``eigenvectors`` as :func:`cross_arms`.
    """
    x0, x1, y0, y1 = float(grid.x[0]), float(grid.x[-1]), float(grid.y[0]), float(grid.y[-1])
    length = reach * min(x1 - x0, y1 - y0)
    data: list[dict] = [dict(type="contour", x=grid.x, y=grid.y, z=grid.level(grid.z).astype(np.float32),
                             colorscale=SURFACE_COLORS, showscale=False, ncontours=24, hoverinfo="skip",
                             line=dict(width=0.5, color="rgba(0,0,0,0.25)"), name="surface", showlegend=False)]
    data.append(dict(type="scatter", x=[None], y=[None], mode="lines", line=dict(color="#222", width=3),
                     name=f"arms ∝ √|λ|, longest {reach:.0%} of the view; dashed: λ < 0"))
    for (lam, _), arms, point, style in zip(zip(eigenvalues, eigenvectors), cross_arms(eigenvalues, eigenvectors,
                                                                                          length), points, runs):
        if not np.isfinite(point).all():
            continue
        values = ", ".join(f"{v:.3g}" for v in sorted(lam, reverse=True)) if np.isfinite(lam).all() else "—"
        data.append(dict(type="scatter", x=[float(point[0])], y=[float(point[1])], mode="markers",
                         marker=dict(color=style.color, size=11, line=dict(color="white", width=1.5)),
                         name=f"{style.label}: λ = {values}", legendgroup=style.label,
                         hovertemplate=f"{style.label}<br>step {step}<br>(%{{x:.4g}}, %{{y:.4g}})<extra></extra>"))
        for half, value in arms:
            if not np.any(half):  # a zero eigenvalue: no curvature to draw that way
                continue
            a, b, unit = point - half, point + half, half / np.linalg.norm(half)
            kind = "λ_max" if value == max(lam) else "λ_min"
            data.append(dict(type="scatter", x=[float(a[0]), float(b[0])], y=[float(a[1]), float(b[1])],
                             mode="lines", line=dict(color=style.color, width=4, dash="dash" if value < 0 else "solid"),
                             legendgroup=style.label, showlegend=False, name=f"{style.label} {kind}",
                             hovertemplate=f"{style.label}: {kind} = {value:.4g}<br>direction "
                                           f"({unit[0]:.3f}, {unit[1]:.3f})<extra></extra>"))
    layout = dict(
        height=520, font=FONT, template=TEMPLATE, margin=dict(l=56, r=16, t=40, b=48),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, font=dict(size=13)),
        xaxis=dict(range=[x0, x1], title=dict(text="x"), constrain="domain"),
        yaxis=dict(range=[y0, y1], title=dict(text="y"), scaleanchor="x", scaleratio=1, constrain="domain"),
    )
    return AnimatedFigure(spec=dict(data=data, layout=layout))
