"""What the views draw, computed from an :class:`~optviz.experiment.Outcome` (numbers, no plotting).

* :func:`landscape`: for a two-weight model, the exact full-batch training loss
  over those two weights, with every run's path; for a larger model, the plane
  of Li et al. 2018 ("Visualizing the Loss Landscape of Neural Nets", sec. 7):
  the top two PCA directions of the weight trajectories, centred on the final
  weights, with the loss evaluated on that plane and every run projected onto it.
* :func:`data_view`: what the model does to the data at each frame: decision
  boundaries (two-feature classification), fitted curves (one-feature
  regression) or predicted vs true targets (other regression).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import contourpy
import numpy as np
import torch

from .experiment import Outcome
from .problems.datasets import REGRESSION
from .problems.training import ModelProblem

# Multiply-adds spent on the loss over a plane (grid points x samples x model).
PLANE_BUDGET = 2e9
# Floats of decision-boundary grids carried by all animation frames together.
FRAME_BUDGET = 600_000
MAX_FRAMES = 60
PCA_ROWS = 1200  # trajectory points the PCA is fitted on, all runs together


def thin(n: int, limit: int = 2000) -> np.ndarray:
    """Indices of at most ``limit`` of ``n`` points, evenly spread, first and last included:
    every point of a short path, so an oscillation is drawn as it is."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def level_lines(x: np.ndarray, y: np.ndarray, z: np.ndarray, level: float = 0.0) -> np.ndarray:
    """The ``level`` set of ``z`` (``z[j, i]`` at ``(x[i], y[j])``) as (n, 2) points,
    each line followed by a NaN row (Plotly breaks a line there); contourpy traces it."""
    lines = contourpy.contour_generator(x, y, np.asarray(z, dtype=np.float64), line_type="Separate").lines(level)
    if not lines:
        return np.zeros((0, 2))
    gap = np.full((1, 2), np.nan)
    return np.concatenate([part for line in lines for part in (line, gap)])


@dataclass
class Landscape:
    """A loss surface over two coordinates, and each run's path on it.

    ``z[j, i]`` is the loss at ``(x[i], y[j])``; ``paths`` is (K, runs, 2) over
    ``Outcome.path_steps``, NaN once a run diverged.
    """

    kind: str  # "weights" (the model has two) or "pca"
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    paths: np.ndarray
    axis_titles: tuple[str, str]
    marker: tuple[float, float, str] | None  # a point worth a star: (x, y, what it is)
    note: str  # what the picture is; "{center}" stands for the centre run's label
    samples: int  # training rows the surface was evaluated on
    center_run: int | None = None  # the run whose final weights centre a PCA plane

    def named(self, labels: list[str]) -> Landscape:
        """This landscape with the centre run's label filled in (labels are not part of the cache key)."""
        if self.center_run is None:
            return self
        name = labels[self.center_run]
        marker = self.marker and (self.marker[0], self.marker[1], self.marker[2].format(center=name))
        return replace(self, marker=marker, note=self.note.format(center=name))

    @property
    def floor(self) -> float:
        finite = self.z[np.isfinite(self.z)]
        return float(finite.min()) if finite.size else 0.0


def _range(values: np.ndarray, pad: float = 0.25, minimum: float = 0.5) -> tuple[float, float]:
    lo, hi = float(np.min(values)), float(np.max(values))
    span = max(hi - lo, minimum)
    mid = (lo + hi) / 2
    return mid - span * (0.5 + pad), mid + span * (0.5 + pad)


def _around(mid: float, span: float) -> tuple[float, float]:
    return mid - span / 2, mid + span / 2


def _alive_points(paths: np.ndarray, diverged: np.ndarray) -> np.ndarray:
    """Finite path points of the runs that never diverged (a diverging run's last
    finite points can be astronomically far and would squash the picture)."""
    keep = paths[:, diverged < 0] if (diverged < 0).any() else paths
    flat = keep.reshape(-1, paths.shape[-1])
    return flat[np.isfinite(flat).all(1)]


def _train_rows(problem: ModelProblem, limit: int, dtype) -> tuple[torch.Tensor, torch.Tensor, int]:
    X, y = problem.tensors(dtype)[:2]
    if len(y) <= limit:
        return X, y, len(y)
    rows = np.sort(np.random.default_rng(1).choice(len(y), limit, replace=False))
    return X[rows], y[rows], limit


def landscape(training: Outcome, problem: ModelProblem, n: int | None = None, aspect: float = 1.2
              ) -> Landscape | None:
    """The loss surface the runs move on, or None when there is no plane to draw.

    ``aspect`` is the panel's width / height: a two-weight plane is widened to it
    so that the picture can keep one unit of each weight the same length.
    """
    if problem.dims == 2:
        return _weights_plane(training, problem, n or 61, aspect)
    return _pca_plane(training, problem, n)


def least_squares(problem: ModelProblem) -> np.ndarray | None:
    """The exact minimum of linear regression with MSE (numpy's lstsq), else None."""
    if problem.task.model != "linear" or problem.task.loss != "mse":
        return None
    X, y = problem.split.X_train, problem.split.y_train
    if len(problem.layout) == 2:
        X = np.column_stack([X, np.ones(len(X))])
    solution, *_ = np.linalg.lstsq(X, y, rcond=None)
    return solution


