"""`python -m optviz ... | head` stops quietly: no BrokenPipeError traceback, exit status 0
(as tasks.py does). The handling belongs in optviz/__main__.py."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIST = [sys.executable, "-m", "optviz", "list", "schedules", "--format", "json"]


def test_piped_into_head():
    # What a user types. Whether the writer hits the closed pipe depends on timing (the JSON is
    # ~11 kB), so this can pass by luck; the next test cannot.
    res = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f"{shlex.join(LIST)} | head -1"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.stdout.strip() == "["
    assert "Traceback" not in res.stderr and "BrokenPipeError" not in res.stderr, res.stderr
    assert res.returncode == 0


def test_reader_gone_before_the_first_write():
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `head` that has already exited: every write fails with EPIPE
    try:
        res = subprocess.run(
            LIST, cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in res.stderr, res.stderr
    assert res.returncode == 0
