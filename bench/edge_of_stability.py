"""The edge of stability on a CPU in seconds: full-batch GD on a small tanh MLP.

Cohen et al. (ICLR 2021) train fc-tanh networks with full-batch GD and an MSE
loss on one-hot targets (cifar10-5k) and watch the top Hessian eigenvalue
``lambda_max``: it rises (progressive sharpening) to ``2/lr`` and hovers there
while the loss keeps falling, non-monotonically. This is the same recipe scaled
down to sklearn's bundled digits (8x8 images, ten classes), written in plain
torch so that it depends on no model code of ours; only ``optviz.curvature``
measures the sharpness.

    python bench/edge_of_stability.py --trace              # the recipe, and lambda_max at each point
    python bench/edge_of_stability.py --lr 2 3 --seed 0 1 2  # other step sizes and inits
    python bench/edge_of_stability.py --data diabetes --test-fraction 0.25 --lr 0.25 --steps 800

The recipe's data and initial weights are exactly the Datasets page's for
``DataConfig("digits", test_fraction=0.4, seed=0)`` and ``mlp`` with
``hidden=(32, 32), activation="tanh"``, ``init_seed=0``; its loss is torch's
``MSELoss`` (a mean over samples *and* the ten outputs) on one-hot targets, so
the sharpness is 1/5 of Cohen et al.'s ``0.5 * sum over outputs``, and the step
sizes 5x theirs.

Measured (500 steps, float32, init seeds 0-4, one thread): lambda_max starts at
0.50-0.63 of 2/lr = 0.8, is within 20% of it by step 80-120, overshoots to
1.24-1.27x, then settles: every measured point of the second half
lies within 0.99-1.08x of 2/lr (medians 1.03-1.04). The loss falls from 0.12-0.13
to 0.013-0.019 at step 250 and 0.008-0.010 at step 500, rising on 61-107 of the
last 250 steps (single-step rises up to 2-6%). float64: the same, medians 1.02-1.05.
Cost, after importing sklearn: training 1.3-1.5 s of CPU, lambda_max at 26 points 1.3-2.0 s.

One-hot targets are not essential: diabetes (331 training rows, one standardized
target, lr 0.25, 800 steps) hovers too (90-100% of the second half within 20%,
medians 1.04-1.07), but it starts at 0.55-0.78 of 2/lr, so there is little
sharpening to see, and its loss spikes are larger (up to 27% in one step).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from optviz.curvature import gd_threshold, sharpness_along_path


@dataclass(frozen=True)
class Recipe:
    """Everything that fixes a run: data, model, step size, measurement."""

    data: str = "digits"  # sklearn's load_digits (1797 x 64, ten classes) or load_diabetes (442 x 10)
    test_fraction: float = 0.4  # digits: 1078 training rows, a class-stratified subset drawn with data_seed
    data_seed: int = 0
    hidden: tuple[int, ...] = (32, 32)
    activation: str = "tanh"
    init_seed: int = 0  # torch.nn.Linear's default init, drawn after torch.manual_seed(init_seed)
    lr: float = 2.5  # 2/lr = 0.8; lambda_max starts near 0.45 (torch's MSELoss, a mean over 10 outputs)
    steps: int = 500
    every: int = 20  # keep the parameters, and measure lambda_max, every this many steps
    tol: float = 1e-3  # Lanczos residual, relative to lambda_max
    dtype: str = "float32"  # the Datasets page's default


def load(recipe: Recipe, dtype=torch.float64) -> tuple[Tensor, Tensor]:
    """The training rows, standardized, and MSE targets: one-hot classes, or a standardized number.

    The split is the Datasets page's: ``ceil(test_fraction * n)`` rows held out
    (stratified by class), features standardized with training statistics.
    """
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = {"digits": datasets.load_digits, "diabetes": datasets.load_diabetes}[recipe.data](return_X_y=True)
    classes = recipe.data == "digits"
    n_test = math.ceil(recipe.test_fraction * len(y))
    train, _ = train_test_split(
        np.arange(len(y)), test_size=n_test, random_state=recipe.data_seed, stratify=y if classes else None
    )
    X, y = X[np.sort(train)], y[np.sort(train)]
    # Several digits pixels are always 0: leave them at 0 rather than divide by 0 (as StandardScaler does).
    std = X.std(0)
    X = (X - X.mean(0)) / np.where(std > 0, std, 1.0)
    Y = np.eye(10)[y] if classes else ((y - y.mean()) / y.std())[:, None]
    return torch.as_tensor(X, dtype=dtype), torch.as_tensor(Y, dtype=dtype)


def build(recipe: Recipe, n_in: int, n_out: int, dtype=torch.float64) -> tuple[Tensor, list[tuple[int, ...]]]:
    """The MLP's seeded initial weights, flat in ``named_parameters`` order, and their shapes.

    torch's default ``nn.Linear`` init, drawn in float64 and then cast, as the
    Datasets page builds its models: float32 and float64 runs start alike.
    """
    widths = [n_in, *recipe.hidden, n_out]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.init_seed)
        layers = [nn.Linear(a, b, dtype=torch.float64) for a, b in itertools.pairwise(widths)]
    tensors = [t for layer in layers for t in (layer.weight, layer.bias)]
    return torch.cat([t.detach().reshape(-1) for t in tensors]).to(dtype), [tuple(t.shape) for t in tensors]


def make_loss(X: Tensor, Y: Tensor, shapes: list[tuple[int, ...]], activation: str = "tanh"):
    """``loss(params (rows, P), step) -> (rows,)``: each row's torch MSELoss (mean over samples, outputs)."""
    act = {"tanh": torch.tanh, "relu": torch.relu}[activation]
    sizes = [math.prod(s) for s in shapes]

    def loss(params: Tensor, step: int = 0) -> Tensor:
        rows = params.shape[0]
        parts = [t.reshape(rows, *s) for t, s in zip(params.split(sizes, 1), shapes)]
        h = X.expand(rows, *X.shape)
        for k in range(0, len(parts), 2):
            if k:
                h = act(h)
            h = torch.baddbmm(parts[k + 1].unsqueeze(1), h, parts[k].transpose(1, 2))
        return F.mse_loss(h, Y.expand_as(h), reduction="none").mean((1, 2))

    return loss


