"""``python -m optviz train``: train models on datasets without the app.

Registered by :mod:`optviz.cli`; the same conventions as ``run``: JSON or CSV
out, bad arguments as one line on stderr with status 2. Heavy imports
(scikit-learn) wait until a command needs them, so ``run`` stays quick to start.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

from ..export import read_config, write_output
from ..optim.base import ConfigError

EPILOG = """examples:
  python -m optviz train --dataset moons --model mlp --model-set hidden=16,16 --loss cross_entropy \\
      --optimizer SGD Adam --lr 0.1 0.01 --epochs 30 --batch-size 32
  python -m optviz train --dataset linear --model linear --loss mse --batch-size 0 --epochs 100 \\
      --optimizer SGD --lr 0.1 --record loss,lr,metrics,params --format csv --out runs.csv
  python -m optviz train --csv mydata.csv --target label --model logistic --loss bce --optimizer Adam
  python -m optviz train --config optviz-train.json   # replay a config downloaded from the app
"""

LISTS = ("datasets", "models", "losses")


def add_parser(sub, key_values) -> None:
    t = sub.add_parser(
        "train",
        help="train models on a dataset with several optimizers and write their training curves",
        description="Train one model per optimizer config on a dataset, all runs as one batched computation "
        "that reproduces torch.optim step for step. Every combination of --optimizer and --lr becomes a run; "
        "every run sees the same mini-batches.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--config", type=Path, help="a training experiment JSON (the app's 'config' download); "
                   "other flags but --dtype and the output ones are ignored")
    t.add_argument("--dataset", default="moons", help="dataset id (see 'list datasets'); default moons")
    t.add_argument("--data-set", action="append", metavar="KEY=VALUE", help="a dataset parameter, e.g. noise=0.3")
    t.add_argument("--csv", type=Path, help="train on this CSV file (a header row, numeric features)")
    t.add_argument("--target", default="", help="the CSV's target column (default: the last)")
    t.add_argument("--task", default="auto", choices=["auto", "regression", "classification"],
                   help="what the CSV's target is (default: classes if whole numbers, else regression)")
    t.add_argument("--test-fraction", type=float, default=0.25, help="held-out share of the rows (0 to 0.5)")
    t.add_argument("--no-standardize", action="store_true", help="keep raw features (and targets)")
    t.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic data and of the split")
    t.add_argument("--model", default="mlp", help="model id (see 'list models'); default mlp")
    t.add_argument("--model-set", action="append", metavar="KEY=VALUE", help="e.g. hidden=64,64 or activation=relu")
    t.add_argument("--loss", default="cross_entropy", help="loss id (see 'list losses'); default cross_entropy")
    t.add_argument("--loss-set", action="append", metavar="KEY=VALUE", help="e.g. delta=0.5")
    t.add_argument("--batch-size", type=int, default=32, help="rows per step; 0 = the whole training set")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--shuffle-seed", type=int, default=0, help="seed of the mini-batch order")
    t.add_argument("--init-seed", type=int, default=0, help="seed of the model's initial weights")
    t.add_argument("--optimizer", nargs="+", default=["SGD"], help="torch.optim class names or dotted paths")
    t.add_argument("--lr", nargs="+", type=float, help="learning rates (default: the optimizer's torch default)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="another hyperparameter, e.g. momentum=0.9")
    t.add_argument("--schedule", default="constant", help="an lr_scheduler name (see 'list schedules')")
    t.add_argument("--schedule-set", action="append", metavar="KEY=VALUE", help="a schedule argument")
    t.add_argument("--device", default=None, help="auto, cpu or cuda (default: OPTVIZ_DEVICE or auto)")
    t.add_argument("--dtype", default=None, choices=["float32", "float64"], help="default float32")
    t.add_argument("--record", default="loss,lr,metrics",
                   help="what to write per run, from loss,lr,metrics,params (params: the kept weights)")
    t.add_argument("--format", default="json", choices=["json", "csv"])
    t.add_argument("--out", type=Path, help="write here instead of stdout")
    t.set_defaults(key_values=key_values)


def _experiment(args):
    from ..engine import RunConfig
    from .datasets import DataConfig
    from .experiment import TrainExperiment, from_json
    from .problem import Task

    if args.config:
        exp = from_json(read_config(args.config))
        return exp.replace(dtype=args.dtype or exp.dtype)
    kv = args.key_values
    csv = ""
    if args.csv:
        try:
            csv = args.csv.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {args.csv}: {getattr(exc, 'strerror', None) or exc}") from None
    data = DataConfig("csv" if args.csv else args.dataset, kv(args.data_set, "--data-set"), args.test_fraction,
                      not args.no_standardize, args.data_seed, csv, args.target, args.task)
    task = Task(data, args.model, kv(args.model_set, "--model-set"), args.loss, kv(args.loss_set, "--loss-set"),
                args.batch_size, args.epochs, args.shuffle_seed, args.init_seed)
    hparams = kv(args.set, "--set")
    sargs = kv(args.schedule_set, "--schedule-set")
    runs = []
    for name, lr in itertools.product(args.optimizer, args.lr or [None]):
        hp = dict(hparams) if lr is None else {**hparams, "lr": lr}
        label = name if lr is None else f"{name} lr={lr:g}"
        runs.append(RunConfig(name, hp, args.schedule, sargs, label=label))
    return TrainExperiment(task, tuple(runs), args.dtype or "float32")


def cmd_train(args) -> int:
    from .. import config
    from .export import RECORDS, to_csv, to_json
    from .training import train

    record = tuple(r.strip() for r in args.record.split(",") if r.strip())
    unknown = set(record) - set(RECORDS)
    if unknown:
        raise ConfigError(f"cannot record {sorted(unknown)}; choose from {','.join(RECORDS)}")
    exp = _experiment(args)
    limits = dataclasses.replace(config.limits(), optimizer_modules=("",))  # the user's own machine
    training = train(exp, device=args.device, limits=limits)
    text = to_json(training, record) if args.format == "json" else to_csv(training, record)
    write_output(text, args.out)
    return 0


def registry(what: str) -> list[dict]:
    """Datasets, models and losses as plain values, for ``list``."""
    from . import datasets, losses, models

    def params(hps):
        return [{"name": h.name, "kind": h.kind, "default": h.default, "help": h.help}
                | ({"choices": list(h.choices)} if h.choices else {}) for h in hps]

    if what == "datasets":
        return [{"id": d.id, "name": d.name, "source": d.source, "task": d.task or "from the file",
                 "summary": d.summary, "params": params(d.params)} for d in datasets.DATASETS.values()]
    if what == "models":
        return [{"id": m.id, "name": m.name, "summary": m.summary, "suits": list(m.kinds), "params": params(m.params)}
                for m in models.MODELS.values()]
    return [{"id": s.id, "name": s.name, "summary": s.summary, "task": s.task, "params": params(s.params)}
            for s in losses.LOSSES.values()]


__all__ = ["LISTS", "add_parser", "cmd_train", "registry"]
