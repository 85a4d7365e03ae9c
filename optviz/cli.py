"""``python -m optviz``: the engine without the app.

Bad arguments print one line and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import config, schedules, surfaces
from .data import cli as data_cli
from .engine import RECORDABLE, RunConfig, SurfaceProblem, run
from .experiment import Experiment, from_json
from .export import to_csv, to_json
from .optim import OPTIMIZERS, ConfigError

EPILOG_RUN = """examples:
  python -m optviz run --surface rosenbrock --optimizer Adam --lr 0.01 --steps 500
  python -m optviz run --optimizer SGD Adam --lr 0.001 0.01 --format csv --out runs.csv
  python -m optviz run --optimizer SGD --lr 0.002 --set momentum=0.9 --set nesterov=true \\
      --schedule CosineAnnealingLR --schedule-set T_max=300 --start -1.5 2 --noise 0.5 --seed 1
  python -m optviz run --config experiment.json      # replay a config downloaded from the app
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
        try:
            text = args.config.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read {args.config}: {exc.strerror}") from None
        exp = from_json(text)
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
    if args.out:
        try:
            args.out.write_text(text)
        except OSError as exc:
            raise ConfigError(f"cannot write {args.out}: {exc.strerror}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
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
        return {"run": _cmd_run, "list": _cmd_list, "train": data_cli.cmd_train}[args.command](args)
    except ConfigError as exc:
        print(f"optviz: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("optviz: interrupted", file=sys.stderr)
        return 130
