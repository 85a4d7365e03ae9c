"""``python -m optviz``: the engine without the app.

Bad arguments print one line and exit with status 2; never a traceback.
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

from . import config, schedules, surfaces, sweeps
from .data import cli as data_cli
from .engine import RECORDABLE, RunConfig, SurfaceProblem, run
from .experiment import Experiment, from_json
from .export import read_config, to_csv, to_json, write_output
from .optim import OPTIMIZERS, ConfigError

EPILOG_RUN = """examples:
  python -m optviz run --surface rosenbrock --optimizer Adam --lr 0.01 --steps 500
  python -m optviz run --optimizer SGD Adam --lr 0.001 0.01 --format csv --out runs.csv
  python -m optviz run --optimizer SGD --lr 0.002 --set momentum=0.9 --set nesterov=true \\
      --schedule CosineAnnealingLR --schedule-set T_max=300 --start -1.5 2 --noise 0.5 --seed 1
  python -m optviz run --config experiment.json      # replay a config downloaded from the app
"""

EPILOG_SWEEP = """examples:
  python -m optviz sweep --surface rosenbrock --optimizer Adam --lr-range 1e-4 1 --num 200 --steps 500
  python -m optviz sweep --optimizer SGD --set momentum=0.9 --lr-range 1e-5 0.1 --num 50 --format csv
  python -m optviz sweep --optimizer Adam --lr-range 1e-3 1 --num 100 \\
      --schedule CosineAnnealingLR --schedule-set T_max=500 --out adam-lrs.json
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m optviz", description="See how torch.optim optimizers move.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser(
        "run",
        help="run optimizers on a surface and write their paths",
        description="Run one or more optimizer configs on a 2-D surface with the same engine the app uses. "
        "Every combination of --optimizer and --lr becomes a run.",
        epilog=EPILOG_RUN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--config", type=Path, help="an experiment JSON (the app's 'config' download); other run flags are ignored")
    r.add_argument("--surface", default="rosenbrock", help="surface id (see 'list surfaces'); default rosenbrock")
    r.add_argument("--surface-set", action="append", metavar="KEY=VALUE", help="a surface parameter, e.g. b=10")
    r.add_argument("--optimizer", nargs="+", default=["SGD"], help="torch.optim class names or dotted paths")
    r.add_argument("--lr", nargs="+", type=float, help="learning rates (default: the optimizer's torch default)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="another hyperparameter, torch's name, e.g. betas=0.9,0.99")
    r.add_argument("--schedule", default="constant", help="an lr_scheduler name (see 'list schedules')")
    r.add_argument("--schedule-set", action="append", metavar="KEY=VALUE", help="a schedule argument, e.g. step_size=100")
    r.add_argument("--steps", type=int, default=500, help="optimizer steps (default 500)")
    r.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"), help="start point (default: the surface's)")
    r.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to each gradient")
    r.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    r.add_argument("--device", default=None, help="auto, cpu or cuda (default: OPTVIZ_DEVICE or auto)")
    r.add_argument("--dtype", default=None, choices=["float32", "float64"], help="default float32")
    r.add_argument("--record", default="params,loss,lr", help=f"what to keep per step, from {','.join(RECORDABLE)}")
    r.add_argument("--format", default="json", choices=["json", "csv"])
    r.add_argument("--out", type=Path, help="write here instead of stdout")

    sw = sub.add_parser(
        "sweep",
        help="sweep the lr (or map start points) in one batch and write the summaries",
        description="Run one optimizer config at N log-spaced learning rates on a 2-D surface, all as one "
        "batch; or, with --grid, from every start point of a grid (a basin map).",
        epilog=EPILOG_SWEEP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sw.add_argument("--surface", default="rosenbrock", help="surface id (see 'list surfaces'); default rosenbrock")
    sw.add_argument("--surface-set", action="append", metavar="KEY=VALUE",
                    help="a surface parameter, e.g. kappa=100")
    sw.add_argument("--optimizer", default="SGD", help="a torch.optim class name or dotted path; default SGD")
    sw.add_argument("--lr-range", nargs=2, type=float, metavar=("LO", "HI"),
                    help="lowest and highest lr of the sweep (default 1e-4 1)")
    sw.add_argument("--num", type=int, default=50, help="how many log-spaced lrs (default 50)")
    sw.add_argument("--lr", type=float, help="with --grid: the one lr (default: torch's)")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="another hyperparameter, torch's name, e.g. betas=0.9,0.99")
    sw.add_argument("--schedule", default="constant", help="an lr_scheduler name (see 'list schedules')")
    sw.add_argument("--schedule-set", action="append", metavar="KEY=VALUE",
                    help="a schedule argument, e.g. step_size=100")
    sw.add_argument("--steps", type=int, default=500, help="optimizer steps (default 500)")
    sw.add_argument("--start", nargs=2, type=float, metavar=("X", "Y"),
                    help="start point of the lr sweep (default: the surface's)")
    sw.add_argument("--noise", type=float, default=0.0, help="std of Gaussian noise added to each gradient")
    sw.add_argument("--seed", type=int, default=0, help="seed of the gradient noise")
    sw.add_argument("--grid", nargs=2, type=int, metavar=("NX", "NY"),
                    help="map start points on an NX x NY grid instead")
    sw.add_argument("--x-range", nargs=2, type=float, metavar=("LO", "HI"),
                    help="with --grid: x range (default: the surface's domain)")
    sw.add_argument("--y-range", nargs=2, type=float, metavar=("LO", "HI"),
                    help="with --grid: y range (default: the surface's domain)")
    sw.add_argument("--tol", type=float,
                    help="with --grid: how close to a minimum counts as reaching it (default 1%% of the domain)")
    sw.add_argument("--device", default=None, help="auto, cpu or cuda (default: OPTVIZ_DEVICE or auto)")
    sw.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="default float32")
    sw.add_argument("--format", default="json", choices=["json", "csv"])
    sw.add_argument("--out", type=Path, help="write here instead of stdout")

    data_cli.add_parser(sub, _key_values)  # python -m optviz train

    ls = sub.add_parser(
        "list",
        help="list surfaces, optimizers, schedules, datasets, models or losses",
        epilog=EPILOG_LIST,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ls.add_argument("what", choices=["surfaces", "optimizers", "schedules", *data_cli.LISTS])
    ls.add_argument("--format", default="text", choices=["text", "json"])
    return parser


def _experiment(args) -> Experiment:
    if args.config:
        exp = from_json(read_config(args.config))
        return exp.replace(dtype=args.dtype or exp.dtype)
    problem = SurfaceProblem(args.surface, _key_values(args.surface_set, "--surface-set"))
    hparams = _key_values(args.set, "--set")
    sargs = _key_values(args.schedule_set, "--schedule-set")
    runs = []
    for name, lr in itertools.product(args.optimizer, args.lr or [None]):
        hp = dict(hparams) if lr is None else {**hparams, "lr": lr}
        label = name if lr is None else f"{name} lr={lr:g}"
        runs.append(RunConfig(name, hp, args.schedule, sargs, args.start, args.noise, args.seed, label))
    return Experiment(problem, tuple(runs), args.steps, args.dtype or "float32")


def _cmd_run(args) -> int:
    exp = _experiment(args)
    record = tuple(r.strip() for r in args.record.split(",") if r.strip())
    limits = dataclasses.replace(config.limits(), optimizer_modules=("",))  # the user's own machine
    result = run(exp.problem, exp.runs, steps=exp.steps, record=record, device=args.device, dtype=exp.dtype, limits=limits)
    text = to_json(exp, result) if args.format == "json" else to_csv(exp, result)
    write_output(text, args.out)
    return 0


def _cmd_sweep(args) -> int:
    problem = SurfaceProblem(args.surface, _key_values(args.surface_set, "--surface-set"))
    hparams = _key_values(args.set, "--set")
    grid = args.grid is not None
    if grid and args.lr_range:
        raise ConfigError("--grid maps start points at one lr: give --lr, not --lr-range")
    if not grid and (args.lr is not None or args.x_range or args.y_range or args.tol is not None):
        raise ConfigError("--lr, --x-range, --y-range and --tol go with --grid; sweep lrs with --lr-range")
    if args.lr is not None:
        hparams["lr"] = args.lr
    base = RunConfig(args.optimizer, hparams, args.schedule, _key_values(args.schedule_set, "--schedule-set"),
                     args.start, args.noise, args.seed)
    limits = dataclasses.replace(config.limits(), optimizer_modules=("",))  # the user's own machine
    options = dict(dtype=args.dtype, device=args.device, limits=limits)
    if grid:
        bm = sweeps.basin_map(problem, [base], args.steps, nx=args.grid[0], ny=args.grid[1],
                              x_range=args.x_range, y_range=args.y_range, tol=args.tol, **options)
        data, rows = sweeps.basin_map_dict(bm), sweeps.basin_map_rows(bm)
    else:
        lrs = sweeps.log_lrs(*(args.lr_range or (1e-4, 1.0)), args.num)
        sweep = sweeps.lr_sweep(problem, [base], lrs, args.steps, **options)
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


def registry(what: str) -> list[dict]:
    """The registries as plain values: names, parameters, defaults, minima."""

    def params(hps):
        return [
            {"name": h.name, "kind": h.kind, "default": h.default, "help": h.help}
            | ({"choices": list(h.choices)} if h.choices else {})
            for h in hps
        ]

    if what in data_cli.LISTS:
        return data_cli.registry(what)
    if what == "surfaces":
        return [
            {
                "id": s.id,
                "name": s.name,
                "latex": s.latex,
                "domain": [list(d) for d in s.domain],
                "start": list(s.start),
                "minima": [list(m) for m in s.minima(**s.defaults)],
                "teaches": s.teaches,
                "params": params(s.params),
            }
            for s in surfaces.SURFACES.values()
        ]
    if what == "optimizers":
        return [
            {"name": o.name, "summary": o.summary, "hparams": params(o.hparams), "state": list(o.state_keys)}
            for o in OPTIMIZERS.values()
        ]
    return [{"name": s.name, "summary": s.summary, "args": params(s.args)} for s in schedules.SCHEDULES.values()]


def _cmd_list(args) -> int:
    items = registry(args.what)
    if args.format == "json":
        print(json.dumps(items, indent=2))
        return 0
    for item in items:
        name = item.get("id") or item["name"]
        print(f"{name:22} {item.get('summary') or item.get('teaches', '')}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        commands = {"run": _cmd_run, "sweep": _cmd_sweep, "train": data_cli.cmd_train, "list": _cmd_list}
        return commands[args.command](args)
    except ConfigError as exc:
        print(f"optviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optviz: interrupted", file=sys.stderr)
        return 130