def _weights_plane(training: Outcome, problem: ModelProblem, n: int, aspect: float) -> Landscape:
    paths = training.path_params.astype(np.float64)
    points = _alive_points(paths, training.result.diverged_at)
    best = least_squares(problem)
    marker = None
    if best is not None:
        points = np.vstack([points, best[None]])
        marker = (float(best[0]), float(best[1]), "least-squares solution")
    if not len(points):
        points = np.array([problem.start])
    (x0, x1), (y0, y1) = _range(points[:, 0]), _range(points[:, 1])
    # Equal scales: stretch the shorter side about its middle to the panel's aspect.
    width = max(x1 - x0, (y1 - y0) * aspect)
    height = width / aspect
    (x0, x1), (y0, y1) = _around((x0 + x1) / 2, width), _around((y0 + y1) / 2, height)
    x, y = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(x, y)
    grid = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float64)
    X, Y = problem.tensors(torch.float64)[:2]
    z = problem.evaluate(grid, X, Y)["loss"].reshape(n, n)
    labels = problem.labels
    note = (f"The exact training loss over the model's two weights ({labels[0]}, {labels[1]}), on all "
            f"{len(Y)} training rows. Mini-batch runs follow noisy estimates of it.")
    return Landscape("weights", x, y, z, paths, (labels[0], labels[1]), marker, note, len(Y))


