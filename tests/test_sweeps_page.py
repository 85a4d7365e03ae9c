"""The Sweeps page through AppTest: it starts, every section computes (on a surface, and
the LR sweep and heatmap on a dataset too), links round-trip, bad links warn, and a
click opens the run on the page of its kind."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from optviz import codec, sweeps
from optviz.codec import SECTIONS, SWEEP_DEFAULTS, HeatmapSettings, LRSettings, decode_sweep, encode_sweep
from optviz.engine import RunConfig
from optviz.presets import DEFAULTS
from optviz.problems import Task
from optviz.problems.datasets import DataConfig
from optviz.sweeps import Axis

DEFAULT = DEFAULTS["surface"]

TIMEOUT = 120
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _sweeps(query: dict | None = None) -> AppTest:
    """The app on its Sweeps page, with ``query`` in the address bar.

    AppTest.switch_page() finds file pages only; the Sweeps page is a callable
    registered by st.navigation, so we pick its page hash from the registry
    that the first run fills in.
    """
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at._page_hash = _sweeps_hash(at)
    at.query_params = dict(query or {})
    return at.run()


def _sweeps_hash(at: AppTest) -> str:
    return next(h for h, info in at._registered_pages.items() if info.get("url_pathname") == "sweeps")


def _query(at: AppTest) -> dict:
    return {k: at.query_params[k] for k in at.query_params}


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("section", list(SECTIONS))
def test_each_section_computes(section):
    at = _sweeps()
    _ok(at)
    assert "Sweeps and maps" in at.markdown[0].value
    at.session_state["sw.section"] = section
    at.run()
    _ok(at)
    assert len(at.get("plotly_chart")) == 1
    assert any("as one batch" in c.value for c in at.caption)
    got, settings, warnings = decode_sweep(_query(at))
    assert got == section and not warnings and settings == SWEEP_DEFAULTS[section]


def test_widgets_drive_the_link_and_the_link_reproduces_them():
    at = _sweeps()
    at.number_input(key="sw.lr.num").set_value(40).run()
    at.selectbox(key="sw.lr.opt3").set_value("RMSprop").run()
    at.text_input(key="sw.lr.set3").set_value("momentum=0.5 centered=true").run()
    _ok(at)
    section, settings, _ = decode_sweep(_query(at))
    assert settings.num == 40
    assert settings.runs[-1] == RunConfig("RMSprop", {"momentum": 0.5, "centered": True})
    again = _sweeps(_query(at))
    _ok(again)
    assert decode_sweep(_query(again))[1] == settings
    # hparams sorted, as RunConfig keeps them
    assert again.session_state["sw.lr.set3"] == "centered=true momentum=0.5"


def test_link_opens_a_section_with_its_settings():
    settings = HeatmapSettings(
        run=RunConfig("Adam"), x=Axis("lr", 1e-3, 1, 6, log=True), y=Axis("betas[1]", 0.5, 0.99, 4), steps=30
    )
    at = _sweeps(encode_sweep("heatmap", settings))
    _ok(at)
    assert at.session_state["sw.section"] == "heatmap" and at.session_state["sw.hm.y"] == "betas[1]"
    assert decode_sweep(_query(at))[1] == settings


@pytest.mark.parametrize(
    "query",
    [
        {"mode": "nope"},
        {"mode": "lr", "lrs": "1,0.1,5"},
        {"mode": "lr", "lrs": "lots"},
        {"mode": "lr", "opt": ["Nope", "Adam"]},
        {"mode": "lr", "opt": "os.system;cmd=rm"},
        {"mode": "lr", "steps": "-3"},
        {"mode": "lr", "surface": "nope"},
        {"mode": "basin", "grid": "100000"},
        {"mode": "basin", "color": "<script>"},
        {"mode": "basin", "sp": "kappa:-1"},
        {"mode": "heatmap", "x": "lr:a:b:c"},
        {"mode": "heatmap", "x": "betas[7]:0:1:3"},
        {"mode": "heatmap", "x": "lr:-1:1:5:log"},
        {"mode": "heatmap", "x": "momentum:0:1:5", "y": "momentum:0:1:5"},
    ],
)
def test_malformed_links_warn_instead_of_failing(query):
    at = _sweeps(query)
    assert not at.exception
    assert any("Link:" in w.value for w in at.warning), "a bad link must say so"
    assert len(at.get("plotly_chart")) == 1, "the page still shows a picture"


def test_bad_settings_show_a_message_not_a_traceback():
    at = _sweeps()
    at.text_input(key="sw.lr.set0").set_value("momentum=lots").run()
    assert not at.exception
    assert any("momentum" in e.value for e in at.error)
    at.text_input(key="sw.lr.set0").set_value("momentum=-1").run()
    assert any("Invalid momentum" in e.value for e in at.error)  # torch's own words


def test_work_bound_is_refused_with_a_message(monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_WORK", "10000")
    at = _sweeps()
    assert not at.exception
    assert any("OPTVIZ_MAX_WORK" in e.value for e in at.error)


def _click(at: AppTest, key: str, customdata: list) -> AppTest:
    # What the browser sends when a point is clicked (customdata as a typed array arrives as a dict).
    data = {str(i): v for i, v in enumerate(customdata)}
    points = [{"curve_number": 0, "point_index": 0, "customdata": data}]
    at.session_state[key] = {"selection": {"points": points, "point_indices": [0], "box": [], "lasso": []}}
    return at.run()


def test_a_click_on_the_lr_curve_opens_that_run_on_the_surfaces_page():
    at = _sweeps()
    _click(at, "sw.lr.chart", [1, 120, -1])
    _ok(at)
    assert at.session_state["s.run_ids"]  # the Surfaces page
    exp, _, warnings = codec.decode(_query(at), DEFAULT)
    assert not warnings and exp.problem.surface == "rosenbrock"
    assert exp.steps == 300 and exp.dtype == "float64"
    default = SWEEP_DEFAULTS["lr"]
    lr = float(sweeps.log_lrs(default.lo, default.hi, default.num)[120])
    clicked = exp.runs[0]
    assert clicked.optimizer == "SGD" and dict(clicked.hparams)["momentum"] == 0.9
    assert dict(clicked.hparams)["lr"] == pytest.approx(lr, rel=1e-9)  # the link keeps 10 digits
    assert "best lr" in exp.runs[1].label  # and the curve's best lr beside it
    # The Surfaces page's own widgets hold the exact run, so its results are the sweep's.
    rid = at.session_state["s.run_ids"][0]
    assert at.session_state[f"s.r{rid}.hp.lr"] == lr


@pytest.mark.parametrize(
    "section,key,data,runs", [("basin", "sw.bm.chart", [10, 20], 2), ("heatmap", "sw.hm.chart", [9, 21], 2)]
)
def test_a_click_on_a_map_opens_those_runs(section, key, data, runs):
    at = _sweeps()
    at.session_state["sw.section"] = section
    at.run()
    _click(at, key, data)
    _ok(at)
    exp, _, _ = codec.decode(_query(at), DEFAULT)
    assert len(exp.runs) == runs
    if section == "heatmap":  # the clicked cell, and Polyak's heavy ball beside it
        assert dict(exp.runs[0].hparams)["momentum"] == pytest.approx(0.95 * 9 / 19)
        assert exp.runs[1].label.startswith("Polyak")
    else:  # both optimizers from the clicked start
        assert exp.runs[0].start == exp.runs[1].start == pytest.approx((-5 + 10 * 20 / 79, -5 + 10 * 10 / 79))


def test_coming_back_from_the_surfaces_page_keeps_both_pages(monkeypatch):
    """Streamlit drops a page's widget values while another is shown; both pages put theirs back."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    surfaces_hash = at._finished_page_script_hash
    at.button(key="s.preset.local-minima").click().run()
    sweeps_hash = _sweeps_hash(at)
    at._page_hash = sweeps_hash
    at.run()
    at.session_state["sw.section"] = "basin"
    at.run()
    at._page_hash = surfaces_hash
    at.run()
    _ok(at)
    exp, _, _ = codec.decode(_query(at), DEFAULT)
    assert exp.problem.surface == "himmelblau" and len(exp.runs) == 5
    at._page_hash = sweeps_hash
    at.run()
    _ok(at)
    assert _query(at)["mode"] == "basin"


def test_an_lr_sweep_on_a_dataset_computes_and_opens_on_the_datasets_page():
    task = Task(DataConfig("iris"), "softmax", loss="cross_entropy", batch_size=0, epochs=20)
    settings = LRSettings(problem=task, runs=(RunConfig("Adam"),), lo=1e-3, hi=1.0, num=12, steps=None)
    at = _sweeps(encode_sweep("lr", settings))
    _ok(at)
    assert at.session_state["sw.lr.kind"] == "train"
    assert decode_sweep(_query(at))[1] == settings
    assert len(at.get("plotly_chart")) == 1
    _click(at, "sw.lr.chart", [0, 5, -1])
    _ok(at)
    exp, _, warnings = codec.decode(_query(at), DEFAULTS["train"])
    assert not warnings and exp.problem == task and exp.runs[0].optimizer == "Adam"
    assert "dataset" in _query(at)


def test_switching_a_section_to_a_dataset_keeps_the_link_in_step():
    at = _sweeps()
    at.segmented_control(key="sw.lr.kind").set_value("train").run()
    _ok(at)
    section, settings, warnings = decode_sweep(_query(at))
    assert section == "lr" and not warnings and isinstance(settings.problem, Task)
