"""What several test files share: the torch oracle check, tiny matrix problems, the CLI runner.

``check_against_torch`` is the one comparison behind every truth test: a batch
through our engine against each run alone through ``reference_run`` (torch's
own optimizer and scheduler, on the problem's plain torch form), step by step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from optviz.cli import main
from optviz.engine import DEFAULT_RECORD, Result, RunConfig, intra_op_threads, run
from optviz.optim import get as get_optimizer
from optviz.optim.base import Layout, views
from optviz.params import ConfigError
from optviz.reference import reference_run

RTOL, ATOL = 1e-5, 1e-8
# A step that evaluates the loss many times (LBFGS: up to max_eval = 25) costs as much as
# many steps. Line tracing found that 60 LBFGS steps run the same lines of ours and of
# torch's lbfgs.py as 300 (491 lines: every variant of tests/cases.py on both truth
# surfaces), at a third of the time; a truth case takes no more steps than that.
MANY_EVALS_STEPS = 60


def truth_steps(name: str, steps: int) -> int:
    """``steps`` for a truth case of optimizer ``name``; fewer where one step evaluates the loss many times."""
    spec = get_optimizer(name)
    return min(steps, MANY_EVALS_STEPS) if spec.evals_per_step(spec.defaults) > 1 else steps


def accepts(name: str, hp: dict, layout: Layout) -> bool:
    """Whether torch's own constructor takes ``hp`` on this layout (Muon: matrices only)."""
    spec = get_optimizer(name)
    try:
        spec.validate(spec.resolve(hp), layout)
    except ConfigError:
        return False
    return True


def check_against_torch(
    problem,
    configs: list[RunConfig],
    *,
    steps: int,
    rtol: float = RTOL,
    atol: float = ATOL,
    what: str = "",
    dtype: str = "float64",
) -> Result:
    """Run ``configs`` as one batch in ``dtype`` and each alone through torch in the same
    dtype; compare params, loss, lr and the gradient at every point, and the optimizer's
    state after every update (what the inside view draws). Every run must stay finite and
    move (unless its lr is below 1e-5)."""
    # One intra-op thread for both, as the app and compute() run small problems: these
    # kernels are tiny, and on shared cores a parallel region mostly waits (torch's Muon
    # on a 3x4 matrix: 16 ms a step on two busy threads, 1 ms on one).
    with intra_op_threads(1):
        ours = run(problem, configs, steps=steps, dtype=dtype, device="cpu", record=(*DEFAULT_RECORD, "grad", "state"))
        tdtype = torch.float32 if dtype == "float32" else torch.float64
        refs = [reference_run(problem, config, steps=steps, dtype=tdtype) for config in configs]
    for i, ref in enumerate(refs):
        where = f"{what} run {i}"
        assert ours.diverged_at[i] == -1, f"{where} diverged"
        for key in ("params", "loss", "lr", "grad"):
            # The lr is recorded in the run's dtype; torch's is a Python double.
            want = ref[key].astype(ours.arrays[key].dtype) if key == "lr" else ref[key]
            np.testing.assert_allclose(ours.arrays[key][:, i], want, rtol=rtol, atol=atol, err_msg=f"{where}: {key}")
        for key, value in ref["state"].items():
            np.testing.assert_allclose(
                ours.arrays[f"state/{key}"][-1, i], value, rtol=rtol, atol=atol, err_msg=f"{where}: state {key}"
            )
        for t, state in enumerate(ref["states"]):
            for key, value in state.items():
                np.testing.assert_allclose(
                    ours.arrays[f"state/{key}"][t, i],
                    value,
                    rtol=rtol,
                    atol=atol,
                    err_msg=f"{where}: state {key} after update {t + 1}",
                )
        moved = np.abs(ref["params"][-1] - ref["params"][0]).max()
        assert moved > 0 or ours.resolved[i]["hparams"]["lr"] < 1e-5, f"{where} never moved"
    return ours


@dataclass(frozen=True)
class LeastSquares:
    """Least-squares fits ``mean ||W x + b - y||^2`` on fixed random data: matrix layouts,
    for optimizers that treat matrices as matrices.

    Each matrix ``(m, n)`` in ``layout`` is a linear map fitted to its own data;
    a vector right after a matrix is that map's bias. The loss is smooth and
    its parameters' scales differ, so per-tensor norms matter.
    """

    layout: Layout = ((3, 4), (3,))
    samples: int = 8
    seed: int = 0
    divergence_bound: float = 1e3

    def _data(self, dtype, device):
        gen = torch.Generator().manual_seed(self.seed)
        data = []
        for shape in self.layout:
            if len(shape) == 2:
                m, n = shape
                x = torch.randn((self.samples, n), generator=gen, dtype=torch.float64)
                w_true = torch.randn((m, n), generator=gen, dtype=torch.float64)
                y = x @ w_true.T + 0.3 * torch.randn((self.samples, m), generator=gen, dtype=torch.float64)
                data.append((x.to(device, dtype), y.to(device, dtype)))
            else:
                data.append(None)
        return data

    @property
    def start(self) -> tuple[float, ...]:
        gen = torch.Generator().manual_seed(self.seed + 1)
        dims = sum(math.prod(s) for s in self.layout)
        return tuple((0.5 * torch.randn(dims, generator=gen, dtype=torch.float64)).tolist())

    def loss(self, params: Tensor, step: int = 0) -> Tensor:
        tensors = views(params, self.layout)
        total = params.new_zeros(params.shape[0])
        for i, (_shape, data) in enumerate(zip(self.layout, self._data(params.dtype, params.device))):
            if data is None:
                continue
            x, y = data
            # Broadcast-multiply and sum, not einsum/matmul: BLAS would round a
            # run differently depending on how many runs share the call.
            pred = (x[None, :, None, :] * tensors[i][:, None, :, :]).sum(-1)
            if i + 1 < len(self.layout) and len(self.layout[i + 1]) == 1:
                pred = pred + tensors[i + 1].unsqueeze(1)
            total = total + ((pred - y) ** 2).mean(dim=(1, 2))
        return total


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    """``python -m optviz ARGV`` in this process: exit status, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# A training task small enough for a CLI test: moons, 80 rows, one hidden layer of 4, 2 epochs.
SMALL_TRAIN = ["--dataset", "moons", "--data-set", "n_samples=80", "--model-set", "hidden=4", "--epochs", "2",
               "--batch-size", "20"]  # fmt: skip


def tables(at) -> list:
    """Each table a page shows (``optviz.ui.widgets.table``), as a DataFrame of its cells' text."""
    from html.parser import HTMLParser

    import pandas as pd

    from optviz.ui.widgets import TABLE_CLASS

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.cell = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.cell is not None:
                self.rows[-1].append("".join(self.cell))
                self.cell = None

        def handle_data(self, data):
            if self.cell is not None:
                self.cell.append(data)

    out = []
    for body in [e.proto.body for e in at.get("html") if f'class="{TABLE_CLASS}"' in e.proto.body]:
        parser = Cells()
        parser.feed(body)
        head, *rows = parser.rows
        out.append(pd.DataFrame(rows, columns=head))
    return out


def run_table(at):
    """An experiment page's one table: its runs."""
    (table,) = tables(at)
    return table
