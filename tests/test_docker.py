"""Build the project's Dockerfile and run the image's own command, without a Docker engine.

No registry can be reached here, so python:3.11-slim cannot be pulled. The test makes a
stand-in base image instead -- Debian bookworm from debootstrap with python3, venv and pip
(Python 3.11, like python:3.11-slim) -- caches it outside the repo (/var/tmp/optviz-base,
or OPTVIZ_BASE_CACHE), and builds the unchanged Dockerfile on it with
`buildah build --isolation chroot --build-arg BASE=...`. pip's local wheel folder (its
find-links setting, where the CPU torch wheel lies) is mounted into the build and passed
as PIP_FIND_LINKS.

The container is started with `buildah run` (podman run's OCI runtime cannot set rlimits
here), which shares the host's network: the test moves Streamlit to a free loopback port
with STREAMLIT_SERVER_PORT/ADDRESS and otherwise runs the image's ENTRYPOINT+CMD as is.

Needs root, buildah and debootstrap; skipped without them unless OPTVIZ_REQUIRE_DOCKER=1.
First run ~3 min (debootstrap + pip install in the build); cached runs take seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests import browser

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

ROOT = browser.ROOT
SUITE = "bookworm"  # python3 there is 3.11, as in python:3.11-slim
BASE_PACKAGES = ["python3", "python3-venv", "python3-pip", "ca-certificates", "python-is-python3"]
BASE_CACHE = Path(os.environ.get("OPTVIZ_BASE_CACHE", "/var/tmp/optviz-base"))
# One tag per checkout: sessions in sibling worktrees on one machine must not run each other's image.
IMAGE = f"localhost/optviz:test-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]}"
LOGS = browser.ARTIFACTS / "docker"


def sh(cmd: list[str], what: str, timeout: float, log: Path | None = None) -> str:
    """Run a command with a time bound; on failure, fail the test with the output's tail."""
    t0 = time.monotonic()
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what}: timed out after {timeout:.0f}s ({e.cmd[0]})", pytrace=False)
    out = res.stdout + res.stderr
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ {' '.join(cmd)}\n{out}")
    if res.returncode != 0:
        tail = "\n".join(out.strip().splitlines()[-40:])
        pytest.fail(f"{what} failed (exit {res.returncode}):\n{tail}", pytrace=False)
    note(f"{what}: {time.monotonic() - t0:.1f}s")
    return res.stdout


def note(line: str) -> None:
    """Progress for -s runs, and kept in artifacts/docker/timings.txt for CI logs."""
    print(f"[docker-test] {line}")
    LOGS.mkdir(parents=True, exist_ok=True)
    with open(LOGS / "timings.txt", "a") as f:
        f.write(f"{time.strftime('%H:%M:%S')} {line}\n")


# ---------------------------------------------------------------- what this machine offers


def pip_setting(key: str) -> str:
    """A pip setting as this machine's pip sees it (env or config files), e.g. 'cert', 'find-links'."""
    env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
    if env:
        return env
    res = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60)
    for line in res.stdout.splitlines():
        name, _, value = line.partition("=")
        if name.split(".", 1)[-1] == key:
            return value.strip().strip("'\"")
    return ""


def wheel_dir() -> Path | None:
    for entry in pip_setting("find-links").split():
        path = Path(entry.removeprefix("file://"))
        if path.is_dir():
            return path
    return None


