"""``python -m optviz``: the engine without the app.

One ``run`` command for every kind of problem (``--surface`` or ``--dataset``;
``train`` is the same command, for datasets), ``sweep`` for LR sweeps, heatmaps
and basin maps, and ``list`` for the registries. Bad arguments print one line
and exit with status 2; never a traceback. The CLI trusts its user: an
optimizer named by dotted path is imported from any package (the web app only
from the operator's allow-list, OPTVIZ_OPTIMIZER_MODULES).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from . import config
from .params import ConfigError

if TYPE_CHECKING:
    from .engine import RunConfig
    from .experiment import Experiment
    from .problems import ProblemConfig

# Every command but `list` imports torch (2.5-3 s on a laptop), so those imports wait for
# the command; `list` reads this file, which the tests hold equal to the live registries.
REGISTRY_FILE = Path(__file__).with_name("registry.json")

EPILOG_RUN = """examples:
  python -m optviz run --surface rosenbrock --optimizer Adam --lr 0.01 --steps 500
  python -m optviz run --optimizer SGD Adam --lr 0.001 0.01 --format csv --out runs.csv
  python -m optviz run --optimizer SGD --lr 0.002 --set momentum=0.9 --set nesterov=true \\
      --schedule CosineAnnealingLR --schedule-set T_max=300 --start -1.5 2 --noise 0.5 --seed 1
  python -m optviz run --dataset moons --model mlp --model-set hidden=16,16 --loss cross_entropy \\
      --optimizer SGD Adam --lr 0.1 0.01 --epochs 30 --batch-size 32
  python -m optviz run --csv mydata.csv --target label --model logistic --loss bce --optimizer Adam
  python -m optviz run --formula "sin(3*x)*cos(3*y) + a*(x^2+y^2)" --formula-set a=0.1 --optimizer Adam --lr 0.05
  python -m optviz run --config optviz-config.json      # replay a config downloaded from the app
"""

EPILOG_SWEEP = """examples:
  python -m optviz sweep --surface rosenbrock --optimizer Adam --lr-range 1e-4 1 --num 200 --steps 500
  python -m optviz sweep --optimizer SGD --set momentum=0.9 --lr-range 1e-5 0.1 --num 50 --format csv
  python -m optviz sweep --dataset digits --model mlp --epochs 5 --optimizer Adam --lr-range 1e-4 1 --num 50
  python -m optviz sweep --surface himmelblau --optimizer SGD --lr 0.01 --set momentum=0.9 \\
      --grid 100 100 --steps 300          # basin map: one run from every start of a 100 x 100 grid
  python -m optviz sweep --surface himmelblau --optimizer Adam --lr 0.05 --grid 50 50 \\
      --x-range -5 0 --y-range 0 5 --format csv

The LR sweep writes lrs, final_loss, best_loss and diverged_at (one entry per lr;
null where a run diverged or never did) and best_lr. The grid form writes starts,
final_loss, minimum (the index into minima of the known minimum within --tol of
where the run ended, or null), diverged and final_params (one entry per start).
"""

EPILOG_LIST = """examples:
  python -m optviz list optimizers
  python -m optviz list surfaces --format json
  python -m optviz list datasets
