"""State for the Sweeps page: frozen settings, their URL form, and widget keys.

Each section's settings are one small frozen value that keys the compute cache
and is written to the address bar. ``decode`` reads a link and never raises: a
field that does not parse keeps its default and is named in the warnings.
Widget keys all start with ``sw.``, apart from the Surfaces page's keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import streamlit as st

from .. import config, share, surfaces
from ..engine import RunConfig, SurfaceProblem
from ..optim import OPTIMIZERS
from ..optim import get as get_optimizer
from ..optim.base import ConfigError
from ..sweeps import Axis

SECTIONS = {"lr": "LR sweep", "basin": "Basin map", "heatmap": "Hyperparameter heatmap"}
COLOR_BY = ("minimum", "loss", "diverged")
NONE = "—"  # an empty optimizer slot
LR_SLOTS, BASIN_SLOTS = 4, 2
MAX_LRS = 5000


@dataclass(frozen=True)
class LRSettings:
    problem: SurfaceProblem = field(default_factory=lambda: SurfaceProblem("rosenbrock"))
    runs: tuple[RunConfig, ...] = (
        RunConfig("SGD"),
        RunConfig("SGD", {"momentum": 0.9}),
        RunConfig("Adam"),
    )
    lo: float = 1e-5
    hi: float = 1.0
    num: int = 200
    steps: int = 300


@dataclass(frozen=True)
class BasinSettings:
    problem: SurfaceProblem = field(default_factory=lambda: SurfaceProblem("himmelblau"))
    runs: tuple[RunConfig, ...] = (
        RunConfig("SGD", {"lr": 0.01}),
        RunConfig("SGD", {"lr": 0.01, "momentum": 0.9}),
    )
    grid: int = 80
    steps: int = 200
    color_by: str = "minimum"


@dataclass(frozen=True)
class HeatmapSettings:
    problem: SurfaceProblem = field(default_factory=lambda: SurfaceProblem("quadratic"))
    run: RunConfig = RunConfig("SGD")
    x: Axis = Axis("lr", 0.1, 10.0, 31, log=True)
    y: Axis = Axis("momentum", 0.0, 0.95, 20)
    steps: int = 100


DEFAULTS = {"lr": LRSettings(), "basin": BasinSettings(), "heatmap": HeatmapSettings()}


def run_label(run: RunConfig, with_lr: bool = True) -> str:
    """``SGD momentum=0.9``: what a curve or a map is called."""
    if run.label:
        return run.label
    hp = {k: v for k, v in run.hparams if with_lr or k != "lr"}
    return " ".join([run.optimizer, *(f"{k}={share._value(v)}" for k, v in hp.items())])


def settings_text(run: RunConfig, skip: tuple[str, ...] = ("lr",)) -> str:
    return " ".join(f"{k}={share._value(v)}" for k, v in run.hparams if k not in skip)


def parse_settings(name: str, text: str, skip: tuple[str, ...] = ("lr",)) -> dict[str, Any]:
    """``momentum=0.9 nesterov=true`` (spaces or semicolons between pairs) with torch's names."""
    spec = get_optimizer(name, allowed_modules())
    out: dict[str, Any] = {}
    for pair in filter(None, re.split(r"[;\s]+", text.strip())):
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{pair!r} is not key=value, like momentum=0.9")
        if key in skip:
            raise ConfigError(f"{key} has its own box here; leave it out of the settings")
        out[key] = spec.hparam(key).parse(value)
    return out


def allowed_modules() -> tuple[str, ...]:
    return config.limits().optimizer_modules


def float_hparams(name: str) -> list[str]:
    """The hyperparameters a heatmap can vary: numbers, and each element of a tuple (``betas[1]``)."""
    spec = get_optimizer(name, allowed_modules())
    out = []
    for h in spec.hparams:
        if h.kind == "float":
            out.append(h.name)
        elif h.kind == "floats":
            out += [f"{h.name}[{i}]" for i in range(h.length)]
    return out


