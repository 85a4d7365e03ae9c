"""The share link: an Experiment (and a sweep's settings) as readable URL query parameters.

A link looks like::

    ?surface=rosenbrock&steps=500&start=-1.2,1
     &run=SGD;lr=0.001;momentum=0.9;label=heavy%20ball
     &run=Adam;lr=0.05;sched=CosineAnnealingLR;s.T_max=500

The problem writes its own parameters (a surface's ``surface`` and ``sp``, a
training's ``dataset``, ``model``, ``loss``, ...; see each kind's
``to_query``). Each ``run`` holds the optimizer, then ``key=value`` pairs:
torch's hyperparameter names, ``sched`` and its ``s.``-prefixed arguments,
``start``, ``noise`` and ``noise_seed`` (gradient noise), ``label`` and
``color``. Only values that differ from the defaults are written, so links
stay short. Reading a link never raises: a field that does not parse falls
back to its default and is named in the warnings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote

from . import config
from .engine import RunConfig
from .experiment import DTYPES, Experiment
from .optim import get as get_optimizer
from .optim import schedules
from .params import ConfigError, finite, whole
from .problems import KINDS, ProblemConfig, SurfaceProblem, kind_of_query
from .problems.base import Query, number_text, point, value_text
from .problems.datasets import MAX_SEED
from .sweeps import Axis

VIEWS = ("contour", "3d")
THEMES = ("default", "projector")  # optviz.charts.theme's names
MAX_RUNS_IN_LINK = 12
MAX_LABEL = 80


@dataclass(frozen=True)
class View:
    """What the page shows, besides the experiment itself."""

    view: str = "contour"
    tol: float = 1e-3  # "steps to reach": f - f* <= tol
    # Arrows, the state panel and curvature: off by default, because recording the
    # gradient and the optimizer's state costs compute that the plain race does not need.
    inside: bool = False
    theme: str = "default"  # "projector": large fonts, thick lines (optviz.charts.theme)
    # Step mode (a kind with STEP_MODE): the update shown, one at a time; None animates.
    # With ``predict`` each update stays hidden until Reveal. A shared link opens at that update.
    step: int | None = None
    predict: bool = False
    curvature: bool = False  # the inside view's curvature panel (seconds of work, so off by default)


def encode(exp: Experiment, view: View = View()) -> dict[str, str | list[str]]:
    """Query parameters for ``st.query_params`` (``run`` is repeated)."""
    params: dict[str, str | list[str]] = dict(exp.problem.to_query())
    if exp.steps is not None:
        params["steps"] = str(exp.steps)
    runs = list(exp.runs)
    start = common_start(runs)
    if start is not None:
        params["start"] = value_text(start)
    if exp.dtype != "float32":
        params["dtype"] = exp.dtype
    if view.view != View.view:
        params["view"] = view.view
    if view.tol != View.tol:
        params["tol"] = number_text(view.tol)
    if view.inside:
        params["inside"] = "1"
    if view.theme != View.theme:
        params["theme"] = view.theme
    if view.step is not None:
        params["step"] = str(view.step)
        if view.predict:
            params["predict"] = "1"
    if view.curvature:
        params["curvature"] = "1"
    params["run"] = [encode_run(r, start) for r in runs]
    return params


def common_start(runs: Sequence[RunConfig]) -> tuple[float, ...] | None:
    """The start most runs share: the page's start point; other runs carry their own."""
    starts = [r.start for r in runs if r.start is not None]
    return max(starts, key=starts.count) if starts else None


