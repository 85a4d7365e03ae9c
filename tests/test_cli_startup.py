"""`python -m optviz` starts without torch._dynamo (about 2.5 s of a 7 s `run`), and its
results are the same as the library's, which leaves torch as it is; `list` imports no torch."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from optviz import cli

ROOT = Path(__file__).resolve().parent.parent
ARGS = ["run", "--optimizer", "SGD", "Adam", "--lr", "0.002", "0.05", "--set", "weight_decay=0.01",
        "--schedule", "OneCycleLR", "--schedule-set", "max_lr=0.1", "--steps", "30", "--format", "json"]  # fmt: skip

# Runs `python -m optviz ARGS` as a user does, then says whether torch._dynamo was imported.
AS_A_USER = """
import runpy, sys
sys.argv = ["optviz", *sys.argv[1:]]
try:
    runpy.run_module("optviz", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("torch imported:", "torch" in sys.modules, "dynamo imported:", "torch._dynamo" in sys.modules, "exit:", code,
      file=sys.stderr)
"""


def test_a_run_imports_no_dynamo_and_gives_the_librarys_results():
    res = subprocess.run([sys.executable, "-c", AS_A_USER, *ARGS], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)  # fmt: skip
    assert "dynamo imported: False exit: 0" in res.stderr, res.stderr
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(ARGS) == 0
    mine, library = json.loads(res.stdout), json.loads(out.getvalue())
    for out in (mine, library):  # all but the times
        out.pop("wall_time")
        for run in out["runs"]:
            run.pop("run_time")
    assert mine == library


def test_torch_still_refuses_a_bad_hyperparameter_in_its_own_words():
    res = subprocess.run([sys.executable, "-m", "optviz", "run", "--optimizer", "Adam", "--set", "betas=1.5,0.9"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert res.returncode == 2 and "Invalid beta parameter at index 0" in res.stderr, res.stderr


@pytest.mark.parametrize("what", cli.LISTS)
def test_list_shows_the_live_registry(what):
    # `list` reads registry.json so that it needs no torch; this holds the file to the code.
    live = json.loads(json.dumps(cli.registry(what)))
    assert cli.listed(what) == live, (
        f"optviz/registry.json is out of date for {what}: refresh it with "
        '.venv/bin/python -c "from optviz import cli; cli.write_registry()"'
    )


def test_list_imports_no_torch():
    res = subprocess.run([sys.executable, "-c", AS_A_USER, "list", "optimizers"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, check=False)  # fmt: skip
    assert "torch imported: False dynamo imported: False exit: 0" in res.stderr, res.stderr
    assert "Adam " in res.stdout


def test_import_optviz_is_light_and_runs_nothing():
    probe = ("import sys, optviz; assert 'torch' not in sys.modules; assert not hasattr(optviz, '__main__'); "
             "assert optviz.engine.run and optviz.SURFACES; print('ok')")
    res = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         check=False)  # fmt: skip
    assert res.stdout.strip() == "ok", res.stderr