@dataclass(frozen=True)
class Problem:
    """The engine's problem protocol, for :func:`optviz.curvature.sharpness_along_path`."""

    loss: Callable[..., Tensor]
    layout: tuple[tuple[int, ...], ...]
    full_batch: bool = True  # every step sees the whole training set: one batch for all kept points


def train(recipe: Recipe) -> dict[str, Any]:
    """Full-batch GD: the loss at every step and the parameters every ``recipe.every`` steps."""
    dtype = getattr(torch, recipe.dtype)
    X, Y = load(recipe, dtype)
    params, shapes = build(recipe, X.shape[1], Y.shape[1], dtype)
    loss_fn = make_loss(X, Y, shapes, recipe.activation)
    p, losses, kept = params.unsqueeze(0), [], []
    for t in range(recipe.steps + 1):
        if t % recipe.every == 0:
            kept.append(p[0])
        q = p.detach().requires_grad_(True)
        value = loss_fn(q)
        losses.append(value.item())
        if t < recipe.steps:
            (grad,) = torch.autograd.grad(value.sum(), q)
            p = p - recipe.lr * grad
    return {
        "loss": np.array(losses),
        "steps": np.arange(0, recipe.steps + 1, recipe.every),
        "params": torch.stack(kept),
        "problem": Problem(loss_fn, tuple(shapes)),
    }


def measure(recipe: Recipe, out: dict[str, Any]) -> np.ndarray:
    """lambda_max at the kept points, all in one batch (a cold start from one seeded vector)."""
    path = out["params"].unsqueeze(1)  # (K, runs = 1, dims)
    sharp = sharpness_along_path(out["problem"], path, out["steps"], tol=recipe.tol)
    return sharp.values[:, 0].double().numpy()


def summarize(recipe: Recipe, out: dict[str, np.ndarray]) -> dict[str, float]:
    """The figures the test asserts: how close lambda_max stays to 2/lr, and how the loss falls."""
    loss, steps, sharp = out["loss"], out["steps"], out["sharpness"]
    limit = gd_threshold(recipe.lr)
    second = steps >= recipe.steps // 2
    ratio = sharp / limit
    diffs = np.diff(loss)
    return {
        "2/lr": limit,
        "sharpness_start": sharp[0],
        "sharpness_max": sharp.max(),
        "first_within_20%": int(steps[np.argmax(ratio >= 0.8)]) if (ratio >= 0.8).any() else -1,
        "second_half_within_20%": float(np.mean(np.abs(ratio[second] - 1) <= 0.2)),
        "second_half_ratio_median": float(np.median(ratio[second])),
        "second_half_ratio_min": float(ratio[second].min()),
        "second_half_ratio_max": float(ratio[second].max()),
        "loss_start": loss[0],
        "loss_mid": loss[recipe.steps // 2],
        "loss_end": loss[-1],
        "loss_rises": int((diffs > 0).sum()),
        "loss_rises_second_half": int((diffs[recipe.steps // 2 :] > 0).sum()),
        "largest_rise_second_half": float((diffs[recipe.steps // 2 :] / loss[recipe.steps // 2 : -1]).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[Recipe.lr])
    parser.add_argument("--seed", type=int, nargs="+", default=[Recipe.init_seed], help="init seeds")
    parser.add_argument("--data", default=Recipe.data, choices=("digits", "diabetes"))
    parser.add_argument("--test-fraction", type=float, default=Recipe.test_fraction)
    parser.add_argument("--hidden", type=int, nargs="+", default=list(Recipe.hidden))
    parser.add_argument("--activation", default=Recipe.activation, choices=("tanh", "relu"))
    parser.add_argument("--steps", type=int, default=Recipe.steps)
    parser.add_argument("--every", type=int, default=Recipe.every)
    parser.add_argument("--tol", type=float, default=Recipe.tol)
    parser.add_argument("--dtype", default=Recipe.dtype, choices=("float32", "float64"))
    parser.add_argument("--trace", action="store_true", help="print lambda_max/(2/lr) and the loss per point")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for lr in args.lr:
        for seed in args.seed:
            recipe = Recipe(
                data=args.data,
                test_fraction=args.test_fraction,
                hidden=tuple(args.hidden),
                activation=args.activation,
                init_seed=seed,
                lr=lr,
                steps=args.steps,
                every=args.every,
                tol=args.tol,
                dtype=args.dtype,
            )
            t0, c0 = time.perf_counter(), time.process_time()
            out = train(recipe)
            t1, c1 = time.perf_counter(), time.process_time()
            out["sharpness"] = measure(recipe, out)
            t2, c2 = time.perf_counter(), time.process_time()
            summary = summarize(recipe, out)
            print(
                f"{recipe}\n  training {t1 - t0:.2f} s wall ({c1 - c0:.2f} s CPU), "
                f"lambda_max {t2 - t1:.2f} s wall ({c2 - c1:.2f} s CPU), one thread"
            )
            print("  " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in summary.items()))
            if args.trace:
                for step, lam in zip(out["steps"], out["sharpness"]):
                    ratio, value = lam * lr / 2, out["loss"][step]
                    print(f"    step {step:5d}  lambda_max/(2/lr) {ratio:.3f}  loss {value:.5f}")


if __name__ == "__main__":
    main()
