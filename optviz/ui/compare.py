"""The Compare page: "Adam or SGD here, and at what learning rate?" answered with a stated protocol.

Up to four optimizers, each with its search space (the lr, plus what the user
ticks), get the same budget of quasi-random trials, the same seeds and steps,
and one metric (:mod:`optviz.compare`). The settings are one frozen
:class:`~optviz.compare.Comparison` that keys the cache and the link; the
computation is one engine batch, streamed with a progress bar. The page shows
the protocol, the ranking, the tuned configurations racing (median and band
over the seeds) and every trial against its lr; one click opens the tuned
runs, or a clicked trial, on the page of the problem's kind.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import streamlit as st

from .. import charts, config
from ..codec import COMPARE_BANDS, COMPARE_SLOTS, CompareView, View, decode_compare, encode_compare
from ..compare import AXES, METRICS, CompareResult, Comparison, compare, contender, parse_contender, searchable
from ..engine import RunConfig
from ..experiment import Experiment
from ..optim import OPTIMIZERS
from ..params import ConfigError
from ..problems import ProblemConfig, Task, surfaces
from . import plot, theme, viewport
from .explore import DATASETS
from .kinds import surface, training
from .sweeps import open_runs
from .widgets import (
    allowed_modules,
    computed,
    history_navigation,
    link_warnings,
    plain,
    query_params,
    set_value,
    sync_url,
    table,
)

P = "cp"  # every widget key of this page starts with "cp."
NONE = "—"  # an empty optimizer slot
KIND_NAMES = {"surface": "A surface", "train": "A dataset and a model"}
AXIS_NAMES = {"steps": "Steps", "evals": "Gradient evaluations", "time": "Seconds"}
BAND_NAMES = {"minmax": "min–max", "iqr": "quartiles"}
# Every comparison runs on one CPU thread: a classroom server's sessions share a few cores.
THREADS = 1
CONTENDER_WIDTH = 230  # CSS pixels: an optimizer slot holds a tag like "momentum" and a log range whole


def _k(name: str) -> str:
    return f"{P}.{name}"


def _tk(name: str) -> str:
    """Widget keys of the training task (the Datasets page's widgets, under this page's prefix)."""
    return f"{P}.t.{name}"


# -- the problem ---------------------------------------------------------------------------------


def _group(problem: ProblemConfig) -> str:
    return "train" if problem.kind in DATASETS.kinds else "surface"


def _load_problem(problem: ProblemConfig) -> None:
    s = st.session_state
    s[_k("kind")] = _group(problem)
    if _group(problem) == "train":
        training.load(_tk, Experiment(problem), View())
    else:
        for key in [k for k in s.keys() if isinstance(k, str) and k.startswith(_k("sp."))]:
            del s[key]
        surface.load_surface(_k, problem)


def _on_kind_change() -> None:
    s = st.session_state
    group = s.get(_k("kind")) or "surface"
    problem = Comparison().problem if group == "surface" else Task()
    _load_problem(problem)
    s[_k("steps")] = Comparison().steps if group == "surface" else None
    if group == "surface" and METRICS[s.get(_k("metric"), "final_loss")].models_only:
        s[_k("metric")] = "final_loss"


def _on_surface_change() -> None:
    """A new surface starts with its default parameters."""
    s = st.session_state
    if s[_k("surface")] in surfaces.SURFACES:
        for p in surfaces.get(s[_k("surface")]).params:
            set_value(_k(f"sp.{p.name}"), p, p.default)


def _collect_problem(errors: list[str]) -> ProblemConfig:
    if st.session_state.get(_k("kind")) == "train":
        task, _, _, _, problem_errors = training.collect(_tk)
        errors += problem_errors
        return task if task is not None else Task()
    problem, problem_errors = surface.read_surface(_k)
    errors += problem_errors
    return problem


# -- the contenders -----------------------------------------------------------------------------


def space_text(c) -> str:
    """A contender's search space and held values, as the page's text box shows them."""
    return "; ".join(c.text().split(";")[1:])


def _ticked(text: str) -> list[str]:
    names = [part.split("=")[0].strip() for part in re.split(r";", text) if part.strip()]
    return [n for n in names if n != "lr"]


def _on_optimizer_change(n: int) -> None:
    """A new optimizer starts from its default search space: its lr, nothing ticked."""
    s = st.session_state
    name = s[_k(f"opt{n}")]
    s[_k(f"tune{n}")] = []
    s[_k(f"space{n}")] = space_text(contender(name, allowed=allowed_modules())) if name != NONE else ""


def _on_tune_change(n: int) -> None:
    """Ticking a hyperparameter adds its default range to the text; unticking removes it."""
    s = st.session_state
    name = s[_k(f"opt{n}")]
    if name == NONE:
        return
    allowed = allowed_modules()
    wanted = list(s.get(_k(f"tune{n}"), []))
    try:
        current = parse_contender(f"{name};{s.get(_k(f'space{n}'), '')}", allowed)
    except ConfigError:
        current = contender(name, allowed=allowed)
    kept = [r for r in current.space if r.name == "lr" or r.name in wanted]
    have = {r.name for r in kept}
    added = contender(name, tune=[w for w in wanted if w not in have], allowed=allowed).space[1:]
    fixed = {k: v for k, v in current.fixed if k not in {w.split("[")[0] for w in wanted}}
    s[_k(f"space{n}")] = space_text(replace(current, space=(*kept, *added), fixed=fixed))


def _contender_ui(n: int, col) -> None:
    s = st.session_state
    names = [NONE, *OPTIMIZERS]
    col.selectbox(
        f"Optimizer {n + 1}",
        names if n else names[1:],
        key=_k(f"opt{n}"),
        label_visibility="collapsed",
        on_change=_on_optimizer_change,
        args=(n,),
    )
    name = s[_k(f"opt{n}")]
    off = name == NONE
    choices = [] if off else [h for h in searchable(name, allowed_modules()) if h != "lr"]
    s[_k(f"tune{n}")] = [t for t in s.get(_k(f"tune{n}"), []) if t in choices]
    col.multiselect(
        "Also tune",
        choices,
        key=_k(f"tune{n}"),
        disabled=off,
        on_change=_on_tune_change,
        args=(n,),
        placeholder="also tune…",
        label_visibility="collapsed",
        help="Search these hyperparameters too, over the ranges in the box below",
    )
    col.text_input(
        f"Search space {n + 1}",
        key=_k(f"space{n}"),
        disabled=off,
        label_visibility="collapsed",
        placeholder="lr=1e-4:1:log",
        help="name=low:high searches a range (':log' for log-uniform); name=value holds a value "
        "(torch's names, e.g. nesterov=true); label=… names the optimizer",
    )


# -- state -------------------------------------------------------------------------------------


def widget_values(c: Comparison, view: CompareView) -> dict[str, Any]:
    """Widget key -> value for a comparison, besides its problem."""
    out: dict[str, Any] = {
        _k("steps"): c.steps,
        _k("trials"): c.trials,
        _k("seeds"): c.seeds,
        _k("metric"): c.metric,
        _k("target"): float(c.target),
        _k("tseed"): c.trial_seed,
        _k("spread"): float(c.spread),
        _k("noise"): float(c.noise),
        _k("axis"): view.axis,
        _k("band"): view.band,
    }
    for n in range(COMPARE_SLOTS):
        ct = c.contenders[n] if n < len(c.contenders) else None
        out[_k(f"opt{n}")] = ct.optimizer if ct else NONE
        out[_k(f"tune{n}")] = [r.name for r in ct.space if r.name != "lr"] if ct else []
        out[_k(f"space{n}")] = space_text(ct) if ct else ""
    return out


def load(c: Comparison, view: CompareView, overwrite: bool = True) -> None:
    """Put a comparison into the widgets' state (before the widgets exist)."""
    s = st.session_state
    if overwrite or _k("kind") not in s:
        _load_problem(c.problem)
    for key, value in widget_values(c, view).items():
        if overwrite or key not in s:
            s[key] = value


