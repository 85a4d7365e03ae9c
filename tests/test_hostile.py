"""Hostile input, replayed: every kind that issue 15 found ending in a traceback, a hang or
a silent change, through each channel (the CLI and ``--config``, share links decoded and
opened on each page, CSV files and uploads, the operator's settings), then fuzzed.

The promise under test: a one-line error (exit 2) in the CLI, a message beside the control
in the app, never a traceback; and nothing a link carries is rendered as Markdown or HTML,
or evaluated by a spreadsheet.
"""

from __future__ import annotations

import json
import math
import re
import string
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from optviz import codec, config, export, presets
from optviz.cli import main
from optviz.config import Limits
from optviz.engine import RunConfig
from optviz.experiment import Experiment, check, compute, from_dict, from_json
from optviz.optim import generic
from optviz.params import ConfigError
from optviz.problems import SurfaceProblem, Task
from optviz.problems.datasets import MAX_SEED, DataConfig, csv_data
from tests.helpers import SMALL_TRAIN

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 180


def _cli(capsys, *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own refusals: one line too
        code = exc.code
    _, err = capsys.readouterr()
    return code, err


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("optviz: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


# -- the CLI and --config -----------------------------------------------------------------

CLI_CASES = {
    "lr beyond float": (["--lr", "1e308"], "beyond float32's range"),
    "weight_decay beyond float": (["--optimizer", "AdamW", "--set", "weight_decay=1e308"], "weight_decay"),
    "ExponentialLR gamma": (["--schedule", "ExponentialLR", "--schedule-set", "gamma=1e308"], "gamma"),
    "ExponentialLR lr outgrows float": (["--schedule", "ExponentialLR", "--schedule-set", "gamma=1e30"], "grows"),
    "OneCycleLR max_lr": (["--schedule", "OneCycleLR", "--schedule-set", "max_lr=1e308"], "max_lr"),
    "StepLR step_size": (["--schedule", "StepLR", "--schedule-set", "step_size=1e30"], "step_size"),
    "MultiStepLR milestones": (["--schedule", "MultiStepLR", "--schedule-set", "milestones=1e30"], "milestones"),
    "seed 2**64": (["--seed", str(2**64)], f"0 to {MAX_SEED:,}"),
    "seed below int64": (["--seed", "-99999999999999999999"], f"0 to {MAX_SEED:,}"),
    "device meta": (["--device", "meta"], "'meta'"),
    "device mps": (["--device", "mps"], "'mps'"),
    "device nonsense": (["--device", "gpu0"], "gpu0"),
    "SparseAdam": (["--optimizer", "torch.optim.SparseAdam"], "dense gradients"),
    "a module that is no optimizer package": (["--optimizer", "this.X"], "not imported"),
    "LBFGS max_iter beyond the evaluation limit": (["--optimizer", "LBFGS", "--set", "max_iter=10000"], "max_eval"),
}
TRAIN_CASES = {
    "init seed 1e30": (["--init-seed", "1e30"], "--init-seed"),
    "init seed 2**40": (["--init-seed", str(2**40)], "init seed"),
    "data seed -1": (["--data-seed", "-1"], f"0 to {MAX_SEED:,}"),
    "data seed 2**32": (["--data-seed", str(2**32)], f"0 to {MAX_SEED:,}"),
    "shuffle seed 2**32": (["--shuffle-seed", str(2**32)], "shuffle seed"),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_cli_refuses_in_one_line(capsys, case):
    args, needle = CLI_CASES[case]
    _one_line_error(*_cli(capsys, "run", "--steps", "5", *args), needle)


@pytest.mark.parametrize("case", TRAIN_CASES)
def test_train_refuses_bad_seeds_in_one_line(capsys, case):
    args, needle = TRAIN_CASES[case]
    _one_line_error(*_cli(capsys, "run", *SMALL_TRAIN, *args), needle)


def test_a_seed_at_either_end_of_the_range_runs(capsys):
    for seed in ("0", str(MAX_SEED)):
        code, err = _cli(capsys, "run", "--steps", "3", "--noise", "0.1", "--seed", seed)
        assert code == 0, err


def _config(tmp_path: Path, name: str, content: bytes | str) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


SURFACE_CONFIG = {"problem": {"kind": "surface", "surface": "rosenbrock"}, "runs": [{"optimizer": "SGD"}], "steps": 5}
CONFIG_CASES = {
    "binary junk": (bytes(range(256)) * 4, "not UTF-8"),
    "UTF-16": (json.dumps(SURFACE_CONFIG).encode("utf-16"), "not UTF-8"),
    "latin-1": ('{"runs": [{"optimizer": "SGD", "label": "caf\xe9"}]}'.encode("latin-1"), "not UTF-8"),
    "nested 50k deep": ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
    "steps of 5000 digits": (json.dumps(SURFACE_CONFIG).replace('"steps": 5', '"steps": ' + "9" * 5000), "digits"),
    "epochs of 5000 digits": (
        '{"task": {"data": {"dataset": "moons"}, "epochs": 1' + "0" * 5000 + '}, "runs": ["SGD"]}',
        "digits",
    ),
    "a million runs": (json.dumps({**SURFACE_CONFIG, "runs": ["SGD"] * 1_000_000}), "larger than 1 MB"),
    "steps beyond the limit": (json.dumps({**SURFACE_CONFIG, "steps": 10**15}), "OPTVIZ_MAX_STEPS"),
    "not JSON": ("{runs: [SGD]", "not valid JSON"),
}


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_config_files_are_refused_in_one_line(capsys, tmp_path, case):
    content, needle = CONFIG_CASES[case]
    _one_line_error(*_cli(capsys, "run", "--config", _config(tmp_path, "c.json", content)), needle)


def test_dev_zero_is_read_with_a_cap(capsys):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    _one_line_error(*_cli(capsys, "run", "--config", "/dev/zero"), "larger than 1 MB")


def test_huge_counts_from_python_are_refused_without_writing_them_out():
    with pytest.raises(ConfigError, match="2\\*\\*63"):
        from_dict({**SURFACE_CONFIG, "steps": 10**5000})
    with pytest.raises(ConfigError, match="2\\*\\*63"):
        from_dict({"task": {"data": {"dataset": "moons"}, "epochs": 10**5000}, "runs": ["SGD"]})
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_RUNS"):
        Limits().check(10**5000, 1)


def test_a_million_runs_are_refused_for_their_memory_before_anything_is_built():
    exp = Experiment(SurfaceProblem("rosenbrock"), (RunConfig("SGD"),) * 1_000_000, 20)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_MEMORY|OPTVIZ_MAX_SECONDS"):
        check(exp)


def test_csv_values_beyond_float_name_their_column(capsys, tmp_path):
    rows = "\n".join(f"{i},{1e308 if i % 2 else -1e308},{i % 2}" for i in range(40))
    path = _config(tmp_path, "big.csv", "a,huge,y\n" + rows)
    _one_line_error(*_cli(capsys, "run", "--csv", path, "--target", "y", "--epochs", "1"), "'huge'")
    with pytest.raises(ConfigError, match="'huge'"):
        from optviz.problems.datasets import prepare

        prepare(DataConfig("csv", csv="a,huge,y\n" + rows, target="y"))


@pytest.mark.parametrize("text", ["", "\n\n", "a,b\n", "\ufeff"])
def test_empty_csv_text_is_a_config_error(text):
    with pytest.raises(ConfigError):
        csv_data(text)


def test_an_empty_upload_says_so(monkeypatch):
    from types import SimpleNamespace

    from optviz.ui.kinds import training as page

    class Upload:
        name = "empty.csv"

        def getvalue(self):
            return b"  \n"

    state = {"d.upload": Upload()}
    monkeypatch.setattr(page, "st", SimpleNamespace(session_state=state))
    page._on_upload(lambda key: f"d.{key}")
    assert "empty.csv is empty" in state["d.csv_error"] and state["d.csv"] == ""


# -- imports by dotted path ---------------------------------------------------------------


def test_a_module_is_not_imported_to_learn_it_is_no_optimizer(tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    (tmp_path / "sideeffect.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("this", None)
    for name in ("sideeffect.X", "this.X"):
        with pytest.raises(ConfigError, match="not imported"):
            generic.load.__wrapped__(name)
    assert not marker.exists() and "this" not in sys.modules
    with pytest.raises(ConfigError, match="not allowed"):
        generic.load.__wrapped__("sideeffect.X", ("torch.optim",))
    with pytest.raises(ConfigError, match="no such module"):
        generic.load.__wrapped__("no_such_module_here.X")


def test_the_web_allow_list_still_admits_torch_optim_by_path():
    assert generic.load.__wrapped__("torch.optim.Adam", ("torch.optim",)).name == "torch.optim.Adam"


# -- the work bound -----------------------------------------------------------------------


def test_lbfgs_counts_its_evaluations():
    exp = Experiment(SurfaceProblem("rosenbrock"), (RunConfig("LBFGS"),) * 12, 20_000)
    with pytest.raises(ConfigError, match="evaluations|OPTVIZ_MAX_SECONDS"):
        check(exp)
    exp = Experiment(SurfaceProblem("rosenbrock"), (RunConfig("LBFGS", {"max_iter": 500}),), 10)
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_EVALS"):
        check(exp)


def test_the_lbfgs_basin_map_of_the_issue_is_refused():
    from optviz import sweeps

    problem = SurfaceProblem("himmelblau")
    run = RunConfig("LBFGS", {"max_iter": 20})
    with pytest.raises(ConfigError, match="OPTVIZ_MAX_"):
        sweeps.basin_map(problem, [run], 5000, nx=200)


# -- divergence on datasets ---------------------------------------------------------------


@pytest.mark.slow
def test_a_model_whose_loss_explodes_is_flagged_as_diverged():
    task = Task(DataConfig("moons", {"n_samples": 80}), model_params={"hidden": "4"}, epochs=3, batch_size=20)
    exp = Experiment(task, (RunConfig("SGD", {"lr": 0.1}), RunConfig("SGD", {"lr": 1e6})))
    result = compute(exp).result
    assert result.diverged_at[0] < 0 and result.diverged_at[1] >= 0
    assert math.isfinite(result.final_loss[0]) and math.isnan(result.final_loss[1])


# -- CSV formula injection ----------------------------------------------------------------

INJECTIONS = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "x\n=1", " =1"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["surface", "train"])
def test_downloads_escape_formula_labels(kind):
    if kind == "surface":
        exp = Experiment(SurfaceProblem("rosenbrock"), tuple(RunConfig("SGD", label=t) for t in INJECTIONS), 3)
    else:
        task = Task(DataConfig("moons", {"n_samples": 60}), model_params={"hidden": "2"}, epochs=1, batch_size=30)
        exp = Experiment(task, tuple(RunConfig("SGD", label=t) for t in INJECTIONS[:2]))
    text = export.to_csv(compute(exp))
    import csv as csvlib
    import io

    rows = list(csvlib.DictReader(io.StringIO(text, newline="")))
    assert len({row["run"] for row in rows}) == len(exp.runs)  # a line break in a label made no new row
    for label in {row["label"] for row in rows}:
        assert label.startswith("'") or label.lstrip()[:1] not in "=+-@\t", label


# -- share links: decoded -----------------------------------------------------------------

LINK_CASES = {
    "steps 1e9": ({"steps": "1000000000"}, "using 20,000"),
    "steps 20001": ({"steps": "20001"}, "using 20,000"),
    "steps 1e29": ({"steps": "1e29"}, "using 20,000"),
    "seed -1": ({"seed": "-1"}, "using 0"),
    "seed 2**40": ({"seed": str(2**40)}, "using 0"),
    "batch 5000": ({"dataset": "moons", "batch": "5000"}, "4,096"),
    "epochs 10**6": ({"dataset": "moons", "epochs": "1000000"}, "10,000"),
    "data seed 2**32": ({"dataset": "moons", "dseed": str(2**32)}, str(MAX_SEED)),
    "SparseAdam": ({"run": "torch.optim.SparseAdam;lr=0.01"}, "not allowed|dense"),
    "LBFGS max_iter beyond the limit": ({"run": "LBFGS;max_iter=100000"}, ""),
}


@pytest.mark.parametrize("case", LINK_CASES)
def test_links_decode_with_a_warning_naming_what_is_used(case):
    params, pattern = LINK_CASES[case]
    exp, _, warnings = codec.decode(params, presets.DEFAULTS["surface"], allowed=("torch.optim",))
    if case.startswith("LBFGS"):
        with pytest.raises(ConfigError, match="OPTVIZ_MAX_EVALS"):
            check(exp)
        return
    assert warnings and any(re.search(pattern, w) for w in warnings), warnings


def test_sweep_links_agree_with_the_widgets():
    _, settings_, warnings = codec.decode_sweep({"mode": "basin", "grid": "1"})
    assert settings_.grid == codec.SWEEP_DEFAULTS["basin"].grid and "using 80" in warnings[0]
    _, settings_, warnings = codec.decode_sweep({"mode": "lr", "lrs": "1e-5,1,1"})
    assert settings_.num == codec.SWEEP_DEFAULTS["lr"].num and warnings


# -- share links: opened on the pages -----------------------------------------------------


def _page_app(page: str, query: dict | None = None, clear_warm_up: bool = False) -> AppTest:
    if clear_warm_up:
        from optviz.ui.app import _warm_up

        _warm_up.clear()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if page == "surfaces":  # the default page
        at.query_params = dict(query or {})
        return at.run()
    at.run()
    at._page_hash = next(h for h, info in at._registered_pages.items() if info.get("url_pathname") == page)
    at.query_params = dict(query or {})
    return at.run()


def _texts(at: AppTest, kind: str = "markdown") -> list[str]:
    """Every text the app renders as Markdown (messages, captions, labels, expander titles), or
    with ``kind="html"`` every piece of HTML it shows (a run table)."""
    out = []

    def walk(node):
        for child in getattr(node, "children", {}).values():
            walk(child)
        proto = getattr(node, "proto", None)
        if (getattr(node, "type", "") == "html") != (kind == "html"):
            return
        if proto is not None and getattr(node, "type", "") not in ("plotly_chart", "text_input", "text_area"):
            for field in ("body", "label", "help", "options"):
                value = getattr(proto, field, None)
                if value:
                    out.extend([value] if isinstance(value, str) else [str(v) for v in value])

    walk(at._tree)
    return out


PAGE_LINKS = [
    ("surfaces", {"steps": "1000000000"}, "OPTVIZ_MAX_STEPS"),
    ("surfaces", {"steps": "1e29"}, "20,000"),
    ("surfaces", {"seed": "-1"}, "using 0"),
    ("datasets", {"dataset": "moons", "batch": "5000"}, "4,096"),
    ("sweeps", {"mode": "basin", "grid": "1"}, "using 80"),
    ("sweeps", {"mode": "fractal", "num": "lots", "steps": "30"}, "using 128"),
    ("online", {"online": "cyclic", "op": "period:1", "steps": "300"}, "period"),
]


@pytest.mark.parametrize(("page", "query", "needle"), PAGE_LINKS)
def test_pages_open_hostile_links_with_a_warning(page, query, needle):
    at = _page_app(page, query)
    assert not at.exception, [e.value for e in at.exception]
    assert any(needle in w.value.replace("\\", "") for w in at.warning), [w.value for w in at.warning]


EVIL = ["![t](https://evil.example/t.png)", "[x](https://evil.example)", "# heading", "<a href='https://evil.example'>"]


@pytest.mark.parametrize("page", ["surfaces", "datasets"])
def test_link_text_is_shown_as_plain_text(page):
    query = (
        {"run": [f"SGD;lr=0.01;label={quote(t, safe='')}" for t in EVIL], "surface": EVIL[0]}
        if page == "surfaces"
        else {"dataset": EVIL[0], "run": [f"Adam;label={quote(t, safe='')}" for t in EVIL]}
    )
    at = _page_app(page, query)
    at.session_state[{"surfaces": "s.", "datasets": "d."}[page] + "rules"] = True  # the rules name each run too
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    texts = _texts(at)
    assert any(": with $" in t and "evil.example" in t for t in texts)  # a rule's "label: with …"
    for text in texts:  # escaped (\[, \<) is shown literally
        assert not re.search(r"(?<!\\)\]\(|(?<!\\)<a |(?<!\\)# heading", text), text
    tables = _texts(at, "html")  # HTML, where Markdown is plain text and a tag's < is &lt;
    assert any("&lt;a href=" in t and "[x](https://evil.example)" in t for t in tables), tables
    assert not any(re.search(r"<(a|img)\b", t) for t in tables), tables


# -- the operator's limits, on every page -------------------------------------------------

LIMIT_CASES = [
    ("surfaces", None, {"OPTVIZ_MAX_RUNS": "2"}, "OPTVIZ_MAX_RUNS"),
    ("surfaces", None, {"OPTVIZ_MAX_STEPS": "100"}, "OPTVIZ_MAX_STEPS"),
    ("surfaces", None, {"OPTVIZ_MAX_WORK": "100"}, "OPTVIZ_MAX_WORK"),
    ("surfaces", None, {"OPTVIZ_MAX_MEMORY": "0.01"}, "OPTVIZ_MAX_MEMORY"),
    ("datasets", None, {"OPTVIZ_MAX_RUNS": "2"}, "OPTVIZ_MAX_RUNS"),
    ("datasets", None, {"OPTVIZ_MAX_STEPS": "100"}, "OPTVIZ_MAX_STEPS"),
    ("datasets", None, {"OPTVIZ_MAX_TRAIN_WORK": "1000"}, "OPTVIZ_MAX_TRAIN_WORK"),
    ("sweeps", {"mode": "lr"}, {"OPTVIZ_MAX_RUNS": "10"}, "OPTVIZ_MAX_RUNS"),
    ("sweeps", {"mode": "basin"}, {"OPTVIZ_MAX_WORK": "1000"}, "OPTVIZ_MAX_WORK"),
    ("sweeps", {"mode": "basin"}, {"OPTVIZ_MAX_GRID": "10"}, "OPTVIZ_MAX_GRID"),
    ("sweeps", {"mode": "heatmap"}, {"OPTVIZ_MAX_STEPS": "10"}, "OPTVIZ_MAX_STEPS"),
    ("sweeps", {"mode": "heatmap"}, {"OPTVIZ_MAX_GRID": "10"}, "OPTVIZ_MAX_GRID"),
    ("sweeps", {"mode": "fractal"}, {"OPTVIZ_MAX_WORK": "1000"}, "OPTVIZ_MAX_WORK"),
    ("online", None, {"OPTVIZ_MAX_STEPS": "100"}, "OPTVIZ_MAX_STEPS"),
]


@pytest.mark.slow  # an app start per case: CI runs them, the inner loop leaves them out
@pytest.mark.parametrize(("page", "query", "env", "needle"), LIMIT_CASES)
def test_a_limit_breach_names_its_variable_never_an_exception(monkeypatch, page, query, env, needle):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = _page_app(page, query, clear_warm_up=True)
    assert not at.exception, [e.value for e in at.exception]
    shown = [e.value for e in at.error] + [w.value for w in at.warning]
    assert any(needle in m.replace("\\", "") for m in shown), shown


BAD_SETTINGS = [
    {"OPTVIZ_MAX_RUNS": "3"},
    {"OPTVIZ_MAX_STEPS": "1"},
    {"OPTVIZ_DEVICE": "cuda:7"},
    {"OPTVIZ_DEVICE": "tpu"},
    {"OPTVIZ_MAX_STEPS": "lots"},
    {"OPTVIZ_MAX_GRID": "1"},
    {"OPTVIZ_MAX_MEMORY": "-5"},
]


@pytest.mark.slow  # an app start per case: CI runs them, the inner loop leaves them out
@pytest.mark.parametrize("env", BAD_SETTINGS, ids=lambda e: "-".join(f"{k}={v}" for k, v in e.items()))
def test_bad_settings_are_reported_at_start_up_and_pages_still_open(monkeypatch, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    at = _page_app("surfaces", clear_warm_up=True)
    assert not at.exception, [e.value for e in at.exception]
    name = next(iter(env))
    assert any("Server setting" in c.value and name in c.value.replace("\\", "") for c in at.caption)


def test_settings_are_read_once_each_way(monkeypatch):
    monkeypatch.setenv("OPTVIZ_MAX_STEPS", "1e3")
    monkeypatch.setenv("OPTVIZ_MAX_WORK", "2_000_000")
    monkeypatch.setenv("OPTVIZ_MAX_MEMORY", "500")
    monkeypatch.setenv("OPTVIZ_DEVICE", "CPU")
    lim = config.limits()
    assert (lim.max_steps, lim.max_work, lim.max_memory, lim.device) == (1000, 2_000_000, 5e8, "cpu")
    assert config.notices() == ()
    monkeypatch.setenv("OPTVIZ_MAX_STEPS", "1.5")
    assert config.limits().max_steps == Limits().max_steps
    assert any("OPTVIZ_MAX_STEPS='1.5'" in n for n in config.notices())


def test_the_warm_up_survives_any_limits(monkeypatch):
    """The page's once-per-server check, and the server's warm-up (serve.py), which also
    computes each page's default into the shared cache: a server set to any limits starts."""
    from optviz.ui.app import _warm_up
    from optviz.ui.warm import warm_up

    for env in (
        {"OPTVIZ_MAX_RUNS": "1"},
        {"OPTVIZ_MAX_STEPS": "1"},
        {"OPTVIZ_MAX_WORK": "1"},
        {"OPTVIZ_DEVICE": "cuda"},
        {"OPTVIZ_MAX_SECONDS": "1e-9"},
    ):
        with monkeypatch.context() as m:
            for name, value in env.items():
                m.setenv(name, value)
            _warm_up.clear()
            _warm_up()
            warm_up()


# -- fuzzing ------------------------------------------------------------------------------

HOSTILE_NUMBERS = [
    "0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "1e30",
    "nan",
    "inf",
    "-inf",
    "1e-320",
    str(2**64),
    str(-(2**63)),
    "9" * 400,
    "0x10",
    "1_0",
    "",
    " ",
    "1e3",
    "2.5",
    "True",
    "None",
]
NAMES = ["SGD", "Adam", "LBFGS", "torch.optim.SparseAdam", "this.X", "os.path.X", "", "..", "Rprop", "AdamW"]
FLAGS = {
    "--lr": HOSTILE_NUMBERS,
    "--steps": HOSTILE_NUMBERS,
    "--seed": HOSTILE_NUMBERS,
    "--noise": HOSTILE_NUMBERS,
    "--optimizer": NAMES,
    "--device": ["cpu", "meta", "mps", "cuda", "xla", "", "cpu:1"],
    "--dtype": ["float32", "float64", "float16", ""],
    "--surface": ["rosenbrock", "nope", "", "../../etc"],
    "--schedule": ["StepLR", "ExponentialLR", "OneCycleLR", "MultiStepLR", "nope", "ReduceLROnPlateau"],
    "--schedule-set": [
        f"{k}={v}"
        for k in ("step_size", "gamma", "milestones", "max_lr", "total_steps")
        for v in ("1e30", "1e308", "-1", "0", "2")
    ],
    "--set": [
        f"{k}={v}"
        for k in ("momentum", "weight_decay", "max_iter", "max_eval", "betas", "history_size")
        for v in ("1e308", "-1", "0", "1000000", "0.9,0.99", "nan")
    ],
    "--start": ["1e308 1e308", "nan 0", "0 0"],
    "--format": ["json", "csv", "xml"],
}
FUZZ_ENV = {"OPTVIZ_MAX_STEPS": "30", "OPTVIZ_MAX_RUNS": "20", "OPTVIZ_MAX_WORK": "3000", "OPTVIZ_MAX_EVALS": "30"}
FUZZ_SETTINGS = dict(max_examples=200, deadline=10_000, suppress_health_check=list(HealthCheck), derandomize=True)


@pytest.fixture
def fuzz_limits(monkeypatch):
    for name, value in FUZZ_ENV.items():
        monkeypatch.setenv(name, value)


@st.composite
def cli_args(draw):
    args = ["run"]
    for flag in draw(st.lists(st.sampled_from(sorted(FLAGS)), max_size=5, unique=True)):
        args += [flag, *draw(st.sampled_from(FLAGS[flag])).split(" ")]
    if "--steps" not in args:
        args += ["--steps", "3"]
    return args


@settings(**FUZZ_SETTINGS)
@given(args=cli_args())
def test_fuzz_cli(fuzz_limits, capsys, args):
    try:
        code = main(args)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code
    _, err = capsys.readouterr()
    assert code in (0, 2), (args, err)
    assert "Traceback" not in err
    if code == 2:
        assert len(err.strip().splitlines()) == 1, (args, err)


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12),
    st.sampled_from(NAMES + ["surface", "formula", "train", "rosenbrock", "moons", "float64"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "optimizer",
                    "hparams",
                    "lr",
                    "steps",
                    "kind",
                    "surface",
                    "schedule",
                    "schedule_args",
                    "seed",
                    "noise",
                    "start",
                    "label",
                    "formula",
                    "data",
                    "dataset",
                    "epochs",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@st.composite
def configs(draw):
    base = {
        "problem": draw(
            st.sampled_from([{"kind": "surface", "surface": "rosenbrock"}, {"kind": "formula", "formula": "x^2 + y^2"}])
        )
    }
    runs = draw(
        st.lists(
            st.one_of(
                st.sampled_from(NAMES),
                st.fixed_dictionaries(
                    {"optimizer": st.sampled_from(NAMES)},
                    optional={
                        "hparams": JSON_VALUES,
                        "seed": JSON_LEAVES,
                        "schedule": st.sampled_from(FLAGS["--schedule"]),
                        "schedule_args": JSON_VALUES,
                        "noise": JSON_LEAVES,
                    },
                ),
            ),
            max_size=3,
        )
    )
    data = {**base, "runs": runs, "steps": draw(st.one_of(st.integers(-3, 40), JSON_LEAVES))}
    for key, value in draw(
        st.dictionaries(st.sampled_from(["problem", "dtype", "version", "task"]), JSON_VALUES, max_size=1)
    ).items():
        data[key] = value
    return data


@settings(**FUZZ_SETTINGS)
@given(data=configs())
def test_fuzz_config(fuzz_limits, data):
    try:
        exp = from_json(json.dumps(data, allow_nan=True))
        if exp.runs and not isinstance(exp.problem, Task):
            compute(exp)
    except ConfigError:
        pass


LINK_KEYS = [
    "steps",
    "seed",
    "noise",
    "start",
    "dtype",
    "view",
    "tol",
    "surface",
    "formula",
    "run",
    "dataset",
    "batch",
    "epochs",
    "dseed",
    "mode",
    "grid",
    "lrs",
    "x",
    "y",
    "opt",
    "color",
    "test",
]
LINK_VALUES = st.one_of(
    st.sampled_from(HOSTILE_NUMBERS + NAMES + EVIL),
    st.text(max_size=20),
    st.sampled_from(
        [
            "SGD;lr=1e308",
            "LBFGS;max_iter=1e9",
            "Adam;label=%3D1",
            "lr:0:1e308:1e9:log",
            "1e-5,1,1e9",
            "torch.optim.SparseAdam;lr=0.01",
            "SGD;betas=1,2,3",
        ]
    ),
)


@settings(**{**FUZZ_SETTINGS, "max_examples": 150})
@given(
    params=st.dictionaries(
        st.sampled_from(LINK_KEYS), st.one_of(LINK_VALUES, st.lists(LINK_VALUES, max_size=3)), max_size=5
    )
)
def test_fuzz_links(fuzz_limits, params):
    for kind in ("surface", "train"):
        codec.decode(params, replace(presets.DEFAULTS[kind]))
    codec.decode_sweep(params)