def default_axis(name: str, hparam: str) -> Axis:
    """A sensible range for a hyperparameter axis, from the registry's widget hints."""
    if hparam == "lr":
        return Axis("lr", 1e-4, 1.0, 25, log=True)
    if hparam == "momentum":
        return Axis("momentum", 0.0, 0.95, 20)
    base = hparam.split("[")[0]
    if hparam.startswith("betas["):
        return Axis(hparam, 0.5, 0.999, 20) if hparam.endswith("[1]") else Axis(hparam, 0.0, 0.99, 20)
    h = get_optimizer(name, allowed_modules()).hparam(base)
    lo, hi = (h.low, h.high) if h.low is not None and h.high is not None else (0.0, 1.0)
    if h.log and lo > 0:
        return Axis(hparam, lo, hi, 20, log=True)
    return Axis(hparam, lo, hi, 20)


def second_axis(name: str) -> str:
    names = [n for n in float_hparams(name) if n != "lr"]
    for preferred in ("momentum", "betas[1]", "alpha", "rho"):
        if preferred in names:
            return preferred
    return names[0] if names else "lr"


# -- the URL ------------------------------------------------------------------------


def _number(x: float) -> str:
    return f"{x:.6g}"


def _encode_problem(problem: SurfaceProblem) -> dict[str, str]:
    spec = problem.spec
    out = {"surface": problem.surface}
    sp = [f"{k}:{share._value(v)}" for k, v in problem.params if v != spec.defaults.get(k)]
    if sp:
        out["sp"] = ",".join(sp)
    return out


def _encode_axis(a: Axis) -> str:
    return ":".join([a.name, _number(a.lo), _number(a.hi), str(a.num)] + (["log"] if a.log else []))


def encode(section: str, settings) -> dict[str, str | list[str]]:
    """Query parameters for ``st.query_params``: the section and its settings."""
    out: dict[str, str | list[str]] = {"mode": section, **_encode_problem(settings.problem)}
    out["steps"] = str(settings.steps)
    if section == "lr":
        out["lrs"] = f"{_number(settings.lo)},{_number(settings.hi)},{settings.num}"
        out["opt"] = [share._encode_run(r) for r in settings.runs]
    elif section == "basin":
        out["grid"] = str(settings.grid)
        out["color"] = settings.color_by
        out["opt"] = [share._encode_run(r) for r in settings.runs]
    else:
        out["opt"] = share._encode_run(settings.run)
        out["x"], out["y"] = _encode_axis(settings.x), _encode_axis(settings.y)
    return out


def decode(params: Mapping[str, Any]) -> tuple[str, Any, list[str]]:
    """Read query parameters: the section, its settings, and warnings for what was ignored."""
    warnings: list[str] = []

    def one(key: str) -> str | None:
        value = params.get(key)
        if isinstance(value, list | tuple):
            value = value[-1] if value else None
        return None if value is None else str(value)

    def many(key: str) -> list[str] | None:
        value = params.get(key)
        if value is None:
            return None
        return [str(v) for v in value] if isinstance(value, list | tuple) else [str(value)]

    section = one("mode") or "lr"
    if section not in SECTIONS:
        warnings.append(f"unknown mode {section!r}; showing the LR sweep")
        section = "lr"
    default = DEFAULTS[section]
    problem = _decode_problem(one("surface"), one("sp"), default.problem, warnings)
    changes: dict[str, Any] = {"problem": problem}
    steps = one("steps")
    if steps is not None:
        try:
            changes["steps"] = _positive_int(steps, config.limits().max_steps)
        except ValueError:
            warnings.append(f"steps={steps!r} is not valid; using {default.steps}")
    runs = []
    for i, text in enumerate((many("opt") or [])[: LR_SLOTS if section == "lr" else BASIN_SLOTS]):
        try:
            runs.append(share._decode_run(text, allowed_modules()))
        except ConfigError as exc:
            warnings.append(f"optimizer {i + 1} ignored: {exc}")
    if section == "lr":
        if runs:
            changes["runs"] = tuple(runs)
        text = one("lrs")
        if text is not None:
            try:
                lo, hi, num = text.split(",")
                lo, hi, num = share.finite(lo), share.finite(hi), _positive_int(num, MAX_LRS)
                if not 0 < lo <= hi:
                    raise ValueError(text)
                changes.update(lo=lo, hi=hi, num=num)
            except ValueError:
                warnings.append(f"lrs={text!r} is not like 1e-5,1,200 (low, high, count); using the default")
    elif section == "basin":
        if runs:
            changes["runs"] = tuple(runs)
        grid = one("grid")
        if grid is not None:
            try:
                changes["grid"] = _positive_int(grid, config.limits().max_grid)
            except ValueError:
                warnings.append(f"grid={grid!r} is not a whole number from 1 to {config.limits().max_grid}")
        color = one("color")
        if color is not None:
            if color in COLOR_BY:
                changes["color_by"] = color
            else:
                warnings.append(f"color={color!r} is not one of {', '.join(COLOR_BY)}")
    else:
        if runs:
            changes["run"] = runs[0]
        run = changes.get("run", default.run)
        for key in ("x", "y"):
            text = one(key)
            if text is None:
                continue
            try:
                changes[key] = _decode_axis(text, run)
            except (ValueError, ConfigError) as exc:
                warnings.append(f"{key}={text!r} ignored: {exc or 'not like lr:0.1:10:31:log'}")
        if changes.get("x", default.x).name == changes.get("y", default.y).name:
            warnings.append("the two axes must differ; using the default axes")
            changes.pop("x", None), changes.pop("y", None)
        elif run.optimizer != default.run.optimizer and not ({"x", "y"} <= set(changes)):
            changes.setdefault("x", default_axis(run.optimizer, "lr"))
            changes.setdefault("y", default_axis(run.optimizer, second_axis(run.optimizer)))
    return section, replace(default, **changes), warnings