def init() -> list[str]:
    """On the page's first run in a session, read the link; later, put back widget values
    that Streamlit dropped while another page was shown, or, on the browser's Back or
    Forward, show the address gone to. Returns the link's warnings."""
    s = st.session_state
    warnings: list[str] = []
    params = query_params()
    back = history_navigation() and bool(params)  # each change was an entry of the history: Back undoes it
    if _k("settings") not in s or back:
        c, view = Comparison(), CompareView()
        if params:
            c, view, warnings = decode_compare(params, allowed_modules())
        s[_k("settings")] = (c, view)
    settings, shown = s[_k("settings")]
    load(settings, shown, overwrite=back)
    return warnings


def collect() -> tuple[Comparison, CompareView, list[str]]:
    """The comparison the widgets describe, how to draw it, and what could not be read."""
    s, errors = st.session_state, list[str]()
    problem = _collect_problem(errors)
    contenders = []
    for n in range(COMPARE_SLOTS):
        name = s.get(_k(f"opt{n}"), NONE)
        if name == NONE:
            continue
        try:
            contenders.append(parse_contender(f"{name};{s.get(_k(f'space{n}'), '')}", allowed_modules()))
        except ConfigError as exc:
            errors.append(f"{name} (optimizer {n + 1}): {exc}")
    steps = None if problem.own_length else int(s.get(_k("steps")) or problem.default_steps)
    c = Comparison(
        problem,
        tuple(contenders),
        int(s[_k("trials")]),
        int(s[_k("seeds")]),
        steps,
        s[_k("metric")],
        float(s[_k("target")]),
        int(s[_k("tseed")]),
        float(s[_k("spread")]),
        float(s[_k("noise")]),
    )
    view = CompareView(s.get(_k("axis")) or "steps", s.get(_k("band")) or "minmax")
    s[_k("settings")] = (c, view)
    return c, view, errors


