"""tasks.py: how `app` starts Streamlit, how `cli` runs the command line, and the settings
that .streamlit/config.toml, the Dockerfile and tasks.py must agree on.

The `cli` tests run tasks.py for real, with the .venv it manages; they are skipped when that
.venv is not installed as requirements.txt says (they would install it first).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import tasks

ROOT = Path(__file__).resolve().parent.parent


def app_command(monkeypatch, args: list[str]) -> list[str]:
    """The command `python3 tasks.py app ARGS` would run."""
    calls = []
    monkeypatch.setattr(tasks, "ensure_deps", lambda *a, **k: None)
    monkeypatch.setattr(tasks, "exec_in_venv", lambda cmd, **kw: calls.append(cmd) or 0)
    assert tasks.cmd_app(args) == 0
    return calls[0]


def test_app_runs_with_the_file_watcher_off(monkeypatch):
    cmd = app_command(monkeypatch, ["--server.port=8600"])
    assert cmd[cmd.index("serve.py") + 1 :] == [
        "--server.fileWatcherType=none",
        "--server.runOnSave=false",
        "--server.port=8600",  # the user's flags come last: Streamlit keeps a flag's last value
    ]


def test_app_dev_reloads_by_polling_not_by_watching_the_checkout(monkeypatch):
    cmd = app_command(monkeypatch, ["--server.port=8600", "--dev"])
    assert "--dev" not in cmd, "--dev is tasks.py's own flag, not Streamlit's"
    assert "--server.fileWatcherType=poll" in cmd and "--server.runOnSave=true" in cmd
    assert cmd[-1] == "--server.port=8600"


def dockerfile_env() -> dict[str, str]:
    return dict(re.findall(r"\b(STREAMLIT_[A-Z_]+)=(\S+)", (ROOT / "Dockerfile").read_text()))


@pytest.mark.parametrize(
    "option, value",
    [
        ("server.fileWatcherType", "none"),  # no inotify flood from .venv (an idle session cost a core)
        ("server.runOnSave", False),
        ("client.toolbarMode", "viewer"),  # no Deploy button, not even for the teacher on localhost
        ("client.showErrorDetails", "type"),  # no tracebacks with server paths in students' browsers
        ("runner.postScriptGC", False),  # a full gc.collect() after each run was half a rerun's CPU
    ],
)
def test_class_settings_agree_in_config_dockerfile_and_tasks(option, value):
    st_config = pytest.importorskip("streamlit.config")
    section, name = option.split(".")
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config[section][name] == value, f".streamlit/config.toml: {option}"
    env_var = st_config._config_options_template[option].env_var
    assert dockerfile_env().get(env_var) == str(value).lower(), f"Dockerfile: ENV {env_var}"
    if section == "server":
        assert f"--{option}={str(value).lower()}" in tasks.APP_FLAGS, f"tasks.APP_FLAGS: {option}"


def test_class_settings_are_values_this_streamlit_knows():
    st_config = pytest.importorskip("streamlit.config")
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] in {o.value for o in st_config.ShowErrorDetailsConfigOptions}
    toolbar = st_config._config_options_template["client.toolbarMode"].description
    assert f'"{config["client"]["toolbarMode"]}"' in toolbar
    watcher = st_config._config_options_template["server.fileWatcherType"].description
    for flag in tasks.APP_FLAGS + tasks.DEV_FLAGS:
        if flag.startswith("--server.fileWatcherType="):
            assert f'"{flag.split("=", 1)[1]}"' in watcher


def test_a_child_killed_by_a_signal_exits_as_a_shell_reports_it(monkeypatch):
    monkeypatch.setattr(tasks.signal, "signal", lambda *a: None)  # keep pytest's own SIGTERM handling
    code = tasks.exec_in_venv([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"])
    assert code == 128 + signal.SIGTERM


def venv_ready() -> bool:
    stamp = tasks.read_stamp()
    return (
        tasks.venv_python().exists()
        and stamp.get("python") == sys.version.split()[0]
        and stamp.get(tasks.RUNTIME_REQS) == tasks.requirements_digest(tasks.RUNTIME_REQS)
    )


needs_venv = pytest.mark.skipif(not venv_ready(), reason="tasks.py's .venv is not installed (python3 tasks.py setup)")


def tasks_py(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@needs_venv
def test_cli_stdout_is_the_cli_output_only(tmp_path):
    res = tasks_py("cli", "list", "schedules", "--format", "json", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    names = [s["name"] for s in json.loads(res.stdout)]  # no [tasks] lines mixed in
    assert "CosineAnnealingLR" in names


@needs_venv
def test_cli_passes_the_exit_code_and_one_line_errors_through(tmp_path):
    res = tasks_py("cli", "run", "--no-such-option", cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "optviz: error" in res.stderr


@needs_venv
def test_cli_resolves_paths_from_where_it_was_called(tmp_path):
    res = tasks_py(
        "cli", "run", "--surface", "rosenbrock", "--optimizer", "Adam", "--lr", "0.01", "--steps", "3",
        "--format", "csv", "--out", "runs.csv", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "runs.csv").read_text().startswith("run,")