def _decode_problem(surface_id, sp, default: SurfaceProblem, warnings) -> SurfaceProblem:
    if surface_id is None:
        surface_id = default.surface
    if surface_id not in surfaces.SURFACES:
        warnings.append(f"unknown surface {surface_id!r}; showing {default.surface}")
        surface_id = default.surface
    spec = surfaces.get(surface_id)
    params: dict[str, Any] = {}
    for item in filter(None, (sp or "").split(",")):
        key, _, text = item.partition(":")
        try:
            params[key] = spec.resolve({key: text})[key]
        except ConfigError as exc:
            warnings.append(f"surface parameter ignored: {exc}")
    try:
        return SurfaceProblem(surface_id, params)
    except ConfigError as exc:
        warnings.append(f"surface parameters ignored: {exc}")
        return SurfaceProblem(surface_id)


def _decode_axis(text: str, run: RunConfig) -> Axis:
    parts = text.split(":")
    if len(parts) not in (4, 5) or (len(parts) == 5 and parts[4] != "log"):
        raise ValueError("not like lr:0.1:10:31:log")
    name = parts[0]
    if name not in float_hparams(run.optimizer):
        raise ConfigError(f"{run.optimizer} has no number hyperparameter {name!r}")
    axis = Axis(name, share.finite(parts[1]), share.finite(parts[2]), _positive_int(parts[3], config.limits().max_grid),
                log=len(parts) == 5)
    axis.values  # noqa: B018 -- checks the range (low <= high, low > 0 on a log axis)
    return axis


def _positive_int(text: str, most: int) -> int:
    value = share.positive_int(text)
    if not 1 <= value <= most:
        raise ValueError(text)
    return value


# -- widgets ------------------------------------------------------------------------


def _sp_keys(prefix: str, problem: SurfaceProblem) -> dict[str, float]:
    return {f"{prefix}.sp.{k}": float(v) for k, v in problem.params}