# -- computing and opening runs -----------------------------------------------------------------


def _compute(c: Comparison) -> CompareResult:
    """The cached result, or the comparison computed with a progress bar, in its turn on the
    server; it stops between chunks when its tab closes or a new click comes."""
    return computed(("compare", c), lambda on_progress: compare(c, on_progress=on_progress, limits=config.limits(),
                                                                threads=THREADS))


def _labelled(run: RunConfig, label: str, color: str) -> RunConfig:
    return replace(run, label=label, color=color)


def tuned_runs(result: CompareResult) -> list[RunConfig]:
    """Each optimizer's tuned configuration from seed 0's start: what the race view shows."""
    return [
        _labelled(
            result.tuned_run(k),
            f"{result.label(k)} (tuned: {result.setting_text(k, int(result.tuned[k]))})",
            charts.PALETTE[k % len(charts.PALETTE)],
        )
        for k in range(len(result.tuned))
    ]


def _open(result: CompareResult, runs: list[RunConfig]) -> None:
    open_runs(result.comparison.problem, runs, result.comparison.steps)


def _clicked(event) -> tuple[int, int] | None:
    data = plot.clicked(event)
    return (int(data[0]), int(data[1])) if data is not None and len(data) >= 2 else None


# -- the page -----------------------------------------------------------------------------------


