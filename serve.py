"""The server: ``streamlit run serve.py`` serves ``app.py``, warm from the start.

Importing torch, scikit-learn and the app, torch's first kernels and first autograd
call, and the first ``torch.optim`` constructor (which imports ``torch._dynamo``) take
seconds. They happen here, when the server starts, not while the first student waits.
Then ``gc.freeze()`` moves those hundreds of thousands of long-lived objects out of the
garbage collector's way, so a collection after each rerun no longer walks them.

(On a page such as ``/datasets`` the browser logs two 404s: Streamlit's frontend probes
``/datasets/_stcore/health`` to find the app's base path. Answering them would make it take
``/datasets`` for the base path and open the first page, so they stay.)
"""

from __future__ import annotations

import gc
import time
from contextlib import asynccontextmanager

import streamlit as st
from streamlit.logger import get_logger

from optviz.ui import plot

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


# plotly.js for the charts that update in place (optviz/ui/plot.py), from the plotly package,
# named in the page's <head> so that the browser has it ready when the first chart mounts.
app = st.App("app.py", lifespan=warm_up, routes=plot.routes(), middleware=plot.middleware())