def widget_values(section: str, s) -> dict[str, Any]:
    """Widget key -> value for ``s``, one section's settings."""
    if section == "lr":
        out: dict[str, Any] = {"sw.lr.surface": s.problem.surface, **_sp_keys("sw.lr", s.problem),
                               "sw.lr.lo": s.lo, "sw.lr.hi": s.hi, "sw.lr.num": s.num, "sw.lr.steps": s.steps}
        for n in range(LR_SLOTS):
            run = s.runs[n] if n < len(s.runs) else None
            out[f"sw.lr.opt{n}"] = run.optimizer if run else NONE
            out[f"sw.lr.set{n}"] = settings_text(run) if run else ""
        return out
    if section == "basin":
        out = {"sw.bm.surface": s.problem.surface, **_sp_keys("sw.bm", s.problem), "sw.bm.grid": s.grid,
               "sw.bm.steps": s.steps, "sw.bm.color": s.color_by}
        for n in range(BASIN_SLOTS):
            run = s.runs[n] if n < len(s.runs) else None
            spec = get_optimizer(run.optimizer, allowed_modules()) if run else None
            out[f"sw.bm.opt{n}"] = run.optimizer if run else NONE
            out[f"sw.bm.lr{n}"] = float(run.hp.get("lr", spec.ui_defaults.get("lr", spec.defaults["lr"]))) \
                if run else 0.01
            out[f"sw.bm.set{n}"] = settings_text(run) if run else ""
        return out
    out = {"sw.hm.surface": s.problem.surface, **_sp_keys("sw.hm", s.problem), "sw.hm.opt": s.run.optimizer,
           "sw.hm.set": settings_text(s.run, skip=(s.x.name, s.y.name)), "sw.hm.steps": s.steps}
    for key, a in (("x", s.x), ("y", s.y)):
        out.update({f"sw.hm.{key}": a.name, f"sw.hm.{key}lo": float(a.lo), f"sw.hm.{key}hi": float(a.hi),
                    f"sw.hm.{key}n": int(a.num), f"sw.hm.{key}log": bool(a.log)})
    return out


def load(section: str, settings, overwrite: bool = True) -> None:
    """Put settings into the widgets' state (call before the widgets exist)."""
    state = st.session_state
    prefix = {"lr": "sw.lr.", "basin": "sw.bm.", "heatmap": "sw.hm."}[section]
    if overwrite:
        for key in [k for k in state.keys() if isinstance(k, str) and k.startswith(prefix + "sp.")]:
            del state[key]
    for key, value in widget_values(section, settings).items():
        if overwrite or key not in state:
            state[key] = value


def init() -> list[str]:
    """On the page's first run in a session, read the link; later, restore widget
    values that Streamlit dropped while another page was shown. Returns warnings."""
    state = st.session_state
    warnings: list[str] = []
    if "sw.settings" not in state:
        params = {key: st.query_params.get_all(key) for key in st.query_params.keys()}
        stored = dict(DEFAULTS)
        section = "lr"
        if params.get("mode"):
            section, settings, warnings = decode(params)
            stored[section] = settings
        state["sw.settings"] = stored
        state["sw.section"] = section
    for section, settings in state["sw.settings"].items():
        load(section, settings, overwrite=False)
    if "sw.section" not in state:  # a widget key: dropped while another page was shown
        state["sw.section"] = state.get("sw.last_section", "lr")
    return warnings


def _problem(prefix: str, errors: list[str]) -> SurfaceProblem:
    state = st.session_state
    spec = surfaces.get(state[f"{prefix}.surface"])
    params = {p.name: state.get(f"{prefix}.sp.{p.name}", p.default) for p in spec.params}
    try:
        return SurfaceProblem(spec.id, params)
    except ConfigError as exc:
        errors.append(str(exc))
        return SurfaceProblem(spec.id)