def _sidebar() -> None:
    s = st.session_state
    with st.sidebar:
        st.markdown("### Problem")
        st.segmented_control(
            "Problem",
            list(KIND_NAMES),
            key=_k("kind"),
            format_func=KIND_NAMES.get,
            required=True,
            on_change=_on_kind_change,
            label_visibility="collapsed",
        )
        is_model = s.get(_k("kind")) == "train"
        if is_model:
            training.sidebar(_tk)
        else:
            surface.surface_picker(_k, on_change=_on_surface_change)
            st.number_input("Steps", key=_k("steps"), min_value=1, max_value=config.limits().max_steps, step=50)
        st.markdown("### Protocol")
        c1, c2 = st.columns(2)
        c1.number_input(
            "Trials each",
            key=_k("trials"),
            min_value=1,
            max_value=1024,
            step=16,
            help="The tuning budget: configurations per optimizer, drawn from a scrambled Sobol "
            "sequence over its search space. The same for every optimizer.",
        )
        c2.number_input(
            "Seeds",
            key=_k("seeds"),
            min_value=1,
            max_value=32,
            help="Every trial runs from each seed: "
            + (
                "the model's initial weights drawn with init seed + s."
                if is_model
                else "start points around the surface's start (seed 0 is the start itself), and the noise seed."
            ),
        )
        metrics = [m for m, spec in METRICS.items() if is_model or not spec.models_only]
        if s.get(_k("metric")) not in metrics:
            s[_k("metric")] = "final_loss"
        st.selectbox(
            "Metric",
            metrics,
            key=_k("metric"),
            format_func=lambda m: METRICS[m].name,
            help="A trial's score is its median over the seeds; each optimizer is ranked by its best trial.",
        )
        if METRICS[s[_k("metric")]].target:
            st.number_input(
                "Target",
                key=_k("target"),
                min_value=1e-300,
                format="%g",
                help="Reached when f − f* ≤ target (where the minimum f* is known), else f ≤ target.",
            )
        with st.expander("Seeds, noise, trial seed"):
            if not is_model:
                st.number_input(
                    "Start spread",
                    key=_k("spread"),
                    min_value=0.0,
                    max_value=1.0,
                    step=0.01,
                    format="%g",
                    help="Seeds start within this share of the domain's width around the surface's start.",
                )
            st.number_input(
                "Gradient noise σ",
                key=_k("noise"),
                min_value=0.0,
                format="%g",
                help="Gaussian noise added to each gradient; seed s draws noise seed s.",
            )
            st.number_input(
                "Trial seed",
                key=_k("tseed"),
                min_value=0,
                step=1,
                help="Seeds the Sobol sequence: another seed, other trials. A fair ranking holds.",
            )


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.4g}"


def _ranking(result: CompareResult) -> None:
    spec = result.spec
    rows = []
    for rank, k in enumerate(result.ranking(), start=1):
        d = result.summary(k)
        edge = result.at_edge(k)
        rows.append(
            {
                "rank": rank,
                "optimizer": result.label(k),
                "tuned": result.setting_text(k, int(result.tuned[k]))
                + (" ⚠ at the edge: " + ", ".join(edge) if edge else ""),
                f"median {spec.name}": _fmt(d["median"]),
                "quartiles": f"{_fmt(d['q25'])} – {_fmt(d['q75'])}",
                "min – max": f"{_fmt(d['min'])} – {_fmt(d['max'])}",
                "runs diverged": f"{d['diverged_runs']} of {d['runs']}",
            }
        )
    table(rows)
    edges = [result.label(k) for k in range(len(result.tuned)) if result.at_edge(k)]
    if edges:
        st.caption(
            "⚠ " + plain(", ".join(edges)) + ": the tuned value lies at the edge of its search range; "
            "the best setting may lie outside it. Widen the range and compare again."
        )


def compare_page() -> None:
    """A fair comparison: the same tuning budget, seeds and metric for every optimizer."""
    with link_warnings("cp", init() + theme.init(query_params())):
        _compare_body()