def _pca_plane(training: Outcome, problem: ModelProblem, n: int | None) -> Landscape | None:
    from sklearn.decomposition import PCA  # a second to import: only a big model's view pays it

    paths = training.path_params.astype(np.float64)  # (K, runs, P)
    diverged = training.result.diverged_at
    final_loss = training.metrics.get("train_loss")
    alive = np.flatnonzero(diverged < 0)
    if not alive.size:
        return None
    # Centre on the final weights of the run that fits the training data best.
    last = final_loss[-1] if final_loss is not None else np.zeros(paths.shape[1])
    ref = int(alive[np.nanargmin(np.where(np.isfinite(last[alive]), last[alive], np.inf))])
    center = paths[-1, ref]
    # Every run's trajectory, thinned evenly to bound the fit's cost.
    keep = thin(len(paths), max(8, PCA_ROWS // paths.shape[1]))
    rows = (paths[keep] - center).reshape(-1, paths.shape[2])
    rows = rows[np.isfinite(rows).all(1)]
    if len(rows) < 3:
        return None
    pca = PCA(n_components=2, svd_solver="randomized", random_state=0).fit(rows)
    if not pca.explained_variance_[1] > 0:
        return None  # the runs moved along a line, or not at all: no plane
    directions = pca.components_  # (2, P), orthonormal
    # Li et al. project each point on the directions themselves (not pca.transform,
    # which would subtract the trajectory mean): the plane passes through the centre.
    coords = np.einsum("krp,dp->krd", paths - center, directions)
    points = _alive_points(coords, diverged)
    (x0, x1), (y0, y1) = _range(points[:, 0], 0.2), _range(points[:, 1], 0.2)
    if n is None:
        n = 31 if problem.flops_per_sample < 20_000 else 25
    samples = int(max(128, min(problem.n_train, PLANE_BUDGET // (n * n * problem.flops_per_sample / 2))))
    X, Y, samples = _train_rows(problem, samples, torch.float64)
    x, y = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(x, y)
    weights = center + xx.reshape(-1, 1) * directions[0] + yy.reshape(-1, 1) * directions[1]
    z = problem.evaluate(torch.as_tensor(weights, dtype=torch.float64), X, Y)["loss"].reshape(n, n)
    ratio = pca.explained_variance_ratio_
    where = "all" if samples == problem.n_train else f"{samples} of the"
    note = (f"Li et al. (2018): the weights' top two PCA directions ({ratio.sum():.0%} of the trajectories' "
            f"variance), centred on {{center}}'s final weights; loss on {where} {problem.n_train} training rows. "
            "Paths are projections: off the plane, a run's own loss differs from the surface under it.")
    titles = (f"PC1 ({ratio[0]:.0%} of variance)", f"PC2 ({ratio[1]:.0%})")
    return Landscape("pca", x, y, z, coords, titles, (0.0, 0.0, "final weights of {center}"), note, samples, ref)


# -- the data, as the model sees it ----------------------------------------------------


@dataclass
class DataView:
    """Frames of what each run's model does to the data.

    ``kind`` is ``boundary`` (``lines[f][r]``: run r's class boundaries at frame
    f, an (n, 2) polyline array with NaN rows between pieces, within ``grid_x`` x
    ``grid_y``), ``curve`` (``values`` (F, runs, m): predictions over ``grid_x``)
    or ``parity`` (``values`` (F, runs, n): predictions for the rows of ``y_test``).
    """

    kind: str
    frame_steps: np.ndarray
    values: np.ndarray
    grid_x: np.ndarray = field(default_factory=lambda: np.zeros(0))
    grid_y: np.ndarray = field(default_factory=lambda: np.zeros(0))
    X_train: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y_train: np.ndarray = field(default_factory=lambda: np.zeros(0))
    X_test: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y_test: np.ndarray = field(default_factory=lambda: np.zeros(0))
    classes: tuple[str, ...] = ()
    axis_titles: tuple[str, str] = ("", "")
    lines: list[list[np.ndarray]] = field(default_factory=list)


def training_frames(training: Outcome, per_frame: int = 0) -> np.ndarray:
    """Steps the animation shows: evaluated points, evenly spread, within the payload budget."""
    runs = len(training.experiment.runs)
    limit = MAX_FRAMES if not per_frame else int(min(MAX_FRAMES, max(10, FRAME_BUDGET // (runs * per_frame))))
    steps = training.eval_steps
    if len(steps) <= limit:
        return steps
    return steps[np.unique(np.linspace(0, len(steps) - 1, limit).round().astype(int))]


def _params_at(training: Outcome, steps: np.ndarray, dtype=torch.float64) -> torch.Tensor:
    idx = [training.path_index(int(s)) for s in steps]
    return torch.as_tensor(training.path_params[idx], dtype=dtype)  # (F, runs, P)


def _outputs(problem: ModelProblem, params: torch.Tensor, X: torch.Tensor) -> np.ndarray:
    """(F, runs, P) weights on X -> (F, runs, n, n_out) outputs; NaN for diverged weights."""
    F, R, P = params.shape
    flat = params.reshape(F * R, P)
    alive = torch.isfinite(flat).all(1)
    out = problem.outputs(torch.nan_to_num(flat), X)
    out[~alive] = float("nan")
    return out.reshape(F, R, *out.shape[1:]).numpy()


def _boundaries(gx: np.ndarray, gy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Where the predicted class changes, from outputs (g, g, n_out) on the grid.

    One logit: its zero level. Several: for each class, the zero level of its
    margin over the best other class (a border between two classes is drawn
    from both sides, on the same line); the last class's borders are all
    someone else's too.
    """
    if not np.isfinite(out).all():
        return np.zeros((0, 2))
    if out.shape[-1] == 1:
        fields = [out[..., 0]]
    else:
        fields = []
        for c in range(out.shape[-1] - 1):
            others = np.delete(out, c, axis=-1).max(-1)
            fields.append(out[..., c] - others)
    pieces = [level_lines(gx, gy, f) for f in fields]
    return np.concatenate(pieces) if pieces else np.zeros((0, 2))


def data_view(training: Outcome, problem: ModelProblem, grid: int = 50) -> DataView | None:
    split = problem.split
    names = split.data.feature_names
    scaled = " (standardized)" if split.x_scaler is not None else ""
    base = dict(X_train=np.array(split.X_train), y_train=np.array(split.y_train), X_test=np.array(split.X_test),
                y_test=np.array(split.y_test), classes=split.data.classes)
    if problem.kind != REGRESSION and split.n_features == 2:
        steps = training_frames(training, grid * problem.n_out)  # lines: about one point per grid row and class
        allX = np.vstack([split.X_train, split.X_test])
        (x0, x1), (y0, y1) = _range(allX[:, 0], 0.08), _range(allX[:, 1], 0.08)
        gx, gy = np.linspace(x0, x1, grid), np.linspace(y0, y1, grid)
        xx, yy = np.meshgrid(gx, gy)
        pts = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float64)
        out = _outputs(problem, _params_at(training, steps), pts)  # (F, R, g*g, n_out)
        out = out.reshape(*out.shape[:2], grid, grid, problem.n_out)
        lines = [[_boundaries(gx, gy, out[f, r]) for r in range(out.shape[1])] for f in range(out.shape[0])]
        return DataView("boundary", steps, np.zeros((len(steps), out.shape[1], 0), np.float32), gx, gy,
                        axis_titles=(f"{names[0]}{scaled}", f"{names[1]}{scaled}"), lines=lines, **base)
    if problem.kind == REGRESSION and split.n_features == 1:
        steps = training_frames(training)
        allX = np.vstack([split.X_train, split.X_test])[:, 0]
        gx = np.linspace(*_range(allX, 0.05), 200)
        out = _outputs(problem, _params_at(training, steps), torch.as_tensor(gx[:, None], dtype=torch.float64))
        target = split.data.target_name + (" (standardized)" if split.y_scaler is not None else "")
        return DataView("curve", steps, out[..., 0].astype(np.float32), gx,
                        axis_titles=(f"{names[0]}{scaled}", target), **base)
    if problem.kind == REGRESSION:
        steps = training_frames(training)
        X, y = (split.X_test, split.y_test) if len(split.y_test) else (split.X_train, split.y_train)
        out = _outputs(problem, _params_at(training, steps), torch.as_tensor(np.array(X), dtype=torch.float64))
        which = "test" if len(split.y_test) else "training"
        return DataView("parity", steps, out[..., 0].astype(np.float32), axis_titles=(
            f"true target ({which} rows)", "predicted"), **{**base, "y_test": np.array(y)})
    return None