def collect(section: str) -> tuple[Any, list[str]]:
    """The section's settings as the widgets describe them, and what could not be read."""
    state, errors = st.session_state, []
    stored = state["sw.settings"][section]
    if section == "lr":
        runs = []
        for n in range(LR_SLOTS):
            name = state.get(f"sw.lr.opt{n}", NONE)
            if name == NONE:
                continue
            try:
                runs.append(RunConfig(name, parse_settings(name, state.get(f"sw.lr.set{n}", ""))))
            except ConfigError as exc:
                errors.append(f"{name} (row {n + 1}): {exc}")
        settings = replace(stored, problem=_problem("sw.lr", errors), runs=tuple(runs),
                           lo=float(state["sw.lr.lo"]), hi=float(state["sw.lr.hi"]),
                           num=int(state["sw.lr.num"]), steps=int(state["sw.lr.steps"]))
    elif section == "basin":
        runs = []
        for n in range(BASIN_SLOTS):
            name = state.get(f"sw.bm.opt{n}", NONE)
            if name == NONE:
                continue
            try:
                hp = parse_settings(name, state.get(f"sw.bm.set{n}", ""))
                hp["lr"] = float(state[f"sw.bm.lr{n}"])
                runs.append(RunConfig(name, hp))
            except ConfigError as exc:
                errors.append(f"{name} ({'left' if n == 0 else 'right'}): {exc}")
        settings = replace(stored, problem=_problem("sw.bm", errors), runs=tuple(runs),
                           grid=int(state["sw.bm.grid"]), steps=int(state["sw.bm.steps"]),
                           color_by=state.get("sw.bm.color") or "minimum")
    else:
        name = state["sw.hm.opt"]
        axes = []
        for key in ("x", "y"):
            axes.append(Axis(state[f"sw.hm.{key}"], float(state[f"sw.hm.{key}lo"]),
                             float(state[f"sw.hm.{key}hi"]), int(state[f"sw.hm.{key}n"]),
                             bool(state[f"sw.hm.{key}log"])))
        try:
            skip = (axes[0].name, axes[1].name)
            run = RunConfig(name, parse_settings(name, state.get("sw.hm.set", ""), skip=skip))
        except ConfigError as exc:
            errors.append(f"{name}: {exc}")
            run = RunConfig(name)
        settings = replace(stored, problem=_problem("sw.hm", errors), run=run, x=axes[0], y=axes[1],
                           steps=int(state["sw.hm.steps"]))
    state["sw.settings"] = {**state["sw.settings"], section: settings}
    return settings, errors


def sync_url(section: str, settings) -> None:
    wanted = encode(section, settings)
    current = {k: st.query_params.get_all(k) for k in st.query_params.keys()}
    normal = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if current != normal:
        st.query_params.from_dict(wanted)


# -- callbacks ----------------------------------------------------------------------


def on_surface_change(prefix: str) -> None:
    """A new surface starts with its default parameters."""
    state = st.session_state
    for key in [k for k in state.keys() if isinstance(k, str) and k.startswith(prefix + ".sp.")]:
        del state[key]
    spec = surfaces.get(state[f"{prefix}.surface"])
    for p in spec.params:
        state[f"{prefix}.sp.{p.name}"] = float(p.default)


def on_basin_optimizer_change(n: int) -> None:
    """A new optimizer starts from its own lr (the app's default for it) and no other settings."""
    state = st.session_state
    name = state[f"sw.bm.opt{n}"]
    state[f"sw.bm.set{n}"] = ""
    if name != NONE:
        spec = get_optimizer(name, allowed_modules())
        state[f"sw.bm.lr{n}"] = float(spec.ui_defaults.get("lr", spec.defaults["lr"]))


def on_lr_optimizer_change(n: int) -> None:
    st.session_state[f"sw.lr.set{n}"] = ""


def on_heatmap_optimizer_change() -> None:
    """A new optimizer keeps the lr axis and varies its own second hyperparameter."""
    state = st.session_state
    name = state["sw.hm.opt"]
    state["sw.hm.set"] = ""
    x = default_axis(name, "lr") if state["sw.hm.x"] != "lr" else None
    y = default_axis(name, second_axis(name))
    for key, a in (("x", x), ("y", y)):
        if a is None:
            continue
        state.update({f"sw.hm.{key}": a.name, f"sw.hm.{key}lo": float(a.lo), f"sw.hm.{key}hi": float(a.hi),
                      f"sw.hm.{key}n": int(a.num), f"sw.hm.{key}log": bool(a.log)})


def on_axis_change(key: str) -> None:
    """A new hyperparameter on an axis starts from its own sensible range."""
    state = st.session_state
    a = default_axis(state["sw.hm.opt"], state[f"sw.hm.{key}"])
    state.update({f"sw.hm.{key}lo": float(a.lo), f"sw.hm.{key}hi": float(a.hi), f"sw.hm.{key}n": int(a.num),
                  f"sw.hm.{key}log": bool(a.log)})


def optimizer_names() -> list[str]:
    return list(OPTIMIZERS)
