"""The share link: an Experiment as readable URL query parameters, and back.

A link looks like::

    ?surface=rosenbrock&steps=500&start=-1.2,1
     &run=SGD;lr=0.001;momentum=0.9;label=heavy%20ball
     &run=Adam;lr=0.05;sched=CosineAnnealingLR;s.T_max=500

Each ``run`` holds the optimizer, then ``key=value`` pairs: torch's
hyperparameter names, ``sched`` and its ``s.``-prefixed arguments, ``label``
and ``color``. Only values that differ from the defaults are written, so links
stay short. Reading a link never raises: a field that does not parse falls back
to its default and is named in the returned warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from . import schedules, surfaces
from .engine import RunConfig, SurfaceProblem
from .experiment import Experiment
from .optim import get as get_optimizer
from .optim.base import ConfigError

VIEWS = ("contour", "3d")
MAX_RUNS_IN_LINK = 12


@dataclass(frozen=True)
class View:
    """What the page shows, besides the experiment itself."""

    view: str = "contour"
    tol: float = 1e-3  # "steps to reach": f - f* <= tol
    extra: Mapping[str, str] = field(default_factory=dict)


def _number(x: float) -> str:
    return f"{x:.10g}"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _number(v)
    if isinstance(v, tuple | list):
        return ",".join(_value(x) for x in v)
    return "none" if v is None else str(v)


def encode(exp: Experiment, view: View = View()) -> dict[str, str | list[str]]:
    """Query parameters for ``st.query_params`` (``run`` is repeated)."""
    spec = exp.problem.spec
    params: dict[str, str | list[str]] = {"surface": exp.problem.surface}
    sp = [f"{k}:{_value(v)}" for k, v in exp.problem.params if v != spec.defaults.get(k)]
    if sp:
        params["sp"] = ",".join(sp)
    params["steps"] = str(exp.steps)
    runs = list(exp.runs)
    first = runs[0] if runs else RunConfig()
    start = common_start(runs) if runs else None
    if start is not None:
        params["start"] = _value(start)
    if first.noise:
        params["noise"] = _number(first.noise)
    if first.seed:
        params["seed"] = str(first.seed)
    if exp.dtype != "float32":
        params["dtype"] = exp.dtype
    if view.view != "contour":
        params["view"] = view.view
    if view.tol != View.tol:
        params["tol"] = _number(view.tol)
    params["run"] = [_encode_run(r, start) for r in runs]
    return params


def common_start(runs: Sequence[RunConfig]) -> tuple[float, ...] | None:
    """The start most runs share: the page's start point; other runs carry their own."""
    starts = [r.start for r in runs if r.start is not None]
    return max(starts, key=starts.count) if starts else None


def _encode_run(run: RunConfig, start=None) -> str:
    parts = [run.optimizer]
    parts += [f"{k}={_value(v)}" for k, v in run.hparams]
    if run.schedule != "constant":
        parts.append(f"sched={run.schedule}")
        parts += [f"s.{k}={_value(v)}" for k, v in run.schedule_args]
    if run.start is not None and run.start != start:
        parts.append(f"start={_value(run.start)}")
    if run.label:
        parts.append(f"label={_escape(run.label)}")
    if run.color:
        parts.append(f"color={_escape(run.color)}")
    return ";".join(parts)


def _escape(text: str) -> str:
    """Escape only what would break a run's ``key=value;...`` syntax (and ``%``);
    the browser's own URL encoding does the rest."""
    return quote(text, safe=" #!$&'()*+,-./:?@[]^_`{|}~")


