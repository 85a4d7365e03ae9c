# syntax=docker/dockerfile:1
#
# optviz: one container serving the Streamlit app on port 8501.
#
#   docker build -t optviz .                       # torch as pinned in requirements.txt
#   docker build -t optviz --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu .
#                                                  # small CPU-only torch (recommended without a GPU)
#   docker build -t optviz --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 .
#                                                  # CUDA torch for an NVIDIA host (run with --gpus all)
#   docker run --rm -p 8501:8501 optviz
#
# BASE can be swapped for a mirror of python:3.11-slim (or any Debian-like image with
# python3 + venv); the test suite builds on a locally made stand-in this way.
ARG BASE=python:3.11-slim
FROM ${BASE}

# Empty: install torch exactly as requirements.txt pins it, from the normal index.
# Set: install that torch pin from this index first (CPU or CUDA builds from PyTorch).
ARG TORCH_INDEX_URL=
# Optional pip settings for builds behind a mirror or with a local wheel folder
# (undeclared values stay unset, so pip's defaults apply).
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /app

COPY requirements.txt ./
SHELL ["/bin/sh", "-eu", "-c"]
RUN python3 -m venv "$VIRTUAL_ENV" \
 && if [ -n "$TORCH_INDEX_URL" ]; then \
        pip install --no-cache-dir --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch[=<>~!]' requirements.txt)"; \
    fi \
 && pip install --no-cache-dir -r requirements.txt \
 && python -c "import torch, streamlit; print('torch', torch.__version__, '| streamlit', streamlit.__version__)"

# The app runs as an unprivileged user; the code and the venv stay root-owned (read-only to it).
RUN useradd --create-home --home-dir /home/optviz --uid 10001 --user-group --shell /usr/sbin/nologin optviz

COPY --chown=root:root . .

# Same settings as .streamlit/config.toml, pinned here so a mounted config cannot turn them off by
# accident; the port and address can be changed at run time (-e STREAMLIT_SERVER_PORT=...).
ENV STREAMLIT_SERVER_PORT=8501 \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION=true \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none \
    STREAMLIT_SERVER_RUN_ON_SAVE=false \
    STREAMLIT_RUNNER_POST_SCRIPT_GC=false \
    STREAMLIT_CLIENT_TOOLBAR_MODE=viewer \
    STREAMLIT_CLIENT_SHOW_ERROR_DETAILS=type \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

USER 10001:10001
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('STREAMLIT_SERVER_PORT', '8501'); body = urllib.request.urlopen(f'http://127.0.0.1:{port}/_stcore/health', timeout=4).read(); sys.exit(0 if body.strip() == b'ok' else 1)"]

CMD ["streamlit", "run", "serve.py"]