"""

LISTS = ("surfaces", "datasets", "models", "losses", "optimizers", "schedules")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, as argparse does, minus the usage dump
        self.exit(2, f"optviz: error: {message}\n")


def _key_values(items: Sequence[str] | None, flag: str) -> dict[str, str]:
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _problem_arguments(p: argparse.ArgumentParser) -> None:
    """The problem: a surface (the default) or a dataset with a model and a loss."""
    s = p.add_argument_group("a surface")
    s.add_argument("--surface", help="surface id (see 'list surfaces'); default rosenbrock")
    s.add_argument("--surface-set", action="append", metavar="KEY=VALUE", help="a surface parameter, e.g. b=10")
    f = p.add_argument_group("a typed formula in x and y (read safely: never run as code)")
    f.add_argument("--formula", help="e.g. \"(1-x)^2 + b*(y-x^2)^2\"; see the README for the language")
    f.add_argument("--formula-set", action="append", metavar="NAME=VALUE",
                   help="a parameter of the formula, e.g. b=100")
    d = p.add_argument_group("a dataset, a model and a loss")
    d.add_argument("--dataset", help="dataset id (see 'list datasets')")
    d.add_argument("--data-set", action="append", metavar="KEY=VALUE", help="a dataset parameter, e.g. noise=0.3")
    d.add_argument("--csv", type=Path, help="train on this CSV file (a header row, numeric features)")
    d.add_argument("--target", default="", help="the CSV's target column (default: the last)")
    d.add_argument("--task", default="auto", choices=["auto", "regression", "classification"],
                   help="what the CSV's target is (default: classes if whole numbers, else regression)")
    d.add_argument("--test-fraction", type=float, default=0.25, help="held-out share of the rows (0 to 0.5)")
    d.add_argument("--no-standardize", action="store_true", help="keep raw features (and targets)")
    d.add_argument("--data-seed", type=int, default=0, help="seed of the synthetic data and of the split")
    d.add_argument("--model", default="mlp", help="model id (see 'list models'); default mlp")
    d.add_argument("--model-set", action="append", metavar="KEY=VALUE", help="e.g. hidden=64,64 or activation=relu")
    d.add_argument("--loss", default="cross_entropy", help="loss id (see 'list losses'); default cross_entropy")
    d.add_argument("--loss-set", action="append", metavar="KEY=VALUE", help="e.g. delta=0.5")
    d.add_argument("--batch-size", type=int, default=32, help="rows per step; 0 = the whole training set")
    d.add_argument("--epochs", type=int, default=30, help="passes over the training rows (default 30)")
    d.add_argument("--shuffle-seed", type=int, default=0, help="seed of the mini-batch order")
    d.add_argument("--init-seed", type=int, default=0, help="seed of the model's initial weights")


def _optimizer_arguments(p: argparse.ArgumentParser, many: bool) -> None:
    o = p.add_argument_group("optimizers")
    if many:
        o.add_argument("--optimizer", nargs="+", default=["SGD"], help="torch.optim class names or dotted paths")
        o.add_argument("--lr", nargs="+", type=float, help="learning rates (default: the optimizer's torch default)")
    else:
        o.add_argument("--optimizer", default="SGD", help="a torch.optim class name or dotted path; default SGD")
    o.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="another hyperparameter, torch's name, e.g. betas=0.9,0.99")
    o.add_argument("--schedule", default="constant", help="an lr_scheduler name (see 'list schedules')")
    o.add_argument("--schedule-set", action="append", metavar="KEY=VALUE",
                   help="a schedule argument, e.g. step_size=100")
    o.add_argument("--steps", type=int, help="optimizer steps (default: 500 on a surface, the epochs on a dataset)")
    o.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"),
                   help="start point on a surface (default: its own)")
    o.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to each gradient")
    o.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    o.add_argument("--device", default=None, help="auto, cpu or cuda (default: OPTVIZ_DEVICE or auto)")
    o.add_argument("--dtype", default=None, choices=["float32", "float64"], help="default float32")
    o.add_argument("--format", default="json", choices=["json", "csv"])
    o.add_argument("--out", type=Path, help="write here instead of stdout")


def build_parser(only_list: bool = False) -> argparse.ArgumentParser:
    """The command line; ``only_list`` leaves out the commands whose arguments need torch."""
    parser = _Parser(prog="python -m optviz", description="See how torch.optim optimizers move.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add_list():
        ls = sub.add_parser("list", help="list " + ", ".join(LISTS), epilog=EPILOG_LIST,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        ls.add_argument("what", choices=LISTS)
        ls.add_argument("--format", default="text", choices=["text", "json"])
        return parser

    if only_list:
        return add_list()
    from . import compare
    from .export import RECORDS

    for name, text in (
        ("run", "run optimizers on a surface, a formula or a dataset and write their paths"),
        ("train", "the same as run, on a dataset (default moons)"),
    ):
        r = sub.add_parser(
            name,
            help=text,
            description="Run one or more optimizer configs on a 2-D surface (--surface) or train a model on a "
            "dataset (--dataset, --csv), all as one batched computation that reproduces torch.optim step for "
            "step. Every combination of --optimizer and --lr becomes a run; on a dataset every run sees the "
            "same mini-batches.",
            epilog=EPILOG_RUN,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        r.add_argument("--config", type=Path, help="an experiment JSON (the app's 'config' download); "
                       "other flags but --dtype, --device and the output ones are ignored")
        _problem_arguments(r)
        _optimizer_arguments(r, many=True)
        r.add_argument("--record", default=None,
                       help=f"what to write per run, from {','.join(RECORDS)} (default: every array recorded, "
                       "the weights only of small models, and the metrics)")

    sw = sub.add_parser(
        "sweep",
        help="sweep the lr (or map start points) in one batch and write the summaries",
        description="Run one optimizer config at N log-spaced learning rates, all as one batch, on a surface "
        "or a dataset; or, with --grid, from every start point of a grid over a surface (a basin map).",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _problem_arguments(sw)
    _optimizer_arguments(sw, many=False)
    g = sw.add_argument_group("the sweep")
    g.add_argument("--lr-range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="lowest and highest lr of the sweep (default 1e-4 1)")
    g.add_argument("--num", type=int, default=50, help="how many log-spaced lrs (default 50)")
    g.add_argument("--lr", type=float, help="with --grid: the one lr (default: torch's)")
    g.add_argument("--grid", nargs=2, type=int, metavar=("NX", "NY"),
                   help="map start points on an NX x NY grid instead")
    g.add_argument("--x-range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="with --grid: x range (default: the surface's domain)")
    g.add_argument("--y-range", nargs=2, type=float, metavar=("LO", "HI"),
                   help="with --grid: y range (default: the surface's domain)")
    g.add_argument("--tol", type=float,
                   help="with --grid: how close to a minimum counts as reaching it (default 1%% of the domain)")

    cp = sub.add_parser("compare", help="compare optimizers fairly: the same tuning budget, seeds and metric",
                        description=compare.__doc__.split("\n\n")[0], epilog=compare.EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    _problem_arguments(cp)
    compare.add_arguments(cp)
    cl = sub.add_parser("classics", help="reproduce the classic results and print each verdict (exit 1 if one fails)")
    cl.add_argument("names", nargs="*", metavar="NAME", help="which classics (default: all; see optviz/classics.py)")
    cl.add_argument("--device", default=None, help="cpu or cuda (default: cpu)")
    return add_list()


def problem_from_args(args) -> ProblemConfig:
    """A typed formula, a dataset (``--dataset`` or ``--csv``) or else a surface, from the command line."""
    from .export import read_config
    from .problems import FormulaProblem, SurfaceProblem, Task

    given = [flag for flag, value in (("--surface", args.surface), ("--formula", args.formula),
                                      ("--dataset", args.dataset), ("--csv", args.csv)) if value is not None]
    if len(given) > 1:
        raise ConfigError(f"give one problem, not {' and '.join(given)}")
    if args.command == "train":
        if given and given[0] not in ("--dataset", "--csv"):
            raise ConfigError(f"train runs on a dataset (--dataset or --csv); give {given[0]} to run instead")
        if not given:
            args.dataset = "moons"
    if args.formula is not None:
        values = {name: _number(value, f"--formula-set {name}")
                  for name, value in _key_values(args.formula_set, "--formula-set").items()}
        problem = FormulaProblem(args.formula, values)
        problem.check()
        return problem
    if args.dataset is None and args.csv is None:
        return SurfaceProblem(args.surface or "rosenbrock", _key_values(args.surface_set, "--surface-set"))
    from .problems.datasets import DataConfig

    text = ""
    if args.csv:
        try:
            text = read_config(args.csv)
        except ConfigError as exc:
            raise ConfigError(str(exc).replace("is it a config JSON?", "save it as CSV UTF-8")) from None
    data = DataConfig("csv" if args.csv else args.dataset, _key_values(args.data_set, "--data-set"),
                      args.test_fraction, not args.no_standardize, args.data_seed, text, args.target, args.task)
    return Task(data, args.model, _key_values(args.model_set, "--model-set"), args.loss,
                _key_values(args.loss_set, "--loss-set"), args.batch_size, args.epochs, args.shuffle_seed,
                args.init_seed)


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ConfigError(f"{where}: {text!r} is not a finite number")
    return value


def _run_config(args, name: str, hparams: dict, label: str = "") -> RunConfig:
    from .engine import RunConfig

    return RunConfig(name, hparams, args.schedule, _key_values(args.schedule_set, "--schedule-set"), args.start,
                     args.noise, args.seed, label)


def _check_start(args, problem: ProblemConfig) -> None:
    if args.start is not None and problem.start_size != 2:
        raise ConfigError("--start is a point on a surface; a model starts from its seeded initial weights")


def experiment_from_args(args) -> Experiment:
    from .experiment import Experiment, from_json
    from .export import read_config

    if args.config:
        exp = from_json(read_config(args.config))
        return exp.replace(dtype=args.dtype or exp.dtype)
    problem = problem_from_args(args)
    _check_start(args, problem)
    hparams = _key_values(args.set, "--set")
    runs = []
    for name, lr in itertools.product(args.optimizer, args.lr or [None]):
        hp = dict(hparams) if lr is None else {**hparams, "lr": lr}
        runs.append(_run_config(args, name, hp, name if lr is None else f"{name} lr={lr:g}"))
    steps = args.steps if args.steps is not None else (None if problem.own_length else problem.default_steps)
    return Experiment(problem, tuple(runs), steps, args.dtype or "float32")


def _user_limits() -> config.Limits:
    return dataclasses.replace(config.limits(), optimizer_modules=("",))  # the user's own machine


def _cmd_run(args) -> int:
    from .engine import RECORDABLE
    from .experiment import compute
    from .export import RECORDS, to_csv, to_json, write_output

    record = None
    if args.record is not None:
        record = tuple(r.strip() for r in args.record.split(",") if r.strip())
        unknown = set(record) - set(RECORDS)
        if unknown:
            raise ConfigError(f"cannot record {sorted(unknown)}; choose from {','.join(RECORDS)}")
    exp = experiment_from_args(args)
    engine_record = tuple(dict.fromkeys(("params", "loss", "lr", *(r for r in record or () if r in RECORDABLE))))
    outcome = compute(exp, record=engine_record, device=args.device, limits=_user_limits())
    text = to_json(outcome, record) if args.format == "json" else to_csv(outcome, record)
    write_output(text, args.out)
    return 0


def _cmd_sweep(args) -> int:
    from . import sweeps
    from .export import write_output

    problem = problem_from_args(args)
    _check_start(args, problem)
    hparams = _key_values(args.set, "--set")
    grid = args.grid is not None
    if grid and args.lr_range:
        raise ConfigError("--grid maps start points at one lr: give --lr, not --lr-range")
    if not grid and (args.lr is not None or args.x_range or args.y_range or args.tol is not None):
        raise ConfigError("--lr, --x-range, --y-range and --tol go with --grid; sweep lrs with --lr-range")
    if args.lr is not None:
        hparams["lr"] = args.lr
    base = _run_config(args, args.optimizer, hparams)
    options = dict(dtype=args.dtype or "float32", device=args.device, limits=_user_limits())
    steps = args.steps if args.steps is not None else (None if problem.own_length else problem.default_steps)
    if grid:
        bm = sweeps.basin_map(problem, [base], steps, nx=args.grid[0], ny=args.grid[1],
                              x_range=args.x_range, y_range=args.y_range, tol=args.tol, **options)
        data, rows = sweeps.basin_map_dict(bm), sweeps.basin_map_rows(bm)
    else:
        lrs = sweeps.log_lrs(*(args.lr_range or (1e-4, 1.0)), args.num)
        sweep = sweeps.lr_sweep(problem, [base], lrs, steps, **options)
        data, rows = sweeps.lr_sweep_dict(sweep), sweeps.lr_sweep_rows(sweep)
    if args.format == "json":
        text = json.dumps(data, allow_nan=False) + "\n"
    else:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows([["" if v is None else v for v in row] for row in rows])
        text = out.getvalue()
    write_output(text, args.out)
    return 0


def _params(hps) -> list[dict]:
    return [{"name": h.name, "kind": h.kind, "default": h.default, "help": h.help}
            | ({"choices": list(h.choices)} if h.choices else {}) for h in hps]


def registry(what: str) -> list[dict]:
    """The registries as plain values: names, parameters, defaults, minima."""
    if what == "surfaces":
        from .problems import surfaces

        return [
            {"id": s.id, "name": s.name, "latex": s.latex, "domain": [list(d) for d in s.domain],
             "start": list(s.start), "minima": [list(m) for m in s.minima(**s.defaults)], "teaches": s.teaches,
             "params": _params(s.params)}
            for s in surfaces.SURFACES.values()
        ]
    if what == "datasets":
        from .problems import datasets

        return [{"id": d.id, "name": d.name, "source": d.source, "task": d.task or "from the file",
                 "summary": d.summary, "params": _params(d.params)} for d in datasets.DATASETS.values()]
    if what == "models":
        from .problems import models

        return [{"id": m.id, "name": m.name, "summary": m.summary, "suits": list(m.kinds), "params": _params(m.params)}
                for m in models.MODELS.values()]
    if what == "losses":
        from .problems import losses

        return [{"id": s.id, "name": s.name, "summary": s.summary, "task": s.task, "params": _params(s.params)}
                for s in losses.LOSSES.values()]
    if what == "optimizers":
        from .optim import OPTIMIZERS

        return [{"name": o.name, "summary": o.summary, "hparams": _params(o.hparams), "state": list(o.state_keys)}
                for o in OPTIMIZERS.values()]
    from .optim import schedules

    return [{"name": s.name, "summary": s.summary, "args": _params(s.args)} for s in schedules.SCHEDULES.values()]


def write_registry() -> None:
    """Refresh ``registry.json`` from the live registries (after changing one)."""
    def items(what):  # one entry a line: a change to the registry reads as a one-line diff
        return ",\n".join("  " + json.dumps(item, ensure_ascii=False) for item in registry(what))

    text = ",\n".join(f'"{what}": [\n{items(what)}\n]' for what in LISTS)
    REGISTRY_FILE.write_text("{\n" + text + "\n}\n", encoding="utf-8")


def listed(what: str) -> list[dict]:
    """What `list` shows: the registry as ``registry.json`` holds it."""
    return json.loads(REGISTRY_FILE.read_text(encoding="utf-8"))[what]


def _cmd_list(args) -> int:
    items = listed(args.what)
    if args.format == "json":
        print(json.dumps(items, indent=2))
        return 0
    for item in items:
        name = item.get("id") or item["name"]
        print(f"{name:22} {item.get('summary') or item.get('teaches', '')}")
    return 0


def _compare_command(args, problem: ProblemConfig) -> int:
    from .compare import command

    return command(args, problem)


def _cmd_classics(args) -> int:
    from . import classics

    return classics.main(args.names, args.device)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(only_list=argv[:1] == ["list"]).parse_args(argv)
    try:
        commands = {"run": _cmd_run, "train": _cmd_run, "sweep": _cmd_sweep, "list": _cmd_list,
                    "compare": lambda a: _compare_command(a, problem_from_args(a)),
                    "classics": _cmd_classics}
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"optviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optviz: interrupted", file=sys.stderr)
        return 130