def decode(
    params: Mapping[str, Any], default: Experiment, allowed: tuple[str, ...] = ("torch.optim",)
) -> tuple[Experiment, View, list[str]]:
    """Read query parameters; bad fields keep ``default``'s value and add a warning.

    ``params`` maps a key to a string or a list of strings (repeated keys).
    """
    warnings: list[str] = []

    def one(key: str) -> str | None:
        value = params.get(key)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        return None if value is None else str(value)

    surface_id = one("surface") or default.problem.surface
    if surface_id not in surfaces.SURFACES:
        warnings.append(f"unknown surface {surface_id!r}; showing {default.problem.surface}")
        surface_id = default.problem.surface
    spec = surfaces.get(surface_id)
    sparams: dict[str, Any] = dict(default.problem.params) if surface_id == default.problem.surface else {}
    for item in filter(None, (one("sp") or "").split(",")):
        key, _, text = item.partition(":")
        try:
            sparams[key] = spec.resolve({key: text})[key]
        except ConfigError as exc:
            warnings.append(f"surface parameter ignored: {exc}")
    try:
        problem = SurfaceProblem(surface_id, sparams)
    except ConfigError as exc:
        warnings.append(f"surface parameters ignored: {exc}")
        problem = SurfaceProblem(surface_id)

    steps = _read(one("steps"), default.steps, positive_int, "steps", warnings)
    start = _read(one("start"), None, _point, "start", warnings)
    noise = _read(one("noise"), 0.0, _nonnegative, "noise", warnings)
    seed = _read(one("seed"), 0, _int, "seed", warnings)
    dtype = _read(one("dtype"), default.dtype, _dtype, "dtype", warnings)
    view = View(
        view=_read(one("view"), "contour", _view, "view", warnings),
        tol=_read(one("tol"), View.tol, _positive_float, "tol", warnings),
    )

    runs = decode_runs(params.get("run"), default.runs, allowed, warnings)
    runs = [
        RunConfig(r.optimizer, r.hparams, r.schedule, r.schedule_args, r.start or start, noise, seed, r.label,
                  r.color)
        for r in runs
    ]
    return Experiment(problem, tuple(runs), steps, dtype), view, warnings


def decode_runs(raw, default: Sequence[RunConfig], allowed: tuple[str, ...], warnings: list[str]) -> list[RunConfig]:
    """The link's ``run`` values (one or a list) as RunConfigs; a bad one is skipped with a
    warning, and none at all (or none readable) gives ``default``."""
    if raw is None:
        return list(default)
    raw = [raw] if isinstance(raw, str) else list(raw)
    if len(raw) > MAX_RUNS_IN_LINK:
        warnings.append(f"only the first {MAX_RUNS_IN_LINK} runs of the link are shown")
    runs = []
    for i, text in enumerate(raw[:MAX_RUNS_IN_LINK]):
        try:
            runs.append(_decode_run(str(text), allowed))
        except ConfigError as exc:
            warnings.append(f"run {i + 1} ignored: {exc}")
    return runs or list(default)


def _decode_run(text: str, allowed: tuple[str, ...]) -> RunConfig:
    name, *pairs = text.split(";")
    spec = get_optimizer(name.strip(), allowed)
    hparams: dict[str, Any] = {}
    sargs: dict[str, Any] = {}
    schedule, label, color, start = "constant", "", "", None
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"{pair!r} is not key=value")
        key = key.strip()
        if key == "sched":
            schedule = schedules.get(value.strip()).name
        elif key.startswith("s."):
            sargs[key[2:]] = value
        elif key == "label":
            label = unquote(value)[:80]
        elif key == "color":
            color = _color(unquote(value))
        elif key == "start":
            try:
                start = _point(value)
            except ValueError:
                raise ConfigError(f"start {value!r} is not two finite numbers like -1.5,2") from None
        else:
            hparams[key] = spec.hparam(key).parse(value)
    sargs = schedules.get(schedule).resolve(sargs)  # checks names and kinds
    defaults = schedules.get(schedule).defaults
    sargs = {k: v for k, v in sargs.items() if v != defaults.get(k)}
    return RunConfig(spec.name, hparams, schedule, sargs, start, label=label, color=color)


def _read(text, default, parse, name, warnings):
    if text is None:
        return default
    try:
        return parse(text)
    except (TypeError, ValueError):
        warnings.append(f"{name}={text!r} is not valid; using {default!r}")
        return default


def finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _int(text: str) -> int:
    return int(text)


def _nonnegative(text: str) -> float:
    value = finite(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive_float(text: str) -> float:
    value = finite(text)
    if value <= 0:
        raise ValueError(text)
    return value


def _point(text: str) -> tuple[float, float]:
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(text)
    return (finite(parts[0]), finite(parts[1]))


def _dtype(text: str) -> str:
    if text not in ("float32", "float64"):
        raise ValueError(text)
    return text


def _view(text: str) -> str:
    if text not in VIEWS:
        raise ValueError(text)
    return text


def _color(text: str) -> str:
    ok = text.startswith("#") and len(text) in (4, 7) and all(c in "0123456789abcdefABCDEF" for c in text[1:])
    if not ok:
        raise ConfigError(f"colour {text!r} is not like #1f77b4")
    return text


def query_string(params: Mapping[str, str | Sequence[str]]) -> str:
    """The query string of a link, for display and tests."""
    parts = []
    for key, value in params.items():
        for v in [value] if isinstance(value, str) else value:
            parts.append(f"{key}={quote(v, safe=',:;=.#')}")
    return "?" + "&".join(parts)