def encode_run(run: RunConfig, start: tuple[float, ...] | None = None) -> str:
    """``Adam;lr=0.05;sched=StepLR;s.step_size=100;label=fast``: one run, defaults left out."""
    parts = [run.optimizer]
    parts += [f"{k}={value_text(v)}" for k, v in run.hparams]
    if run.schedule != "constant":
        parts.append(f"sched={run.schedule}")
        parts += [f"s.{k}={value_text(v)}" for k, v in run.schedule_args]
    if run.start is not None and run.start != start:
        parts.append(f"start={value_text(run.start)}")
    if run.noise:
        parts.append(f"noise={number_text(run.noise)}")
    if run.seed:
        parts.append(f"noise_seed={run.seed}")
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

    ``params`` maps a key to a string or a list of strings (repeated keys). The
    link's problem keys say which kind it is; without any, ``default``'s kind.
    """
    query = Query(params)
    problem = read_problem(query, default.problem)
    same = type(problem) is type(default.problem)
    max_steps = config.limits().max_steps
    steps = default.steps if same else None
    if steps is None and not problem.own_length:
        steps = problem.default_steps
    if "steps" in query:
        steps = read_steps(query, steps, max_steps)
    size = problem.start_size
    start = query.read("start", None, lambda t: point(t, size=size),
                       f"{size} numbers like -1.5,2" if size else "numbers like -1.5,2")
    noise = query.read("noise", 0.0, _nonnegative, "a number >= 0")
    seed = query.read("seed", 0, lambda t: whole(t, 0, MAX_SEED), f"a seed from 0 to {MAX_SEED:,}")
    dtype = query.choice("dtype", default.dtype, DTYPES, "dtype")
    step = query.read("step", None, lambda t: whole(t, 0, max_steps), f"an update from 0 to {max_steps:,}")
    predict = query.read("predict", "0", _flag, "0 or 1 (each update shown, or hidden until Reveal)") == "1"
    curv = query.read("curvature", "0", _flag, "0 or 1 (the curvature panel hidden or shown)") == "1"
    inside = query.read("inside", "0", _flag, "0 or 1 (the optimizer's state hidden or shown)") == "1"
    view = View(query.choice("view", View.view, VIEWS, "view"),
                query.read("tol", View.tol, _positive, "a number > 0"),
                inside or step is not None or curv,  # both are parts of the inside view
                read_theme(query), step, predict and step is not None, curv)
    runs = decode_runs(query, "run", default.runs if same else (), allowed)
    # Links before per-run noise carried one noise and seed for every run.
    runs = [replace(r, start=r.start or start, noise=r.noise or noise, seed=r.seed or seed) for r in runs]
    return Experiment(problem, tuple(runs), steps, dtype), view, query.warnings


def read_theme(query: Query) -> str:
    """The link's chart theme (``theme=projector``); any page's links may carry it."""
    return query.choice("theme", View.theme, THEMES, "theme")


def _flag(text: str) -> str:
    if text.strip() not in ("0", "1"):
        raise ValueError(text)
    return text.strip()


def read_problem(query: Query, default: ProblemConfig) -> ProblemConfig:
    """The link's problem: the kind its keys name (else ``default``'s), read with warnings."""
    cls = KINDS[kind_of_query(query, default.kind)]
    return cls.from_query(query, default if isinstance(default, cls) else None)


def read_steps(query: Query, default: int | None, most: int) -> int | None:
    """``steps``: a whole number from 1 to the server's limit; beyond it, the limit, with a warning."""
    text = query.one("steps")
    try:
        value = whole(float(text))
    except (TypeError, ValueError, OverflowError):
        query.warn(f"steps={text!r} is not a whole number; using {default}")
        return default
    if value < 1:
        query.warn(f"steps={text!r} is below 1; using 1")
        return 1
    if value > most:
        query.warn(f"steps={text} is more than this server allows ({most:,}; OPTVIZ_MAX_STEPS); using {most:,}")
        return most
    return value


def decode_runs(query: Query, key: str, default: Sequence[RunConfig], allowed: tuple[str, ...],
                most: int = MAX_RUNS_IN_LINK) -> list[RunConfig]:
    """The link's ``key`` values as RunConfigs; a bad one is skipped with a warning,
    and none at all (or none readable) gives ``default``."""
    runs = read_each(query, key, most, lambda text: decode_run(text, allowed), "run",
                     f"only the first {most} runs of the link are shown")
    return runs or list(default)


