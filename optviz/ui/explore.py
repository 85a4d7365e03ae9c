"""An experiment page: pick a problem, compose runs, watch them race. One page for every kind.

The Surfaces, Datasets and Online pages are this page with a kind's own part
(:mod:`optviz.ui.kinds`): its sidebar widgets, info, figure and table columns.
Everything else is shared: the link, the presets, the run editor, the cached
and streamed computation, the table, the update rules and the downloads.

State: every widget key starts with the page's prefix (``s.``, ``d.``, ``o.``).
:meth:`ExperimentPage.load` writes an Experiment into the widgets (a preset, a
link) and :meth:`ExperimentPage.collect` reads them back into a frozen
Experiment that keys the cache and the address bar. The last collected
experiment is kept under a non-widget key: Streamlit drops a page's widget
values while another page is shown, and coming back puts it back.

A page just opened whose results come at once draws its chart alone, and the rest of
the page once the chart reports its first draw (:meth:`ExperimentPage.page`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pandas as pd
import streamlit as st

from .. import charts, codec, experiment, presets
from ..codec import View
from ..engine import DEFAULT_RECORD, Cancelled, Progress, RunConfig, resolve
from ..experiment import Experiment, Outcome
from ..export import to_csv, to_json
from ..optim import get as get_optimizer
from ..params import ConfigError
from . import guard, inside, plot, stepper, theme, viewport
from .kinds import KIND_UI
from .maths import rule_latex, values_markdown
from .persist import keep_widget_values
from .runs import RunEditor
from .widgets import (
    allowed_modules,
    cached,
    history_navigation,
    link_warnings,
    peek,
    plain,
    query_params,
    store,
    sync_url,
    table,
)

# Partial pictures cost a redraw each; only long computations get them.
STREAM_ABOVE_SECONDS = 0.4
# A page opened draws its chart first (ExperimentPage.page): "now" in that run, "drawing" after it.
CHART_FIRST = "chart_first"
LOADING = "optviz-loading"  # the sidebar's placeholder meanwhile (a CSS class: st-key-optviz-loading)
PROGRESS_UPDATES = 10
CHECK_EVERY_SECONDS = 0.1


@dataclass
class Bundle:
    """A computed experiment and what its figure needs besides (a grid, a landscape)."""

    outcome: Outcome
    extra: Any


class ExperimentPage:
    """One experiment page: ``kinds`` are the problems it shows (the first its default),
    ``prefix`` owns the widget keys."""

    def __init__(self, kinds: tuple[str, ...], prefix: str, url_path: str):
        self.kinds, self.kind, self.prefix, self.url_path = kinds, kinds[0], prefix, url_path
        self.ui: ModuleType = KIND_UI[self.kind]
        self.editor = RunEditor(prefix, starts=getattr(self.ui, "RUN_STARTS", False),
                                noise=getattr(self.ui, "RUN_NOISE", False))
        self.default = presets.DEFAULTS[self.kind]

    def k(self, name: str) -> str:
        return self.prefix + name

    # -- state ----------------------------------------------------------------------------

    def init(self) -> list[str]:
        """On a session's first visit, load the experiment from the link (or the default).
        Returns the link's warnings."""
        s = st.session_state
        params = query_params()
        if self.editor.ids_key in s:
            if history_navigation() and params:
                # The browser's Back or Forward: each change was an entry of its history, so
                # Back undoes it, and the page shows what its address says.
                exp, view, warnings = codec.decode(params, self.default, allowed_modules())
                if exp.problem.kind in self.kinds and s.get(self.k("last")) != (exp, view):
                    self.load(exp, view)
                    return warnings
            # Back from another page, or after a fragment's rerun: put the last experiment
            # back where Streamlit dropped widget values.
            if any(self.k(key) not in s for key in (*self.ui.REQUIRED, "dtype")):
                self.load(*s.get(self.k("last"), (self.default, View())))
            return []
        if not params:
            self.load(self.default, View())
            return []
        exp, view, warnings = codec.decode(params, self.default, allowed_modules())
        if theme.KEY not in s:  # the session's first page: the link's theme holds on every page
            theme.set_theme(view.theme)
        if exp.problem.kind not in self.kinds:  # a link of another page's kind: this page starts fresh
            exp, view, warnings = self.default, View(), []
        self.load(exp, view)
        return warnings

    def load(self, exp: Experiment, view: View) -> None:
        """Put an experiment into the widgets' state (before widgets exist, or from a callback)."""
        s = st.session_state
        self.ui.load(self.k, exp, view)
        s[self.k("dtype")] = exp.dtype
        s[self.k(inside.CURVATURE)] = view.curvature
        # A run keeps a start of its own only where it differs from the page's.
        common = codec.common_start(exp.runs) if self.editor.starts else None
        self.editor.load([dataclasses.replace(r, start=r.start if common and r.start != common else None)
                          for r in exp.runs])
        s.pop(self.k("valid"), None)
        s[self.k("last")] = (exp, view)

    def apply_preset(self, preset_id: str) -> None:
        preset = presets.PRESETS[preset_id]
        self.load(preset.experiment, View(inside=preset.inside))
        st.session_state[self.k("preset")] = preset_id

    def collect(self) -> tuple[Experiment | None, View, dict[Any, str], list[int]]:
        """The experiment the widgets describe (None if its problem cannot be built), the
        view, errors (``"problem"`` for the problem, a run id for a run) and the run ids."""
        s = st.session_state
        problem, steps, shared, view, problem_errors = self.ui.collect(self.k)
        view = dataclasses.replace(view, theme=theme.current(),
                                   curvature=view.inside and bool(s.get(self.k(inside.CURVATURE))))
        errors: dict[Any, str] = {"problem": "; ".join(problem_errors)} if problem_errors else {}
        errors.update(self.editor.sync())
        if problem is None:
            return None, view, errors, []
        runs, rids = [], self.editor.ids
        for n, rid in enumerate(rids):
            run = self.editor.run(rid)
            color = "" if run.color == charts.PALETTE[n % len(charts.PALETTE)] else run.color  # the default: no room
            runs.append(dataclasses.replace(run, start=run.start or shared.get("start"), color=color))
        exp = Experiment(problem, tuple(runs), steps, s.get(self.k("dtype"), "float32"))
        return exp, view, errors, rids

    def drawable(self, exp: Experiment, rids: list[int], errors: dict[Any, str]) -> Experiment:
        """The runs torch accepts; a refused run is drawn with its last settings torch accepted,
        and its error goes beside its fields."""
        valid = st.session_state.setdefault(self.k("valid"), {})
        refused = run_errors(exp)
        runs = []
        for i, (run, rid) in enumerate(zip(exp.runs, rids)):
            if i in refused:
                errors.setdefault(rid, refused[i] + (" — drawn with its last valid settings" if rid in valid else ""))
                if rid in valid:
                    runs.append(valid[rid])
            else:
                valid[rid] = run
                runs.append(run)
        drawn = exp.replace(runs=tuple(runs))
        st.session_state[self.k("last")] = (exp, st.session_state.get(self.k("last"), (exp, View()))[1])
        return drawn

    # -- the page ---------------------------------------------------------------------------

    def sidebar(self, problem: Any = None) -> None:
        """The presets, the kind's settings, the precision and the theme; then the kind's start
        point for ``problem`` (built), where it has one."""
        with st.sidebar:
            st.markdown("### Classroom presets")
            for pid, preset in presets.of_kinds(self.kinds).items():
                st.button(preset.title, key=self.k(f"preset.{pid}"), on_click=self.apply_preset, args=(pid,),
                          width="stretch", help=preset.look_for)
            st.divider()
            self.ui.sidebar(self.k)
            with st.expander("Precision"):
                st.selectbox("Floating point", ["float32", "float64"], key=self.k("dtype"),
                             help="torch's float32 (the default) or float64: the paths are torch.optim's own "
                                  "in either.")
        theme.sidebar_ui()
        start_ui = getattr(self.ui, "start_ui", None)
        if problem is not None and start_ui is not None:
            with st.sidebar:
                start_ui(self.k, problem)

    def results_first(self, exp: Experiment | None) -> bool:
        """Whether to draw the sidebar after the results: where the kind's sidebar only shows
        state (SIDEBAR_AFTER_RESULTS) and the results come at once. The browser renders a
        page's elements in the order they come, so the chart then mounts before the sidebar's
        twenty-odd widgets are rendered (a page shows its chart about 0.3 s sooner). A long
        computation's page draws its sidebar first, to be there while the pictures stream in."""
        if exp is None or not getattr(self.ui, "SIDEBAR_AFTER_RESULTS", False):
            return False
        try:
            return experiment.estimate_seconds(exp.numbers_only()) <= STREAM_ABOVE_SECONDS
        except ConfigError:
            return False

    def __call__(self) -> None:
        s = st.session_state
        loading = self.editor.ids_key not in s  # the session's first run: a page just opened
        with link_warnings(self.prefix.rstrip("."), self.init()):
            self.page(loading)

    def page(self, loading: bool) -> None:
        # No big title: the navigation bar names the page, and on a projector the chart
        # should start as high as it can.
        s = st.session_state
        exp, view, errors, _ = self.collect()
        problem, build_error = None, ""
        if exp is not None:
            try:
                problem = exp.problem.build()
            except ConfigError as exc:
                build_error = str(exc)
        sidebar_last = problem is not None and "problem" not in errors and self.results_first(exp)
        # A page just opened whose results come at once draws its chart alone: the browser then
        # renders and draws it before the rest of the page (about 90 elements: 0.5 s sooner).
        # The chart's first draw reruns the page, which draws everything (see comparison).
        chart_first = loading and sidebar_last and plot.draws_in_place()
        s[self.k(CHART_FIRST)] = "now" if chart_first else None
        if not sidebar_last:
            self.sidebar(problem)
        if exp is None:
            message = errors.get("problem", "")
            if message == "no file uploaded yet":
                st.info("Upload a CSV file in the sidebar to train on your own data.")
            else:
                st.error(plain(message))
        else:
            for message in (errors.get("problem"), build_error):
                if message:
                    st.error(plain(message))
        if problem is not None:
            with st.container(key="page_header"):  # its formula is not broken across lines (app.py's style)
                self.ui.header(exp, self.k)
        preset = presets.PRESETS.get(st.session_state.get(self.k("preset"), ""))
        # A preset's note is about its own problem: another surface or dataset makes it untrue.
        if preset is not None and exp is not None and exp.problem == preset.experiment.problem:
            st.info(f"**{preset.title}.** {preset.look_for}", icon=":material/school:")
        try:
            _comparison(self)
        except Exception:
            # Whatever broke the results (shown in their place), the settings that may undo it
            # stay in reach, and the next run draws the whole page.
            s[self.k(CHART_FIRST)] = None
            if sidebar_last:
                self.sidebar(problem)
            raise
        if chart_first:
            s[self.k(CHART_FIRST)] = "drawing"
            # The sidebar's first line holds its place (the chart is not drawn wider, then
            # narrowed), and says that the rest is coming (tests wait for it to go).
            with st.sidebar.container(key=LOADING):
                st.markdown("### Classroom presets")
        elif sidebar_last:
            self.sidebar(problem)

    def comparison(self) -> None:
        """The run editor and the results: editing a run reruns only this panel."""
        s = st.session_state
        if s.get(self.k(CHART_FIRST)) == "drawing":  # the chart drawn alone: now the whole page
            s[self.k(CHART_FIRST)] = None
            st.rerun(scope="app")
        chart_only = s.get(self.k(CHART_FIRST)) == "now"
        exp, view, errors, rids = self.collect()
        if exp is None:
            return
        s[self.k("last")] = (exp, view)  # not a widget key: it outlives a visit to another page
        colors = {rid: r.color or charts.PALETTE[i % len(charts.PALETTE)]
                  for i, (rid, r) in enumerate(zip(rids, exp.runs))}
        try:
            exp.problem.build()
        except ConfigError:
            pass  # the page above says why
        else:
            drawn = self.drawable(exp, rids, errors)
            sync_url(codec.encode(drawn, view))
            self.results(drawn, view, chart_only)
        if chart_only:
            return
        start = exp.runs[0].start if exp.runs and self.editor.starts else ()
        self.editor.ui({rid: e for rid, e in errors.items() if isinstance(rid, int)}, colors,
                       page_start=codec.common_start(exp.runs) or start or ())

    def results(self, run_exp: Experiment, view: View, chart_only: bool = False) -> None:
        """The chart and, unless ``chart_only``, what goes under it."""
        runs = run_exp.runs
        if not runs:
            st.info("Add a run to start.")
            return
        try:
            experiment.check(run_exp)
        except ConfigError as exc:
            st.error(plain(str(exc)))
            return
        styles = charts.styles([r.label or r.optimizer for r in runs], [r.color for r in runs])
        layout = viewport.layout(self.k("viewport"))
        # The chart stays in one place from rerun to rerun, so it is updated rather than mounted
        # anew; a long computation's partial pictures go in a placeholder above it.
        chart = st.container()
        partial, progress = chart.empty(), st.empty()
        total = run_exp.n_steps

        def on_progress(p: Progress) -> None:
            progress.progress(p.fraction, text=f"computing… step {p.done:,} of {total:,}")
            partial.plotly_chart(theme.chart(self.ui.progress_figure(run_exp, p.arrays(), styles, total, view, layout)),
                                 theme=None)

        # Only a kind that draws the inside view records for it: a model's state is its every weight, every step.
        look_inside = view.inside and getattr(self.ui, "INSIDE", False)
        record = getattr(self.ui, "INSIDE_RECORD", inside.RECORD) if look_inside else DEFAULT_RECORD
        bundle = compute(run_exp, on_progress, progress, record)
        progress.empty()
        partial.empty()
        outcome = bundle.outcome.relabelled(run_exp)
        stepping = stepper.Stepping()
        # Under the chart, where a class looks: step by step, predict, reveal. Only a kind whose
        # figure can stop at one update (a model's state is norms, with no per-weight card).
        if look_inside and getattr(self.ui, "STEP_MODE", False):
            stepping = stepper.controls(self.k, max(outcome.result.steps - 1, 0))
            if stepping.step is not None:
                run = min(int(st.session_state.get(self.k("inside.run")) or 0), len(styles) - 1)
                stepper.card(outcome, run, styles[run].label, stepping.step, stepping.hidden, layout == "stacked")
        step_args = {} if stepping.step is None else {"at": stepping.step, "reveal": not stepping.hidden}
        fig = theme.chart(self.ui.figure(outcome, bundle.extra, styles, view, layout, **step_args))
        # No Streamlit chart theme: the figure keeps its own large, projector-friendly fonts.
        # No Plotly tool bar on a phone: it sat on the wrapped legend, and a finger has no hover
        # to reveal it (pinch zooms, a double tap resets).
        event = plot.chart(fig, key=self.k("figure"), config={"displayModeBar": layout == "wide"}, where=chart,
                           clicks=True, report_drawn=chart_only)
        self.ui.on_click(self.k, event, fig)
        if chart_only:
            return
        result = outcome.result
        n_div = int((result.diverged_at >= 0).sum())
        text = (f"{_how_computed(len(runs), outcome.reused, result.steps, result.wall_time)} on {result.device} "
                f"({result.dtype}); torch.optim's own paths, step for step."
                + (f" {n_div} run(s) diverged." if n_div else ""))
        more = getattr(self.ui, "caption", None)
        st.caption(text + (" " + more(outcome, bundle.extra) if more else ""))
        self.ui.about(run_exp, self.k)
        table(summary_frame(outcome, self.ui, view))
        if look_inside:
            inside.section(self.k, outcome, styles, card=stepping.step is None, narrow=layout == "stacked")
        rules_ui(self.k, runs, narrow=layout == "stacked")
        downloads_ui(self.k, outcome, fig)


