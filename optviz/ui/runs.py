"""The run list every experiment page shares: one expander per run, with torch's hyperparameters.

A :class:`RunEditor` owns the widget keys of one page's runs under a prefix
(``"s."`` for Surfaces, ``"d."`` for Datasets), so the pages keep separate run
lists in one session. It reads and writes only optimizer, hyperparameters,
schedule, label and colour; a page adds its own per-run widgets (the Surfaces
page's start point) through ``extra``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import streamlit as st

from ..engine import RunConfig
from ..optim import OPTIMIZERS, schedules
from ..optim import get as get_optimizer
from ..params import HParam
from .widgets import allowed_modules, param_widget, plain, read_value, set_value

MAX_RUNS = 12


def ui_default(spec, h: HParam) -> Any:
    return spec.ui_defaults.get(h.name, h.default)


class RunEditor:
    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.ids_key = f"{prefix}run_ids"
        self.next_key = f"{prefix}next_run_id"
        self.after_add: Callable[[int, RunConfig], None] | None = None
        self.after_duplicate: Callable[[int, int], None] | None = None

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

    def owns(self, key: Any) -> bool:
        """Whether a session-state key is one of this editor's run widgets."""
        return isinstance(key, str) and key.startswith(f"{self.prefix}r") and "." in key[len(self.prefix):] and \
            key[len(self.prefix) + 1 : len(self.prefix) + 2].isdigit()

    # -- state -------------------------------------------------------------------
    def clear(self) -> None:
        s = st.session_state
        for key in [k for k in s.keys() if self.owns(k)]:
            del s[key]
        s[self.next_key] = 0
        s[self.ids_key] = []

    def load(self, runs: Sequence[RunConfig]) -> None:
        self.clear()
        for run in runs:
            self.add_run(run)

    def add_run(self, run: RunConfig | None = None) -> int:
        """Append a run; with no run, a new Adam run in the next palette colour."""
        s = st.session_state
        rid = s.get(self.next_key, 0)
        s[self.next_key] = rid + 1
        fresh = run is None
        run = run or RunConfig("Adam", label=self._fresh_label("Adam"))
        spec = get_optimizer(run.optimizer, allowed_modules())
        s[self.key(rid, "optimizer")] = s[self.key(rid, "was")] = spec.name
        s[self.key(rid, "label")] = run.label or spec.name
        s[self.key(rid, "color")] = run.color or ""
        # A new run gets the UI's defaults; a given run (preset, link) means torch's for what it leaves out.
        self._set_hparams(rid, spec, run.hp, ui=fresh)
        s[self.key(rid, "sched")] = run.schedule
        for a in schedules.get(run.schedule).args:
            set_value(self.sched_key(rid, a.name), a, run.sargs.get(a.name, a.default))
        s[self.ids_key] = [*self.ids, rid]
        if self.after_add is not None:
            self.after_add(rid, run)
        return rid

    def _set_hparams(self, rid, spec, values, ui: bool = True):
        for h in spec.hparams:
            set_value(self.hp_key(rid, h.name), h, values.get(h.name, ui_default(spec, h) if ui else h.default))

    def _fresh_label(self, name: str) -> str:
        """``Adam 5``: the optimizer and a number no other run's label has."""
        s = st.session_state
        taken = {s.get(self.key(rid, "label"), "") for rid in self.ids}
        n = len(self.ids) + 1
        while f"{name} {n}" in taken:
            n += 1
        return f"{name} {n}"

    def on_optimizer_change(self, rid: int) -> None:
        """A new optimizer starts from its own defaults (ui defaults, else torch's). A label
        that named the old optimizer names the new one: a legend must not say SGD for LBFGS."""
        s = st.session_state
        spec = get_optimizer(s[self.key(rid, "optimizer")], allowed_modules())
        self._set_hparams(rid, spec, {})
        was, label = s.get(self.key(rid, "was"), ""), s.get(self.key(rid, "label"), "")
        if not label.strip() or (was and was.lower() in label.lower()):
            s[self.key(rid, "label")] = spec.name
        s[self.key(rid, "was")] = spec.name

    def on_schedule_change(self, rid: int) -> None:
        spec = schedules.get(st.session_state[self.key(rid, "sched")])
        for a in spec.args:
            set_value(self.sched_key(rid, a.name), a, a.default)

    def duplicate_run(self, rid: int) -> None:
        run = self.collect_run(rid)
        new = self.add_run(RunConfig(run.optimizer, run.hparams, run.schedule, run.schedule_args, run.start,
                                     label=f"{run.label} (copy)", color=""))
        if self.after_duplicate is not None:
            self.after_duplicate(rid, new)
        # Put the copy right after its original.
        ids = [i for i in self.ids if i != new]
        ids.insert(ids.index(rid) + 1, new)
        st.session_state[self.ids_key] = ids

    def remove_run(self, rid: int) -> None:
        st.session_state[self.ids_key] = [i for i in self.ids if i != rid]

    def collect_run(self, rid: int) -> RunConfig:
        """The run's optimizer, hyperparameters (non-defaults), schedule, label and colour."""
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
        return RunConfig(spec.name, hp, schedule.name, sargs, label=s.get(self.key(rid, "label"), ""),
                         color=s.get(self.key(rid, "color"), ""))

    # -- widgets -----------------------------------------------------------------
    def ui(self, runs: Sequence[RunConfig | None], errors: dict[int, str], colors: list[str],
           extra: Callable[[int], None] | None = None) -> None:
        """One expander per run: optimizer and torch's hyperparameters, schedule, label, colour."""
        s = st.session_state
        st.markdown("### Runs")
        names = list(OPTIMIZERS)
        for n, rid in enumerate(self.ids):
            optimizer = s[self.key(rid, "optimizer")]
            if optimizer not in names:
                names.append(optimizer)
            run = runs[n] if n < len(runs) else None
            title = summary_label(run) if run is not None else f"run {n + 1}"
            # A key keeps the expander open while its title changes with the run's settings.
            with st.expander(f"**{n + 1}.** {plain(title)}", expanded=False, key=self.key(rid, "open")):
                if rid in errors:
                    st.error(plain(errors[rid]))
                c1, c2, c3 = st.columns([3, 3, 1])
                c1.text_input("Label", key=self.key(rid, "label"), max_chars=80)
                c2.selectbox("Optimizer", names, key=self.key(rid, "optimizer"), on_change=self.on_optimizer_change,
                             args=(rid,), help="torch.optim's optimizers, with torch's names and defaults")
                if not s.get(self.key(rid, "color")):
                    s[self.key(rid, "color")] = colors[n]
                c3.color_picker("Colour", key=self.key(rid, "color"))
                spec = get_optimizer(optimizer, allowed_modules())
                st.caption(spec.summary)
                cols = st.columns(4)
                for j, h in enumerate(spec.hparams):
                    with cols[j % 4]:
                        param_widget(self.hp_key(rid, h.name), h)
                if extra is not None:
                    extra(rid)
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
                b1, b2, _ = st.columns([1, 1, 4])
                b1.button("Duplicate", key=self.key(rid, "dup"), on_click=self.duplicate_run, args=(rid,),
                          icon=":material/content_copy:", disabled=len(self.ids) >= MAX_RUNS)
                b2.button("Remove", key=self.key(rid, "rm"), on_click=self.remove_run, args=(rid,),
                          icon=":material/delete:", disabled=len(self.ids) <= 1)
        st.button("Add a run", key=f"{self.prefix}add_run", on_click=self.add_run, icon=":material/add:",
                  disabled=len(self.ids) >= MAX_RUNS, help=f"Up to {MAX_RUNS} runs in one comparison")


def summary_label(run: RunConfig) -> str:
    lr = dict(run.hparams).get("lr", get_optimizer(run.optimizer, allowed_modules()).defaults.get("lr"))
    bits = [run.optimizer] + ([f"lr {lr:g}"] if isinstance(lr, float) else [])
    if run.schedule != "constant":
        bits.append(run.schedule)
    return f"{run.label or run.optimizer} — " + ", ".join(bits)


def runnable(runs: Sequence[RunConfig], errors: Mapping[int, str]) -> tuple[RunConfig, ...]:
    """Show why each refused run can't run (torch's words); return the others.
    With none left, say how to start."""
    for i, message in errors.items():
        st.error(plain(f"Run {i + 1} ({runs[i].label or runs[i].optimizer}) can't run: {message}"))
    ok = tuple(r for i, r in enumerate(runs) if i not in errors)
    if not ok:
        st.info("Add a run to start.")
    return ok