def read_each(query: Query, key: str, most: int, parse: Callable[[str], Any], noun: str, too_many: str) -> list:
    """Each of the link's repeated ``key`` values, parsed: past ``most`` they are cut (warning
    ``too_many``), and a bad one is skipped with a warning that names it (``noun`` i)."""
    raw = query.many(key) or []
    if len(raw) > most:
        query.warn(too_many)
    out = []
    for i, text in enumerate(raw[:most]):
        try:
            out.append(parse(text))
        except ConfigError as exc:
            query.warn(f"{noun} {i + 1} ignored: {exc}")
    return out


def decode_run(text: str, allowed: tuple[str, ...]) -> RunConfig:
    """One run from ``encode_run``'s form; ConfigError names what is wrong."""
    name, *pairs = text.split(";")
    spec = get_optimizer(name.strip(), allowed)
    hparams: dict[str, Any] = {}
    sargs: dict[str, Any] = {}
    schedule, label, color, start, noise, seed = "constant", "", "", None, 0.0, 0
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
            label = unquote(value)[:MAX_LABEL]
        elif key == "color":
            color = _color(unquote(value))
        elif key == "start":
            try:
                start = point(value, size=None)
            except ValueError:
                raise ConfigError(f"start {value!r} is not finite numbers like -1.5,2") from None
        elif key == "noise":
            try:
                noise = _nonnegative(value)
            except ValueError:
                raise ConfigError(f"noise {value!r} is not a number >= 0") from None
        elif key == "noise_seed":
            try:
                seed = whole(value, 0, 2**63 - 1)
            except ValueError:
                raise ConfigError(f"noise_seed {value!r} is not a whole number >= 0") from None
        else:
            hparams[key] = spec.hparam(key).parse(value)
    spec_s = schedules.get(schedule)
    sargs = spec_s.resolve(sargs)  # checks names and kinds
    sargs = {k: v for k, v in sargs.items() if v != spec_s.defaults.get(k)}
    return RunConfig(spec.name, hparams, schedule, sargs, start, noise, seed, label=label, color=color)


def _nonnegative(text: str) -> float:
    value = finite(text)
    if value < 0:
        raise ValueError(text)
    return value


def _positive(text: str) -> float:
    value = finite(text)
    if value <= 0:
        raise ValueError(text)
    return value


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


# -- the Sweeps page's settings ----------------------------------------------------------

SECTIONS = {"lr": "LR sweep", "basin": "Basin map", "heatmap": "Hyperparameter heatmap"}
COLOR_BY = ("minimum", "loss", "diverged")
LR_SLOTS, BASIN_SLOTS = 4, 2
MAX_LRS = 5000


@dataclass(frozen=True)
class LRSettings:
    """N log-spaced learning rates for each optimizer config, on any problem."""

    problem: ProblemConfig = field(default_factory=lambda: SurfaceProblem("rosenbrock"))
    runs: tuple[RunConfig, ...] = (
        RunConfig("SGD"),
        RunConfig("SGD", {"momentum": 0.9}),
        RunConfig("Adam"),
    )
    lo: float = 1e-5
    hi: float = 1.0
    num: int = 200
    steps: int | None = 300


@dataclass(frozen=True)
class BasinSettings:
    """A run from every start of a grid over a surface's domain, for one or two configs."""

    problem: SurfaceProblem = field(default_factory=lambda: SurfaceProblem("himmelblau"))
    runs: tuple[RunConfig, ...] = (
        RunConfig("SGD", {"lr": 0.01}),
        RunConfig("SGD", {"lr": 0.01, "momentum": 0.9}),
    )
    grid: int = 80
    steps: int | None = 200
    color_by: str = "minimum"


