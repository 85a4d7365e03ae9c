"""The server: ``streamlit run serve.py`` serves ``app.py`` with two things a class needs.

* **Warm at start.** Importing torch, scikit-learn and the app, torch's first kernels and
  first autograd call, and the first ``torch.optim`` constructor (which imports
  ``torch._dynamo``) take seconds. They happen here, when the server starts, not while
  the first student waits. Then ``gc.freeze()`` moves those hundreds of thousands of
  long-lived objects out of the garbage collector's way, so a collection after each
  rerun no longer walks them.
* **No 404s.** On a page such as ``/datasets`` Streamlit's frontend first asks for
  ``/datasets/_stcore/health`` and ``.../host-config``; those are its own ``/_stcore/``
  routes, answered as such.
"""

from __future__ import annotations

import gc
import time
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware
from streamlit.logger import get_logger

log = get_logger("optviz")


@asynccontextmanager
async def warm_up(app):
    started = time.perf_counter()
    from optviz.ui.warm import warm_up as warm

    warm()
    gc.collect()
    gc.freeze()
    log.info("optviz: warm in %.1f s", time.perf_counter() - started)
    yield {}


class StcoreAlias:
    """ASGI middleware: a request for ``/<page>/_stcore/...`` is one for ``/_stcore/...``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            path = scope.get("path", "")
            i = path.find("/_stcore/")
            if i > 0:
                scope = dict(scope, path=path[i:], raw_path=path[i:].encode())
        await self.app(scope, receive, send)


app = st.App("app.py", lifespan=warm_up, middleware=[Middleware(StcoreAlias)])