def ca_bundle() -> Path | None:
    for candidate in (pip_setting("cert"), os.environ.get("SSL_CERT_FILE", ""), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (the stand-in base must come from what is reachable)."""
    if os.environ.get("OPTVIZ_DEBIAN_MIRROR"):
        return os.environ["OPTVIZ_DEBIAN_MIRROR"]
    texts = []
    for f in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            texts.append(f.read_text())
        except OSError:
            pass
    for text in texts:
        for m in re.finditer(r"^\s*(?:deb\s+(?:\[[^\]]*\]\s+)?|URIs:\s*)(\S+/debian)/?\s", text, re.M):
            return m.group(1)
    return "http://deb.debian.org/debian"


# ---------------------------------------------------------------- images


def base_image() -> str:
    """A stand-in for python:3.11-slim, made once and cached (tarball + local image)."""
    mirror, ca = debian_mirror(), ca_bundle()
    key_src = json.dumps([SUITE, BASE_PACKAGES, mirror, hashlib.sha256(ca.read_bytes()).hexdigest() if ca else None])
    key = hashlib.sha256(key_src.encode()).hexdigest()[:12]
    name = f"localhost/optviz-base:{key}"
    if subprocess.run(["buildah", "inspect", "--type", "image", name], capture_output=True).returncode == 0:
        note(f"base image {name}: cached")
        return name

    BASE_CACHE.mkdir(parents=True, exist_ok=True)
    tarball = BASE_CACHE / f"rootfs-{key}.tar"
    if not tarball.exists():
        rootfs = BASE_CACHE / f"rootfs-{key}.{os.getpid()}.tmp"  # private: concurrent runs may both build
        shutil.rmtree(rootfs, ignore_errors=True)
        sh(
            ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", SUITE, str(rootfs), mirror],
            f"debootstrap {SUITE} from {mirror}",
            timeout=900,
            log=LOGS / "debootstrap.log",
        )
        if ca is not None:  # the machine's CA bundle, so pip in the build trusts what this machine trusts
            shutil.copyfile(ca, rootfs / "etc/ssl/certs/ca-certificates.crt")
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for p in (rootfs / junk).glob("*"):
                if p.is_file():
                    p.unlink()
        part = tarball.with_suffix(f".{os.getpid()}.part")
        sh(["tar", "-C", str(rootfs), "-cf", str(part), "."], "pack stand-in rootfs", timeout=300)
        part.rename(tarball)
        shutil.rmtree(rootfs, ignore_errors=True)

    ctr = sh(["buildah", "from", "scratch"], "buildah from scratch", timeout=60).strip()
    try:
        sh(["buildah", "add", "--quiet", ctr, str(tarball), "/"], "import stand-in rootfs", timeout=300)
        sh(["buildah", "config", "--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--cmd", "python3", ctr], "configure base", timeout=60)  # fmt: skip
        sh(["buildah", "commit", "--quiet", ctr, name], f"commit {name}", timeout=300)
    finally:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, timeout=60)
    return name


def build_app_image(base: str) -> dict:
    cmd = [
        "buildah", "build", "--isolation", "chroot", "--format", "docker", "--layers",
        "--build-arg", f"BASE={base}", "-t", IMAGE, "-f", "Dockerfile",
    ]  # fmt: skip
    wheels = wheel_dir()
    if wheels is not None:
        cmd += ["--volume", f"{wheels}:/wheels:ro", "--build-arg", "PIP_FIND_LINKS=/wheels"]
    sh([*cmd, str(ROOT)], f"buildah build {IMAGE}", timeout=1500, log=LOGS / "build.log")
    info = json.loads(sh(["buildah", "inspect", "--type", "image", IMAGE], "inspect image", timeout=60))
    return info["Docker"]["config"]


@pytest.fixture(scope="module")
def image_config():
    if os.name != "posix" or os.geteuid() != 0:
        browser.skip_or_fail(
            "Docker tests need root (debootstrap, buildah --isolation chroot)", "OPTVIZ_REQUIRE_DOCKER"
        )
    missing = [t for t in ("buildah", "debootstrap", "tar") if shutil.which(t) is None]
    if missing:
        browser.skip_or_fail(
            f"Docker tests need {', '.join(missing)} (apt-get install buildah debootstrap)", "OPTVIZ_REQUIRE_DOCKER"
        )
    return build_app_image(base_image())


@pytest.fixture(scope="module")
def container(image_config):
    """The image's own ENTRYPOINT+CMD, running, with Streamlit moved to a free loopback port."""
    name = f"optviz-test-{uuid.uuid4().hex[:8]}"
    sh(["buildah", "from", "--name", name, IMAGE], "buildah from", timeout=120)
    port = browser.free_port()
    command = (image_config.get("Entrypoint") or []) + (image_config.get("Cmd") or [])
    assert command, "image has neither ENTRYPOINT nor CMD"
    run = [
        "buildah", "run", "--isolation", "chroot",
        "--env", f"STREAMLIT_SERVER_PORT={port}", "--env", "STREAMLIT_SERVER_ADDRESS=127.0.0.1",
        name, "--", *command,
    ]  # fmt: skip
    try:
        server = browser.start_server(run, port, log=LOGS / "container.log", timeout=120)
    except BaseException:
        subprocess.run(["buildah", "rm", name], capture_output=True, timeout=120)
        raise
    server.name = name
    yield server
    server.stop()
    subprocess.run(["buildah", "rm", name], capture_output=True, timeout=120)


def test_image_config(image_config):
    user = image_config.get("User") or "root"
    assert user.split(":")[0] not in ("", "root", "0"), f"image runs as {user!r}"
    assert "8501/tcp" in (image_config.get("ExposedPorts") or {})
    env = dict(e.split("=", 1) for e in image_config.get("Env") or [])
    assert env.get("STREAMLIT_SERVER_HEADLESS") == "true"
    assert env.get("STREAMLIT_BROWSER_GATHER_USAGE_STATS") == "false"
    assert env.get("STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION") == "true"
    assert (image_config.get("Healthcheck") or {}).get("Test"), "HEALTHCHECK missing (built with --format docker?)"


def test_health_endpoint(container):
    status, body = browser.http_get(f"{container.url}/_stcore/health")
    assert (status, body.strip()) == (200, b"ok")


def test_image_healthcheck_passes(container, image_config):
    """Run the image's own HEALTHCHECK command inside the running container's filesystem."""
    test = image_config["Healthcheck"]["Test"]
    assert test[0] in ("CMD", "CMD-SHELL"), test
    cmd = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
    port = container.url.rsplit(":", 1)[1]
    sh(
        [
            "buildah",
            "run",
            "--isolation",
            "chroot",
            "--env",
            f"STREAMLIT_SERVER_PORT={port}",
            container.name,
            "--",
            *cmd,
        ],
        "image HEALTHCHECK",
        timeout=60,
    )


def test_image_runs_unprivileged_and_imports_torch(container):
    out = sh(
        ["buildah", "run", "--isolation", "chroot", container.name, "--", "python", "-c",
         "import os, torch; print(os.getuid(), torch.__version__, torch.cuda.is_available())"],
        "check user and torch in the image",
        timeout=120,
    )  # fmt: skip
    uid, version, _cuda = out.split()
    assert uid != "0"
    note(f"torch in image: {version}")


@pytest.mark.browser
def test_page_renders_in_chromium(container, page):
    browser.assert_app_rendered(page, container.url, page.console, "docker-page")