@dataclass(frozen=True)
class HeatmapSettings:
    """Two hyperparameters of one config on a grid, on any problem."""

    problem: ProblemConfig = field(default_factory=lambda: SurfaceProblem("quadratic"))
    run: RunConfig = RunConfig("SGD")
    x: Axis = Axis("lr", 0.1, 10.0, 31, log=True)
    y: Axis = Axis("momentum", 0.0, 0.95, 20)
    steps: int | None = 100


SWEEP_DEFAULTS = {"lr": LRSettings(), "basin": BasinSettings(), "heatmap": HeatmapSettings()}
# The kinds each section can run on: a basin map needs a 2-D surface's domain.
SWEEP_KINDS = {"lr": tuple(KINDS), "basin": ("surface", "formula"), "heatmap": tuple(KINDS)}


def float_hparams(name: str, allowed: tuple[str, ...] = ("",)) -> list[str]:
    """The hyperparameters a heatmap can vary: numbers, and each element of a tuple (``betas[1]``)."""
    spec = get_optimizer(name, allowed)
    out = []
    for h in spec.hparams:
        if h.kind == "float":
            out.append(h.name)
        elif h.kind == "floats":
            out += [f"{h.name}[{i}]" for i in range(h.length)]
    return out


def default_axis(name: str, hparam: str, allowed: tuple[str, ...] = ("",)) -> Axis:
    """A sensible range for a hyperparameter axis, from the registry's widget hints."""
    if hparam == "lr":
        return Axis("lr", 1e-4, 1.0, 25, log=True)
    if hparam == "momentum":
        return Axis("momentum", 0.0, 0.95, 20)
    base = hparam.split("[")[0]
    if hparam.startswith("betas["):
        return Axis(hparam, 0.5, 0.999, 20) if hparam.endswith("[1]") else Axis(hparam, 0.0, 0.99, 20)
    h = get_optimizer(name, allowed).hparam(base)
    lo, hi = (h.low, h.high) if h.low is not None and h.high is not None else (0.0, 1.0)
    if h.log and lo > 0:
        return Axis(hparam, lo, hi, 20, log=True)
    return Axis(hparam, lo, hi, 20)


def second_axis(name: str, allowed: tuple[str, ...] = ("",)) -> str:
    names = [n for n in float_hparams(name, allowed) if n != "lr"]
    for preferred in ("momentum", "betas[1]", "alpha", "rho"):
        if preferred in names:
            return preferred
    return names[0] if names else "lr"


def _axis_text(a: Axis) -> str:
    return ":".join([a.name, f"{a.lo:.6g}", f"{a.hi:.6g}", str(a.num)] + (["log"] if a.log else []))


def encode_sweep(section: str, settings) -> dict[str, str | list[str]]:
    """Query parameters for a Sweeps-page section and its settings."""
    out: dict[str, str | list[str]] = {"mode": section, **settings.problem.to_query()}
    if settings.steps is not None:
        out["steps"] = str(settings.steps)
    if section == "lr":
        out["lrs"] = f"{settings.lo:.6g},{settings.hi:.6g},{settings.num}"
        out["opt"] = [encode_run(r) for r in settings.runs]
    elif section == "basin":
        out["grid"] = str(settings.grid)
        out["color"] = settings.color_by
        out["opt"] = [encode_run(r) for r in settings.runs]
    else:
        out["opt"] = encode_run(settings.run)
        out["x"], out["y"] = _axis_text(settings.x), _axis_text(settings.y)
    return out


