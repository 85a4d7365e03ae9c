"""What a server process tree costs, read from /proc (Linux only; no extra packages).

Shared by bench/load.py and bench/idle_cpu.py. A "tree" is the process and every
descendant alive at the moment of reading (`python3 tasks.py app` runs Streamlit as a
child, so the Streamlit process is what costs).
"""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    # The command name is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def tree(pid: int) -> list[int]:
    """pid and all its descendants (that are alive now)."""
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        try:
            todo += children(p)
        except OSError:
            pass
    return seen


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree, in seconds (children that exited are in cutime/cstime)."""
    ticks = 0
    for p in tree(pid):
        try:
            f = _stat_fields(p)
        except OSError:
            continue
        # After the ')' the fields start at stat(5)'s field 3: utime is 14, stime 15, cutime 16, cstime 17.
        ticks += sum(int(x) for x in f[11:15])
    return ticks / CLK_TCK


def rss_bytes(pid: int) -> int:
    """Resident memory of the process tree, in bytes."""
    total = 0
    for p in tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        except OSError:
            pass
    return total


def pss_bytes(pid: int) -> int:
    """Proportional set size of the process tree: shared pages (libtorch, ...) split between
    the processes that map them, so the PSS of several replicas adds up to what they use."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
        except OSError:
            pass
    return total


def threads(pid: int) -> int:
    return sum(int(_stat_fields(p)[17]) for p in tree(pid) if Path(f"/proc/{p}").exists())


def inotify_watches(pid: int) -> int:
    """How many inotify watches the process tree holds (lines 'inotify wd:' in fdinfo)."""
    n = 0
    for p in tree(pid):
        try:
            for fd in Path(f"/proc/{p}/fdinfo").iterdir():
                try:
                    n += fd.read_text().count("inotify wd:")
                except OSError:
                    pass
        except OSError:
            pass
    return n


def find_streamlit(pid: int) -> int:
    """The pid in the tree whose command line runs streamlit (pid itself if none does)."""
    for p in tree(pid):
        try:
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"streamlit") for part in cmd):
            return p
    return pid
