"""What the server pays once, when it starts (``serve.py``), not while a student waits.

Imports (torch, scikit-learn, the app's modules), torch's first kernels and first
autograd call, the first ``torch.optim`` and ``lr_scheduler`` constructors (which pull in
``torch._dynamo``), a model's first batched forward pass, and the first figure. It runs
under no operator limits of its own: a server set to tiny limits must still start.
Then each page's default results go into the cache every session shares, as a page
computes them: the first student's page comes from the cache, as every later one's.
"""

from __future__ import annotations

import torch

from .. import charts, config, engine
from ..experiment import compute
from ..params import ConfigError
from ..presets import DEFAULTS
from . import plot


def warm_up() -> None:
    # One intra-op thread: a page's tensors are tiny, and with several students'
    # sessions in parallel, threads inside each op only contend for the cores.
    torch.set_num_threads(1)
    from . import app  # noqa: F401  (every page's module, and Streamlit's)

    for exp in DEFAULTS.values():
        short = exp.replace(steps=2)
        outcome = compute(short, limits=config.NO_LIMITS)
        engine.resolve(short.problem.build(), short.runs[0], 2)  # torch's own constructors, once
        if short.problem.kind == "surface":
            fig = charts.race_figure(short.problem, outcome.result.arrays, charts.styles(["a"] * len(short.runs)))
            plot.frames_json(fig._frames)  # what the page's chart is sent (plot.chart), and
            fig.to_dict()  # the whole figure, frames and all, as exports and st.plotly_chart get it
    from .explore import PAGES
    from .explore import compute as page_results

    for page in PAGES:
        try:
            page_results(page.default, on_progress=lambda progress: None)
        except ConfigError as exc:  # beyond the operator's limits: the page says so to whoever opens it
            config.log.info("the %s page's default is not computed at start: %s", page.url_path, exc)