def decode_sweep(params: Mapping[str, Any], allowed: tuple[str, ...] = ("torch.optim",)
                 ) -> tuple[str, Any, list[str]]:
    """Read a Sweeps-page link: the section, its settings, and warnings for what was ignored."""
    query = Query(params)
    section = query.choice("mode", "lr", list(SECTIONS), "mode")
    default = SWEEP_DEFAULTS[section]
    kind = kind_of_query(query, default.problem.kind)
    if kind not in SWEEP_KINDS[section]:
        query.warn(f"a {SECTIONS[section].lower()} needs a 2-D surface; showing {default.problem.name}")
        problem = default.problem
    else:
        problem = read_problem(query, default.problem)
    changes: dict[str, Any] = {"problem": problem}
    if type(problem) is not type(default.problem):
        changes["steps"] = None
    limits = config.limits()
    if "steps" in query:
        changes["steps"] = read_steps(query, changes.get("steps", default.steps), limits.max_steps)
    most = LR_SLOTS if section == "lr" else BASIN_SLOTS
    runs = decode_runs(query, "opt", (), allowed, most=most)
    if section == "lr":
        if runs:
            changes["runs"] = tuple(runs)
        text = query.one("lrs")
        if text is not None:
            try:
                lo, hi, num = text.split(",")
                lo, hi, num = finite(lo), finite(hi), whole(num, 2, MAX_LRS)
                if not 0 < lo <= hi:
                    raise ValueError(text)
                changes.update(lo=lo, hi=hi, num=num)
            except ValueError:
                query.warn(f"lrs={text!r} is not like 1e-5,1,200 (low, high, count); using the default")
    elif section == "basin":
        if runs:
            changes["runs"] = tuple(runs)
        changes["grid"] = query.read("grid", default.grid, lambda t: whole(t, 2, limits.max_grid),
                                     f"a whole number from 2 to {limits.max_grid} (OPTVIZ_MAX_GRID)")
        changes["color_by"] = query.choice("color", default.color_by, COLOR_BY, "colouring")
    else:
        run = runs[0] if runs else default.run
        changes["run"] = run
        for key in ("x", "y"):
            text = query.one(key)
            if text is None:
                continue
            try:
                changes[key] = _decode_axis(text, run, allowed, limits.max_grid)
            except (ValueError, ConfigError) as exc:
                query.warn(f"{key}={text!r} ignored: {exc or 'not like lr:0.1:10:31:log'}")
        if changes.get("x", default.x).name == changes.get("y", default.y).name:
            query.warn("the two axes must differ; using the default axes")
            changes.pop("x", None), changes.pop("y", None)
        elif run.optimizer != default.run.optimizer and not ({"x", "y"} <= set(changes)):
            changes.setdefault("x", default_axis(run.optimizer, "lr", allowed))
            changes.setdefault("y", default_axis(run.optimizer, second_axis(run.optimizer, allowed), allowed))
    return section, replace(default, **changes), query.warnings


def _decode_axis(text: str, run: RunConfig, allowed: tuple[str, ...], most: int) -> Axis:
    parts = text.split(":")
    if len(parts) not in (4, 5) or (len(parts) == 5 and parts[4] != "log"):
        raise ValueError("not like lr:0.1:10:31:log")
    name = parts[0]
    if name not in float_hparams(run.optimizer, allowed):
        raise ConfigError(f"{run.optimizer} has no number hyperparameter {name!r}")
    axis = Axis(name, finite(parts[1]), finite(parts[2]), whole(parts[3], 2, most), log=len(parts) == 5)
    axis.values  # noqa: B018 -- checks the range (low <= high, low > 0 on a log axis)
    return axis



# -- the Compare page's settings (optviz.compare) -----------------------------------------------
#
#     ?surface=rosenbrock&steps=500&opt=SGD;lr=1e-05:0.1:log&opt=SGD;lr=1e-05:0.1:log;momentum=0:0.99
#      &trials=64&seeds=5&metric=final_loss&target=0.001&tseed=0&spread=0.05&axis=evals&band=iqr
#
# Each ``opt`` is a contender in optviz.compare's text form; a field left out has its default.

COMPARE_SLOTS = 4  # contenders the page shows (the CLI takes up to optviz.compare.MAX_CONTENDERS)
COMPARE_BANDS = ("minmax", "iqr")