def _compare_body() -> None:
    _sidebar()
    theme.sidebar_ui()
    st.markdown(
        "**Fair comparison: which optimizer, at what setting?** Every optimizer gets the same "
        "budget of tuning trials, the same seeds and steps, and one metric; all runs go through the "
        "engine as one batch."
    )
    # Fixed-width slots in a row that wraps: four on a laptop, two on a projector, one on a
    # phone, each wide enough for its tags and ranges (four columns cut them at 1024 pixels).
    row = st.container(horizontal=True)
    for n in range(COMPARE_SLOTS):
        _contender_ui(n, row.container(width=CONTENDER_WIDTH))
    c, view, errors = collect()
    sync_url(theme.linked(encode_compare(c, view)))
    for e in errors:
        st.error(plain(e))
    if not c.contenders:
        st.info("Choose an optimizer to compare.")
        return
    try:
        result = _compute(c)
    except ConfigError as exc:
        st.error(plain(str(exc)))
        return
    st.markdown("**Protocol.** " + plain(result.protocol()))
    _ranking(result)
    if st.button(
        "Watch the tuned runs race",
        key=_k("open"),
        icon=":material/play_arrow:",
        type="primary",
        help="Opens each optimizer's tuned configuration, from seed 0, on the "
        + ("Datasets" if c.problem.kind in DATASETS.kinds else "Surfaces")
        + " page.",
    ):
        _open(result, tuned_runs(result))
    colors = [charts.PALETTE[k % len(charts.PALETTE)] for k in range(len(c.contenders))]
    narrow = viewport.layout(_k("viewport")) == "stacked"  # a phone: legends under, panels one a row
    with st.container(horizontal=True, gap="medium"):
        st.segmented_control("x-axis", list(AXES), key=_k("axis"), format_func=AXIS_NAMES.get, required=True)
        st.segmented_control("Band", list(COMPARE_BANDS), key=_k("band"), format_func=BAND_NAMES.get, required=True)
    view = CompareView(st.session_state.get(_k("axis")) or "steps", st.session_state.get(_k("band")) or "minmax")
    plot.chart(
        theme.chart(charts.compare_race_figure(result, view.axis, view.band, colors, narrow=narrow)),
        key=_k("race"),
        where=st.container(),
    )
    st.caption(
        f"The tuned configuration of each optimizer, run from {c.seeds} seeds: the line is the median over "
        f"the seeds, the band their {BAND_NAMES[view.band]}. "
        + (
            "Gradient evaluations count each evaluation an optimizer makes (LBFGS's line search makes several a step). "
            if view.axis == "evals"
            else ""
        )
        + (
            "Seconds are each run's measured share of the batch's time, spent as its evaluations are. "
            if view.axis == "time"
            else ""
        )
    )
    event = plot.chart(
        theme.chart(charts.sensitivity_figure(result, colors, columns=1 if narrow else None)),
        key=_k("sens"),
        where=st.container(),
        clicks=True,
    )
    n_runs = result.final_loss.size
    st.caption(
        f"**How forgiving is each one?** Every trial's median {result.spec.name} against its lr; ★ the tuned "
        "trial, ✕ a trial whose median seed diverged"
        + (" or missed the target" if result.spec.target else "")
        + f". {n_runs:,} runs × {result.steps:,} steps as one batch in {result.wall_time:.2f} s "
        f"({result.dtype}, {result.device}). **Click a trial to watch it beside the tuned one.**"
    )
    clicked = _clicked(event)
    if clicked is not None:
        k, b = clicked
        runs = [_labelled(result.run(k, b), f"{result.label(k)}: {result.setting_text(k, b)}", colors[k])]
        if b != int(result.tuned[k]):
            runs.append(tuned_runs(result)[k])
        _open(result, runs)
    row = st.container(horizontal=True)
    row.download_button(
        "Every trial (CSV)",
        result.to_csv,
        "optviz-compare.csv",
        "text/csv",
        on_click="ignore",
        icon=":material/table:",
        key=_k("dl.csv"),
        help="One row per trial and seed: its values, the metric, final and best loss, divergence.",
    )
    row.download_button(
        "Comparison (JSON)",
        result.to_json,
        "optviz-compare.json",
        "application/json",
        on_click="ignore",
        icon=":material/data_object:",
        key=_k("dl.json"),
        help="The settings, the protocol, the ranking and every trial with every seed.",
    )
