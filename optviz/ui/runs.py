"""The run list every experiment page shares: the runs, and one run's settings at a time.

A :class:`RunEditor` keeps a page's runs as plain :class:`RunConfig` values in
the session (its model), under a prefix (``"s."`` for Surfaces, ``"d."`` for
Datasets). Only the run being edited has widgets: its optimizer with torch's
hyperparameters, its schedule, label, colour and (where the page allows) its own
start point. The widgets write into the model; the model writes them back when
Streamlit has dropped them (a page switch, a fragment's rerun), so no run is
ever lost, and a page of twelve runs draws one run's widgets, not twelve.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

from ..engine import RunConfig
from ..optim import OPTIMIZERS, schedules
from ..optim import get as get_optimizer
from ..params import ConfigError, HParam
from .widgets import allowed_modules, param_widget, plain, read_value, set_value

MAX_RUNS = 12


def ui_default(spec, h: HParam) -> Any:
    return spec.ui_defaults.get(h.name, h.default)


def summary_label(run: RunConfig) -> str:
    lr = dict(run.hparams).get("lr", get_optimizer(run.optimizer, allowed_modules()).defaults.get("lr"))
    bits = [run.optimizer] + ([f"lr {lr:.4g}"] if isinstance(lr, float) else [])
    if run.schedule != "constant":
        bits.append(run.schedule)
    return f"{run.label or run.optimizer} — " + ", ".join(bits)


class RunEditor:
    """A page's runs: ``starts`` lets each run have a start point of its own (a 2-D surface),
    ``noise`` gradient noise of its own (an analytic surface, to mimic mini-batches)."""

    def __init__(self, prefix: str = "", starts: bool = False, noise: bool = False):
        self.prefix = prefix
        self.starts = starts
        self.noise = noise
        self.ids_key = f"{prefix}run_ids"
        self.next_key = f"{prefix}next_run_id"
        self.model_key = f"{prefix}runs"
        self.edit_key = f"{prefix}edit"

    # -- keys ------------------------------------------------------------------
    def key(self, rid: int, name: str) -> str:
        return f"{self.prefix}r{rid}.{name}"

    def hp_key(self, rid: int, name: str) -> str:
        return self.key(rid, f"hp.{name}")

    def sched_key(self, rid: int, name: str) -> str:
        return self.key(rid, f"s.{name}")

    @property
    def ids(self) -> list[int]:
        return list(st.session_state.get(self.ids_key, []))

    @property
    def model(self) -> dict[int, RunConfig]:
        return st.session_state.setdefault(self.model_key, {})

    @property
    def editing(self) -> int | None:
        rid = st.session_state.get(self.edit_key)
        return rid if rid in self.ids else (self.ids[0] if self.ids else None)

    def owns(self, key: Any) -> bool:
        """Whether a session-state key is one of this editor's run widgets."""
        p = self.prefix
        return isinstance(key, str) and key.startswith(f"{p}r") and key[len(p) + 1 : len(p) + 2].isdigit()

    # -- the model -----------------------------------------------------------------
    def clear(self) -> None:
        s = st.session_state
        for key in [k for k in s.keys() if self.owns(k)]:
            del s[key]
        s[self.next_key] = 0
        s[self.ids_key] = []
        s[self.model_key] = {}
        s.pop(self.edit_key, None)

    def load(self, runs: Sequence[RunConfig]) -> None:
        self.clear()
        for run in runs:
            self.add_run(run)
        self.select(self.ids[0] if self.ids else None)

    def run(self, rid: int) -> RunConfig:
        return self.model[rid]

    def add_run(self, run: RunConfig | None = None) -> int:
        """Append a run and edit it; with no run, a new Adam run with the app's defaults."""
        s = st.session_state
        rid = s.get(self.next_key, 0)
        s[self.next_key] = rid + 1
        if run is None:
            spec = get_optimizer("Adam", allowed_modules())
            hp = {h.name: ui_default(spec, h) for h in spec.hparams if ui_default(spec, h) != h.default}
            run = RunConfig("Adam", hp, label=self._fresh_label("Adam"))
        spec = get_optimizer(run.optimizer, allowed_modules())
        run = dataclasses.replace(run, optimizer=spec.name, label=run.label or spec.name)
        self.model[rid] = run
        s[self.ids_key] = [*self.ids, rid]
        self.select(rid)
        return rid

    def _fresh_label(self, name: str) -> str:
        """``Adam 5``: the optimizer and a number no other run's label has."""
        taken = {self.model[rid].label for rid in self.ids}
        n = len(self.ids) + 1
        while f"{name} {n}" in taken:
            n += 1
        return f"{name} {n}"

    def duplicate_run(self, rid: int) -> None:
        self.sync()
        run = self.model[rid]
        new = self.add_run(dataclasses.replace(run, label=f"{run.label} (copy)", color=""))
        ids = [i for i in self.ids if i != new]  # the copy right after its original
        ids.insert(ids.index(rid) + 1, new)
        st.session_state[self.ids_key] = ids

    def remove_run(self, rid: int) -> None:
        ids = self.ids
        at = ids.index(rid)
        ids.remove(rid)
        st.session_state[self.ids_key] = ids
        self.model.pop(rid, None)
        self.select(ids[min(at, len(ids) - 1)] if ids else None)

    def select(self, rid: int | None) -> None:
        """Edit run ``rid``: its widgets start from the model."""
        st.session_state[self.edit_key] = rid
        if rid is not None:
            self._write_widgets(rid)

    def _on_select(self) -> None:
        rid = st.session_state.get(self.edit_key)
        if rid is not None:
            self._write_widgets(rid)

    def _write_widgets(self, rid: int) -> None:
        s, run = st.session_state, self.model[rid]
        spec = get_optimizer(run.optimizer, allowed_modules())
        s[self.key(rid, "optimizer")] = s[self.key(rid, "was")] = spec.name
        s[self.key(rid, "label")] = run.label
        s[self.key(rid, "color")] = run.color or ""
        values = spec.resolve(run.hp) if run.hp else spec.defaults
        for h in spec.hparams:
            set_value(self.hp_key(rid, h.name), h, values[h.name])
        s[self.key(rid, "sched")] = run.schedule
        sched = schedules.get(run.schedule)
        for a in sched.args:
            set_value(self.sched_key(rid, a.name), a, run.sargs.get(a.name, a.default))
        if self.starts:
            s[self.key(rid, "own_start")] = run.start is not None
            if run.start is not None:
                s[self.key(rid, "start_x")], s[self.key(rid, "start_y")] = (float(v) for v in run.start)
        if self.noise:
            s[self.key(rid, "noise")], s[self.key(rid, "noise_seed")] = float(run.noise), int(run.seed)

    def sync(self, page_start: Sequence[float] | None = None) -> dict[int, str]:
        """Read the edited run's widgets into the model (or restore them if Streamlit dropped
        them). Returns why the edited run's widgets cannot be read, if they cannot."""
        rid = self.editing
        if rid is None:
            return {}
        s = st.session_state
        if self.key(rid, "optimizer") not in s:
            self._write_widgets(rid)
            return {}
        try:
            self.model[rid] = self._read_widgets(rid, page_start)
        except ConfigError as exc:
            return {rid: str(exc)}
        return {}

    def _read_widgets(self, rid: int, page_start: Sequence[float] | None) -> RunConfig:
        """The run's optimizer, hyperparameters (non-defaults), schedule, label, colour and start."""
        s = st.session_state
        spec = get_optimizer(s[self.key(rid, "optimizer")], allowed_modules())
        hp = {}
        for h in spec.hparams:
            value = read_value(self.hp_key(rid, h.name), h)
            if value != h.default:
                hp[h.name] = value
        schedule = schedules.get(s.get(self.key(rid, "sched"), "constant"))
        sargs = {}
        for a in schedule.args:
            value = read_value(self.sched_key(rid, a.name), a)
            if value != a.default:
                sargs[a.name] = value
        old = self.model[rid]
        start, noise, seed = old.start, old.noise, old.seed
        if self.starts:
            own = s.get(self.key(rid, "own_start"))
            start = (float(s[self.key(rid, "start_x")]), float(s[self.key(rid, "start_y")])) if own else None
        if self.noise:
            noise, seed = float(s.get(self.key(rid, "noise"), 0.0)), int(s.get(self.key(rid, "noise_seed"), 0))
        return RunConfig(spec.name, hp, schedule.name, sargs, start, noise, seed,
                         label=s.get(self.key(rid, "label"), ""), color=s.get(self.key(rid, "color"), ""))

    # -- callbacks ---------------------------------------------------------------------
    def on_optimizer_change(self, rid: int) -> None:
        """A new optimizer starts from its own defaults (the app's, else torch's). A label
        that named the old optimizer names the new one: a legend must not say SGD for LBFGS."""
        s = st.session_state
        spec = get_optimizer(s[self.key(rid, "optimizer")], allowed_modules())
        for h in spec.hparams:
            set_value(self.hp_key(rid, h.name), h, ui_default(spec, h))
        was, label = s.get(self.key(rid, "was"), ""), s.get(self.key(rid, "label"), "")
        if not label.strip() or (was and was.lower() in label.lower()):
            s[self.key(rid, "label")] = spec.name
        s[self.key(rid, "was")] = spec.name

    def on_schedule_change(self, rid: int) -> None:
        spec = schedules.get(st.session_state[self.key(rid, "sched")])
        for a in spec.args:
            set_value(self.sched_key(rid, a.name), a, a.default)

    def on_own_start(self, rid: int, page_start: Sequence[float]) -> None:
        """Switching a run to its own start begins from the page's start point."""
        s = st.session_state
        if s.get(self.key(rid, "own_start")):
            s[self.key(rid, "start_x")], s[self.key(rid, "start_y")] = (float(v) for v in page_start)

    # -- widgets -----------------------------------------------------------------
    def ui(self, errors: Mapping[int, str], colors: Mapping[int, str], page_start: Sequence[float] = ()) -> None:
        """The runs as a row of choices, and the chosen run's settings."""
        s = st.session_state
        ids = self.ids
        st.markdown("### Runs")
        if not ids:
            st.button("Add a run", key=f"{self.prefix}add_run", on_click=self.add_run, icon=":material/add:")
            return
        if s.get(self.edit_key) not in ids:
            self.select(ids[0])

        # Labels now, not in format_func: it may be called outside this script run (AppTest).
        names = {rid: f"{'⚠ ' if rid in errors else ''}{n}. {plain(self.model[rid].label or self.model[rid].optimizer)}"
                 for n, rid in enumerate(ids, 1)}

        # A row that wraps where it does not fit (a projector, a phone), not columns that cut labels.
        with st.container(horizontal=True, vertical_alignment="bottom"):
            st.segmented_control("Edit run", ids, key=self.edit_key, format_func=names.get, required=True,
                                 on_change=self._on_select, help="Choose a run to change its settings.")
            st.button("Add a run", key=f"{self.prefix}add_run", on_click=self.add_run, icon=":material/add:",
                      disabled=len(ids) >= MAX_RUNS, help=f"Up to {MAX_RUNS} runs in one comparison")
        rid = self.editing
        self._editor(rid, errors.get(rid), colors.get(rid, ""), page_start)

    def _editor(self, rid: int, error: str | None, color: str, page_start: Sequence[float]) -> None:
        s = st.session_state
        names = list(OPTIMIZERS)
        optimizer = s[self.key(rid, "optimizer")]
        if optimizer not in names:
            names.append(optimizer)
        with st.container(border=True):
            if error:
                st.error(plain(error))
            c1, c2, c3 = st.columns([3, 3, 1])
            c1.text_input("Label", key=self.key(rid, "label"), max_chars=80)
            c2.selectbox("Optimizer", names, key=self.key(rid, "optimizer"), on_change=self.on_optimizer_change,
                         args=(rid,), help="torch.optim's optimizers, with torch's names and defaults")
            if not s.get(self.key(rid, "color")):
                s[self.key(rid, "color")] = color
            c3.color_picker("Colour", key=self.key(rid, "color"))
            spec = get_optimizer(optimizer, allowed_modules())
            st.caption(spec.summary)
            # Numbers four to a row; the switches after them, in a row that wraps (a long name
            # such as decoupled_weight_decay is cut in a quarter of a projector's width).
            cols = st.columns(4)
            for j, h in enumerate(h for h in spec.hparams if h.kind != "bool"):
                with cols[j % 4]:
                    param_widget(self.hp_key(rid, h.name), h)
            if switches := [h for h in spec.hparams if h.kind == "bool"]:
                with st.container(horizontal=True, gap="medium"):
                    for h in switches:
                        param_widget(self.hp_key(rid, h.name), h)
            if self.starts:
                with st.container(horizontal=True, vertical_alignment="bottom"):
                    own = st.toggle("Own start point", key=self.key(rid, "own_start"), on_change=self.on_own_start,
                                    args=(rid, page_start),
                                    help="Off: the run starts at the page's start point (sidebar, or a click on "
                                         "the contour).")
                    if self.key(rid, "start_x") not in s:
                        s[self.key(rid, "start_x")], s[self.key(rid, "start_y")] = (
                            float(v) for v in page_start or (0, 0))
                    st.number_input("x₀", key=self.key(rid, "start_x"), format="%g", disabled=not own, width=110)
                    st.number_input("y₀", key=self.key(rid, "start_y"), format="%g", disabled=not own, width=110)
            if self.noise:
                n1, n2, _ = st.columns([2, 2, 2])
                n1.number_input("Gradient noise σ", key=self.key(rid, "noise"), min_value=0.0, format="%g",
                                step=0.1, help="Gaussian noise added to each gradient: an analytic surface's "
                                               "stand-in for the noise of mini-batch SGD.")
                n2.number_input("Noise seed", key=self.key(rid, "noise_seed"), min_value=0, step=1,
                                help="Runs with the same seed see the same noise: a fair race.")
            sc1, sc2 = st.columns([1, 3])
            sc1.selectbox("LR schedule", list(schedules.SCHEDULES), key=self.key(rid, "sched"),
                          on_change=self.on_schedule_change, args=(rid,))
            sched = schedules.get(s[self.key(rid, "sched")])
            with sc2:
                st.caption(sched.summary)
                scols = st.columns(4)
                for j, a in enumerate(sched.args):
                    with scols[j % 4]:
                        # None: tied to the run (its steps or lr)
                        param_widget(self.sched_key(rid, a.name), a, auto="auto" if a.default is None else None)
            with st.container(horizontal=True):
                st.button("Duplicate", key=self.key(rid, "dup"), on_click=self.duplicate_run, args=(rid,),
                          icon=":material/content_copy:", disabled=len(self.ids) >= MAX_RUNS)
                st.button("Remove", key=self.key(rid, "rm"), on_click=self.remove_run, args=(rid,),
                          icon=":material/delete:", disabled=len(self.ids) <= 1)


def runnable(runs: Sequence[RunConfig], errors: Mapping[int, str]) -> tuple[RunConfig, ...]:
    """Show why each refused run can't run (torch's words); return the others.
    With none left, say how to start."""
    for i, message in errors.items():
        st.error(plain(f"Run {i + 1} ({runs[i].label or runs[i].optimizer}) can't run: {message}"))
    ok = tuple(r for i, r in enumerate(runs) if i not in errors)
    if not ok:
        st.info("Add a run to start.")
    return ok