@dataclass(frozen=True)
class CompareView:
    """How the Compare page draws a comparison: the race's x-axis and its band over the seeds."""

    axis: str = "steps"
    band: str = "minmax"


def encode_compare(settings, view: CompareView = CompareView()) -> dict[str, str | list[str]]:
    """Query parameters for a :class:`optviz.compare.Comparison` and how it is drawn."""
    from .compare import Comparison

    default = Comparison()
    out: dict[str, str | list[str]] = dict(settings.problem.to_query())
    if settings.steps is not None:
        out["steps"] = str(settings.steps)
    out["opt"] = [c.text() for c in settings.contenders]
    out["trials"], out["seeds"], out["metric"] = str(settings.trials), str(settings.seeds), settings.metric
    for key, name in (("target", "target"), ("spread", "spread"), ("noise", "noise")):
        if getattr(settings, name) != getattr(default, name):
            out[key] = number_text(getattr(settings, name))
    if settings.trial_seed:
        out["tseed"] = str(settings.trial_seed)
    if settings.dtype != default.dtype:
        out["dtype"] = settings.dtype
    if view.axis != CompareView.axis:
        out["axis"] = view.axis
    if view.band != CompareView.band:
        out["band"] = view.band
    return out


def decode_compare(params: Mapping[str, Any], allowed: tuple[str, ...] = ("torch.optim",)
                   ) -> tuple[Any, CompareView, list[str]]:
    """Read a Compare-page link: the comparison, the view, and warnings for what was ignored.
    Never raises: a field that does not parse keeps its default."""
    from .compare import AXES, MAX_SEEDS, MAX_TRIALS, METRICS, Comparison, parse_contender

    query = Query(params)
    default = Comparison()
    problem = read_problem(query, default.problem)
    changes: dict[str, Any] = {"problem": problem}
    limits = config.limits()
    steps = None if problem.own_length else problem.default_steps  # a training's epochs decide
    if "steps" in query:
        steps = read_steps(query, steps, limits.max_steps)
    changes["steps"] = steps
    contenders = read_each(query, "opt", COMPARE_SLOTS, lambda text: parse_contender(text, allowed), "optimizer",
                           f"only the first {COMPARE_SLOTS} optimizers of the link are compared")
    if contenders:
        changes["contenders"] = tuple(contenders)
    changes["trials"] = query.read("trials", default.trials, lambda t: whole(t, 1, MAX_TRIALS),
                                   f"a whole number from 1 to {MAX_TRIALS}")
    changes["seeds"] = query.read("seeds", default.seeds, lambda t: whole(t, 1, MAX_SEEDS),
                                  f"a whole number from 1 to {MAX_SEEDS}")
    metric = query.choice("metric", default.metric, list(METRICS), "metric")
    if METRICS[metric].models_only and problem.kind != "train":
        query.warn(f"{METRICS[metric].name} is measured on a model's test set; showing {default.metric}")
        metric = default.metric
    changes["metric"] = metric
    changes["target"] = query.read("target", default.target, _positive, "a number > 0")
    changes["trial_seed"] = query.read("tseed", 0, lambda t: whole(t, 0, 2**31 - 1), "a whole number >= 0")
    changes["spread"] = query.read("spread", default.spread, _share, "a number from 0 to 1")
    changes["noise"] = query.read("noise", default.noise, _nonnegative, "a number >= 0")
    changes["dtype"] = query.choice("dtype", default.dtype, DTYPES, "dtype")
    view = CompareView(query.choice("axis", CompareView.axis, list(AXES), "x-axis"),
                       query.choice("band", CompareView.band, COMPARE_BANDS, "band"))
    return replace(default, **changes), view, query.warnings


def _share(text: str) -> float:
    value = finite(text)
    if not 0 <= value <= 1:
        raise ValueError(text)
    return value
