"""Every example in the README runs as written.

The command-line examples run through ``python -m optviz`` with this interpreter (what
``python3 tasks.py cli`` does with .venv's), from the checkout, and must exit 0 with
output; the Python API example runs as a script. A README that drifts from the code fails
here, not in front of a new user.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def cli_examples() -> list[str]:
    """Each ``python3 tasks.py cli ...`` line of the README (continuations joined)."""
    out = []
    for block in _blocks(""):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("python3 tasks.py cli "):
                out.append(line)
    return out


EXAMPLES = cli_examples()


def test_the_readme_has_cli_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.slow
@pytest.mark.parametrize("line", EXAMPLES, ids=[f"cli{i}" for i in range(len(EXAMPLES))])
def test_cli_example_runs_as_written(line, tmp_path):
    argv = shlex.split(line)[3:]  # after "python3 tasks.py cli"
    if "--out" in argv:  # the file it names goes to a scratch folder, not the checkout
        i = argv.index("--out") + 1
        argv[i] = str(tmp_path / argv[i])
    res = subprocess.run([sys.executable, "-m", "optviz", *argv], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() or "--out" in argv


@pytest.mark.slow
def test_python_api_example_runs_as_written(tmp_path):
    (code,) = [b for b in _blocks("python") if "optviz.run(" in b]
    script = tmp_path / "example.py"
    # fig.show() would open a browser: the figure is built, not shown.
    script.write_text(code.replace("fig.show()", "fig.to_dict()"))
    res = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