def _how_computed(runs: int, reused: int, steps: int, seconds: float) -> str:
    if not reused:
        return f"{runs} runs × {steps:,} steps computed as one batch in {seconds * 1e3:,.0f} ms"
    if reused == runs:
        return f"{runs} runs × {steps:,} steps, all unchanged (as computed before)"
    return f"{runs - reused} of {runs} runs × {steps:,} steps computed in {seconds * 1e3:,.0f} ms ({reused} unchanged)"


@st.fragment
def _comparison(page: ExperimentPage) -> None:
    # A fragment's run does not pass the app's keep_widget_values, and one can start before the
    # browser has drawn the last run's widgets (a phone's width, reported while a first long
    # computation ran): the run editor's came back empty, and run 1 became SGD.
    keep_widget_values(page.prefix)
    page.comparison()


def run_errors(exp: Experiment) -> dict[int, str]:
    """Per run index, why the engine would refuse it (torch's own words)."""
    problem = exp.problem.build()
    errors = {}
    for i, run in enumerate(exp.runs):
        try:
            resolve(problem, run, exp.n_steps, allowed_modules())
        except ConfigError as exc:
            errors[i] = str(exc)
    return errors


def compute(exp: Experiment, on_progress, notice=None, record: tuple[str, ...] = DEFAULT_RECORD) -> Bundle:
    """The experiment's outcome and figure extras, from the shared cache or computed now.

    Labels and colours are not part of the key: renaming a run does not recompute it, and on a
    surface, changing one run recomputes that run alone (the others come from the cache).
    A long computation streams partial pictures through ``on_progress``, takes a turn
    on the server (``guard.heavy_slot``: a queue with a notice when it is busy; a quick one
    takes this process's one-at-a-time turn, ``guard.quick_slot``), and
    stops between chunks when its tab closes or its session asks for a new run.
    ``record`` adds the gradient and the optimizer's state for the inside view.
    """
    key = exp.numbers_only()

    def run() -> Bundle:
        seconds = experiment.estimate_seconds(key)
        # A check about every 0.1 s: a closed tab or a new click stops the work that soon.
        chunk = max(1, round(key.n_steps * min(1.0, CHECK_EVERY_SECONDS / max(seconds, 1e-9))))
        long = seconds > STREAM_ABOVE_SECONDS
        every = max(1, round(key.n_steps / PROGRESS_UPDATES / chunk))
        slot = guard.heavy_slot(notice) if long else guard.quick_slot(notice)
        try:
            with slot as check:
                def on_chunk(p: Progress) -> bool:
                    if not check(p):
                        return False
                    if long and (p.done // chunk) % every == 0:
                        on_progress(p)
                    return True

                if experiment.separable(key, record) and not long:  # only the runs that changed
                    outcome = experiment.compute_reusing(key, peek, store, record=record, on_progress=on_chunk,
                                                         chunk=chunk)
                else:
                    outcome = experiment.compute(key, on_chunk, chunk=chunk, record=record)
        except Cancelled:
            guard.end_run()
        return Bundle(outcome, KIND_UI[key.problem.kind].extras(outcome))

    return cached(("experiment", key) if record == DEFAULT_RECORD else ("experiment", key, record), run)


def fmt(value: Any) -> str:
    """A table cell: 4 significant digits, "—" for nothing."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def settings_text(run: RunConfig, resolved: dict[str, Any]) -> str:
    """``lr=0.01, momentum=0.9; StepLR(step_size=100)``: the lr always, then what differs from torch."""
    defaults = get_optimizer(run.optimizer, allowed_modules()).defaults
    hp = resolved["hparams"]
    parts = [f"lr={fmt(hp['lr'])}"] if "lr" in hp else []
    parts += [f"{k}={_setting(v)}" for k, v in hp.items() if k != "lr" and v != defaults.get(k)]
    text = ", ".join(parts)
    if run.schedule != "constant":
        args = ", ".join(f"{k}={_setting(v)}" for k, v in run.schedule_args)
        text += f"; {run.schedule}" + (f"({args})" if args else "")
    return text


def _setting(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_setting(x) for x in v) + ")"
    return fmt(v) if isinstance(v, float) else str(v)


def summary_frame(outcome: Outcome, ui: ModuleType, view: View) -> pd.DataFrame:
    result, spe = outcome.result, outcome.steps_per_epoch
    rows = []
    for i, run in enumerate(result.configs):
        row: dict[str, Any] = {
            "run": run.label or run.optimizer,
            "optimizer": run.optimizer,
            "settings": settings_text(run, result.resolved[i]),
        }
        if spe == 1:
            row["final loss"] = float(result.final_loss[i])
            row["best loss"] = float(result.best_loss[i])
        row.update(ui.summary_columns(outcome, i, view))
        div = int(result.diverged_at[i])
        if spe > 1:
            row["diverged in epoch"] = None if div < 0 else div // spe + 1
        else:
            row["diverged at step"] = None if div < 0 else div
        rows.append({k: fmt(v if not (isinstance(v, float) and v != v) else None) for k, v in row.items()})
    return pd.DataFrame(rows)


def rules_ui(k, runs: tuple[RunConfig, ...], narrow: bool = False) -> None:
    """Each optimizer's update rule, and every run's values in it: drawn only while the box is
    open, since its formulas (KaTeX, one a run) cost every page load and every rerun's render.
    ``narrow``: a phone's width (see :func:`optviz.ui.maths.rule_latex`)."""
    box = st.expander("The update rules, with these settings", key=k("rules"), on_change="rerun")
    if box.open:
        with box:
            rules(runs, narrow)


def rules(runs: tuple[RunConfig, ...], narrow: bool = False) -> None:
    by_optimizer: dict[str, list[RunConfig]] = {}
    for run in runs:
        by_optimizer.setdefault(run.optimizer, []).append(run)
    for name, group in by_optimizer.items():
        spec = get_optimizer(name, allowed_modules())
        st.markdown(f"**{spec.name}** — {spec.summary}")
        if not spec.rule:
            continue
        st.latex(rule_latex(spec, narrow))
        for run in group:
            st.markdown(f"{plain(run.label or run.optimizer)}: with {values_markdown(spec, dict(run.hparams))}")


def downloads_ui(k, outcome: Outcome, fig) -> None:
    """The downloads, in a menu: its buttons are drawn only when it opens, not at each page load."""
    exp = outcome.experiment
    menu = st.popover("Download", icon=":material/download:", key=k("downloads"))
    menu.download_button("Runs (CSV)", lambda: to_csv(outcome), "optviz-runs.csv", "text/csv", on_click="ignore",
                         icon=":material/table:", key=k("dl.csv"), width="stretch",
                         help="One row per run and step: the parameters, loss and lr (and a model's metrics).")
    menu.download_button("Runs (JSON)", lambda: to_json(outcome), "optviz-runs.json", "application/json",
                         on_click="ignore", icon=":material/data_object:", key=k("dl.json"), width="stretch")
    menu.download_button("Animation (HTML)", lambda: charts.to_html(fig), "optviz-race.html", "text/html",
                         on_click="ignore", icon=":material/movie:", key=k("dl.html"), width="stretch",
                         help="A standalone page that plays offline: drop it into slides.")
    menu.download_button("Config (JSON)", exp.to_json, "optviz-config.json", "application/json",
                         on_click="ignore", icon=":material/settings:", key=k("dl.config"), width="stretch",
                         help="Replay it with: python3 tasks.py cli run --config optviz-config.json")


SURFACES = ExperimentPage(("surface", "formula"), "s.", "surfaces")
DATASETS = ExperimentPage(("train",), "d.", "datasets")
ONLINE = ExperimentPage(("online",), "o.", "online")
PAGES = (SURFACES, DATASETS, ONLINE)


def page_of(kind: str) -> ExperimentPage:
    """The experiment page that shows problems of ``kind``."""
    return next(p for p in PAGES if kind in p.kinds)
