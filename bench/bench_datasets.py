"""Training benchmark: six optimizers train an MLP on digits, batched vs one at a time.

    python bench/bench_datasets.py                 # 30 epochs, batch 32, median of 3
    python bench/bench_datasets.py --threads 1     # pin torch's intra-op threads (noisy shared machines)

The model is a 64-64-10 MLP (ReLU) on scikit-learn's digits (1,347 training
images), cross-entropy, mini-batches of 32: 30 epochs are 1,290 steps. The naive
loop is what a user writes by hand: one ``torch.nn`` model and one
``torch.optim`` optimizer per run, stepping in Python on the same mini-batches.
The batched engine trains all six runs as one computation. Both are measured in
this process, in float32 on the CPU; each figure is the median of --repeat
timings after one warm-up. The batched run uses one intra-op thread, as
``optviz.compute`` does for steps this small; --threads 1 puts the naive loop on one too,
for a like-for-like ratio.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optviz.config import Limits  # noqa: E402
from optviz.engine import RunConfig, run  # noqa: E402
from optviz.experiment import Experiment, compute  # noqa: E402
from optviz.optim import get as get_optimizer  # noqa: E402
from optviz.problems import ModelProblem, Task  # noqa: E402
from optviz.problems.datasets import DataConfig  # noqa: E402

UNLIMITED = Limits(max_runs=10**8, max_work=10**12, max_steps=10**7, max_seconds=float("inf"), max_memory=float("inf"))
SIX = [
    RunConfig("SGD", {"lr": 0.1}, label="SGD"),
    RunConfig("SGD", {"lr": 0.05, "momentum": 0.9}, label="SGD + momentum"),
    RunConfig("Adam", {"lr": 1e-3}, label="Adam"),
    RunConfig("AdamW", {"lr": 1e-3, "weight_decay": 0.01}, label="AdamW"),
    RunConfig("RMSprop", {"lr": 1e-3}, label="RMSprop"),
    RunConfig("Adagrad", {"lr": 0.05}, label="Adagrad"),
]


def naive_run(problem: ModelProblem, config: RunConfig) -> list[float]:
    """One run, the way a user writes it: module, loss, optimizer, loop over batches."""
    model = copy.deepcopy(problem.model).float()
    loss_fn = problem.loss_spec.module(problem.n_out, **problem.loss_params)
    optimizer = get_optimizer(config.optimizer).torch_cls(model.parameters(), **config.hp)
    X, y = problem.tensors(torch.float32)[:2]
    losses = []
    for epoch in range(problem.task.epochs):
        order = torch.as_tensor(problem.order(epoch))
        Xe, ye = X[order], y[order]
        for start in range(0, problem.n_train, problem.batch_size):
            xb, yb = Xe[start : start + problem.batch_size], ye[start : start + problem.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def dataloader_run(problem: ModelProblem, config: RunConfig) -> list[float]:
    """The same run, written the idiomatic way: a DataLoader over a TensorDataset
    (with our batch order, so the batches are the same)."""
    from torch.utils.data import DataLoader, TensorDataset

    model = copy.deepcopy(problem.model).float()
    loss_fn = problem.loss_spec.module(problem.n_out, **problem.loss_params)
    optimizer = get_optimizer(config.optimizer).torch_cls(model.parameters(), **config.hp)
    X, y = problem.tensors(torch.float32)[:2]
    batches = [problem.batch(t).tolist() for t in range(problem.steps)]
    losses = []
    for xb, yb in DataLoader(TensorDataset(X, y), batch_sampler=batches):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def median_time(fn, repeat: int) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds. On a shared machine the CPU time
    (with --threads 1) is the steadier figure: it leaves out time spent waiting for a core."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cpu")
    task = Task(
        DataConfig("digits"),
        "mlp",
        {"hidden": (64, 64), "activation": "relu"},
        "cross_entropy",
        batch_size=args.batch_size,
        epochs=args.epochs,
    )
    problem = task.build()
    print(
        f"digits: {problem.n_train} training images, MLP 64-64-10 ({problem.dims:,} weights), "
        f"{problem.steps:,} steps of batch {problem.batch_size}, {len(SIX)} optimizers"
    )

    def batched():
        # As compute() trains: small steps on one intra-op thread (ModelProblem.small_step).
        return run(
            problem,
            SIX,
            steps=problem.steps,
            record=("loss",),
            dtype="float32",
            device="cpu",
            limits=UNLIMITED,
            threads=1,
        )

    def one_at_a_time():
        return [naive_run(problem, c) for c in SIX]

    def with_dataloader():
        return [dataloader_run(problem, c) for c in SIX]

    def app():
        return compute(Experiment(task, tuple(SIX)), limits=UNLIMITED)

    # Same start, same batches: the engine's losses are the plain loop's.
    ours = batched().arrays["loss"][:-1]
    theirs = np.array(one_at_a_time()).T
    print(
        f"max |loss difference| batched vs naive over the first 100 steps (float32): "
        f"{np.abs(ours - theirs)[:100].max():.1e}"
    )

    t_batched = median_time(batched, args.repeat)
    t_naive = median_time(one_at_a_time, args.repeat)
    t_loader = median_time(with_dataloader, max(1, args.repeat // 2))
    t_app = median_time(app, max(1, args.repeat // 2))
    print("                      wall s    cpu s")
    print(f"batched engine      {t_batched[0]:8.3f} {t_batched[1]:8.3f}")
    print(f"one at a time       {t_naive[0]:8.3f} {t_naive[1]:8.3f}")
    print(f"  with DataLoader   {t_loader[0]:8.3f} {t_loader[1]:8.3f}  (the idiomatic loop, same batches)")
    print(f"optviz.compute()    {t_app[0]:8.3f} {t_app[1]:8.3f}  (also keeps weights for the views, evaluates metrics)")
    print(f"ratio one-at-a-time / batched: {t_naive[0] / t_batched[0]:.2f}x wall, {t_naive[1] / t_batched[1]:.2f}x cpu")
    print(
        f"ratio with DataLoader / batched: {t_loader[0] / t_batched[0]:.2f}x wall, "
        f"{t_loader[1] / t_batched[1]:.2f}x cpu"
    )


if __name__ == "__main__":
    main()
