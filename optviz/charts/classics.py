"""The classics' own figures: pure Plotly builders from each entry's measured data.

Each builder takes the dict an entry's ``run`` returns (:mod:`optviz.classics`)
and gives a figure; :data:`FIGURES` maps an entry's id to its builder.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .common import FONT, PALETTE


def _layout(fig: go.Figure, height: int, title: str = "", **kw) -> go.Figure:
    # A long title wraps to lines of about 56 characters: in one line it ran under the
    # tool bar at the top right on a 1024-pixel projector.
    lines = textwrap.wrap(title, 56)
    fig.update_layout(
        height=height + 22 * max(0, len(lines) - 1),
        margin=dict(l=60, r=44, t=50 + 22 * max(0, len(lines) - 1), b=50), modebar=dict(orientation="v"),
        font=FONT,
        legend=dict(orientation="h", y=-0.18),
        template="plotly_white",
        title=dict(text="<br>".join(lines), x=0, xanchor="left", font=dict(size=17)),
        **kw,
    )
    return fig


def lr_too_large_figure(d: dict[str, Any], height: int = 440) -> go.Figure:
    """|x_t| along each eigen-direction per lr (solid) against |1 - eta lambda|^t (dotted)."""
    params = d["outcome"].path_params
    fig = make_subplots(1, 2, subplot_titles=(f"along λ = L = {d['L']:g}", f"along λ = μ = {d['mu']:g}"))
    t = np.arange(len(params))
    for i, lr in enumerate(d["lrs"]):
        color = PALETTE[i % len(PALETTE)]
        for col in (0, 1):
            fig.add_scatter(
                x=t,
                y=np.abs(params[:, i, col]),
                name=f"lr {lr:g}",
                legendgroup=str(i),
                showlegend=col == 0,
                line=dict(color=color),
                row=1,
                col=col + 1,
            )
            fig.add_scatter(
                x=t,
                y=np.abs(params[0, i, col]) * d["theory"][i][col] ** t,
                name="theory",
                legendgroup=str(i),
                showlegend=False,
                line=dict(color=color, dash="dot"),
                row=1,
                col=col + 1,
            )
    fig.update_yaxes(type="log", title_text="|x_t|", col=1)
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="step")
    return _layout(fig, height, title="GD on a quadratic: measured (solid) and |1 − ηλ|^t (dotted)")


def optimal_momentum_figure(d: dict[str, Any], height: int = 440) -> go.Figure:
    params = d["outcome"].path_params
    t = np.arange(len(params))
    fig = go.Figure()
    names = ("best GD", "Polyak's heavy ball")
    theory = (d["gd_theory"] ** t, (1 + t) * d["hb_theory"] ** t)
    for i, name in enumerate(names):
        color = PALETTE[i]
        fig.add_scatter(x=t, y=np.linalg.norm(params[:, i], axis=-1), name=name, line=dict(color=color))
        fig.add_scatter(
            x=t, y=theory[i] * np.linalg.norm(params[0, i]), name=f"{name}: theory", line=dict(color=color, dash="dot")
        )
    fig.update_yaxes(type="log", title_text="distance to the minimum")
    fig.update_xaxes(title_text="step")
    return _layout(fig, height, title=f"κ = {d['L'] / d['mu']:g}: ρ^t for GD, (1 + t) ρ^t for the heavy ball (dotted)")


def adam_amsgrad_figure(d: dict[str, Any], height: int = 520) -> go.Figure:
    names = [k for k in d if k != "labels"]
    fig = make_subplots(2, len(names), shared_xaxes=True, subplot_titles=names, vertical_spacing=0.1)
    for c, name in enumerate(names, 1):
        e = d[name]
        steps = np.arange(len(e["path"])) * e["every"]
        for i, label in enumerate(d["labels"]):
            color = PALETTE[i]
            fig.add_scatter(
                x=steps,
                y=e["path"][:, i],
                name=label,
                legendgroup=label,
                showlegend=c == 1,
                line=dict(color=color),
                row=1,
                col=c,
            )
            fig.add_scatter(
                x=steps[: len(e["regret_path"])],
                y=e["regret_path"][:, i],
                name=label,
                legendgroup=label,
                showlegend=False,
                line=dict(color=color),
                row=2,
                col=c,
            )
    fig.update_yaxes(title_text="x", range=[-1.05, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="average regret", type="log", row=2, col=1)
    fig.update_yaxes(type="log", row=2)
    fig.update_xaxes(title_text="step", row=2)
    return _layout(fig, height, title="Reddi et al.'s online problem: where x goes, and the average regret")


def edge_of_stability_figure(d: dict[str, Any], height: int = 480) -> go.Figure:
    fig = make_subplots(2, 1, shared_xaxes=True, vertical_spacing=0.08)
    fig.add_scatter(
        x=d["steps"], y=d["sharpness"], name="λ_max", mode="lines+markers", line=dict(color=PALETTE[0]), row=1, col=1
    )
    fig.add_hline(y=d["threshold"], line=dict(dash="dash", color="#444"), annotation_text="2/η", row=1, col=1)
    fig.add_scatter(
        x=np.arange(len(d["loss"])), y=d["loss"], name="training loss", line=dict(color=PALETTE[1]), row=2, col=1
    )
    fig.update_yaxes(title_text="λ_max", row=1, col=1)
    fig.update_yaxes(title_text="loss", type="log", row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    return _layout(fig, height, title="Full-batch GD: λ_max rises to 2/η and hovers there")


def rosenbrock_figure(d: dict[str, Any], height: int = 440) -> go.Figure:
    out = d["outcome"]
    loss = out.result.arrays["loss"]
    fig = go.Figure()
    for i, cfg in enumerate(out.experiment.runs):
        fig.add_scatter(x=np.arange(len(loss)), y=loss[:, i], name=cfg.label, line=dict(color=PALETTE[i + 1]))
    lb = d["lbfgs"]
    fig.add_scatter(
        x=[lb["calls"]],
        y=[max(lb["loss"], 1e-300)],
        mode="markers+text",
        name="LBFGS (strong Wolfe)",
        marker=dict(size=12, color=PALETTE[0], symbol="star"),
        text=[f"LBFGS: {lb['calls']} evaluations"],
        textposition="top right",
    )
    fig.update_xaxes(type="log", title_text="gradient evaluations (steps)")
    fig.update_yaxes(type="log", title_text="f")
    return _layout(fig, height, title="Rosenbrock from (−1.2, 1): loss against evaluations")


def basins_figure(d: dict[str, Any], height: int = 480) -> go.Figure:
    bm = d["map"]
    z = np.where(bm.diverged[0], -2, bm.minimum[0]).astype(float)
    colors = ["#888888", "#cccccc", *PALETTE[:4]]  # diverged, none, one colour per minimum
    scale = [[k / 5, c] for k, c in enumerate(colors)]
    fig = go.Figure(
        go.Heatmap(
            x=bm.xs,
            y=bm.ys,
            z=z,
            zmin=-2,
            zmax=3,
            colorscale=scale,
            showscale=False,
            hovertemplate="start (%{x:.2f}, %{y:.2f}): minimum %{z}<extra></extra>",
        )
    )
    shares = d["shares"]
    for k, m in enumerate(bm.minima):
        fig.add_scatter(
            x=[m[0]],
            y=[m[1]],
            mode="markers+text",
            marker=dict(symbol="x", size=12, color="black"),
            text=[f"{shares.get(k, 0):.0%}"],
            textposition="top center",
            showlegend=False,
        )
    fig.update_xaxes(title_text="x start")
    fig.update_yaxes(title_text="y start", scaleanchor="x")
    return _layout(fig, height, title="Himmelblau: which minimum each start reaches (basin areas marked)")


def fractal_z(grid: dict[str, Any]) -> np.ndarray:
    """One number per cell: 0..1 converged (lower: faster), 1..2 diverged (higher: sooner)."""
    speed = grid["speed"]
    conv = ~grid["diverged"]
    lo, hi = (np.nanmin(speed[conv]), np.nanmax(speed[conv])) if conv.any() else (0.0, 1.0)
    fast = 0.98 * (speed - lo) / max(hi - lo, 1e-12)  # below 1, where the diverged begin
    at = grid["diverged_at"].astype(float)
    soon = 1 + 1 / (1 + np.maximum(at, 0)) ** 0.5
    return np.where(conv, fast, soon)


FRACTAL_SCALE = [[0.0, "#08306b"], [0.5, "#c6dbef"], [0.5, "#fee0d2"], [1.0, "#67000d"]]


def fractal_figure(d: dict[str, Any], height: int = 480, *, click_points: int = 48) -> go.Figure:
    """The grids side by side; invisible markers carry (log lr1, log lr2) for click-to-zoom."""
    grids = d["grids"]
    titles = [f"log-lr window ±{g['window'].half:.3g} (dimension {g['dimension']:.2f})" for g in grids]
    fig = make_subplots(1, len(grids), subplot_titles=titles, horizontal_spacing=0.08)
    for c, g in enumerate(grids, 1):
        fig.add_heatmap(
            x=g["log_lr1"],
            y=g["log_lr2"],
            z=fractal_z(g),
            zmin=0,
            zmax=2,
            colorscale=FRACTAL_SCALE,
            showscale=False,
            row=1,
            col=c,
            hovertemplate="log10 lr₁ %{x:.4f}, log10 lr₂ %{y:.4f}<extra></extra>",
        )
        n = len(g["log_lr1"])
        idx = np.unique(np.linspace(0, n - 1, min(n, click_points)).round().astype(int))
        xx, yy = np.meshgrid(g["log_lr1"][idx], g["log_lr2"][idx])
        fig.add_scatter(
            x=xx.ravel(),
            y=yy.ravel(),
            mode="markers",
            marker=dict(size=8, opacity=0),
            customdata=np.stack([xx.ravel(), yy.ravel(), np.full(xx.size, c - 1)], -1),
            hovertemplate="zoom in at (%{x:.4f}, %{y:.4f})<extra></extra>",
            showlegend=False,
            row=1,
            col=c,
        )
        fig.update_xaxes(title_text="log10 lr₁ (first layer)", row=1, col=c)
        fig.update_yaxes(title_text="log10 lr₂ (second layer)", row=1, col=c)
    return _layout(fig, height, title="Trainability: blue converged (darker faster), red diverged (darker sooner)")


FIGURES: dict[str, Callable[[dict[str, Any]], go.Figure]] = {
    "lr-too-large": lr_too_large_figure,
    "optimal-momentum": optimal_momentum_figure,
    "adam-amsgrad": adam_amsgrad_figure,
    "edge-of-stability": edge_of_stability_figure,
    "rosenbrock": rosenbrock_figure,
    "himmelblau-basins": basins_figure,
    "fractal-trainability": fractal_figure,
}


def classic_figure(classic_id: str, data: dict[str, Any]) -> go.Figure:
    return FIGURES[classic_id](data)
