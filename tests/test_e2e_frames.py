"""A race's animation frames, cut in the browser (``optviz.ui.plot.FRAMES_JS``), are the frames
Python cuts (``optviz.charts.race.PathFrames.frames``): number for number, in every case the
race draws (2-D and 3-D, float32 and float64, a diverged run, the inside view's arrows)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from optviz import charts
from optviz.charts import state as inside
from optviz.charts.common import to_json, typed_arrays
from optviz.engine import RunConfig, run
from optviz.problems import SurfaceProblem
from optviz.ui import plot
from optviz.ui.inside import RECORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROSENBROCK = SurfaceProblem("rosenbrock")
RUNS = [RunConfig("SGD", {"lr": 1e-3}), RunConfig("SGD", {"lr": 1e-3, "momentum": 0.9}),
        RunConfig("Adam", {"lr": 0.02}), RunConfig("SGD", {"lr": 0.01})]  # the last diverges
CODES = {"f4": np.float32, "f8": np.float64, "i4": np.int32, "u1": np.uint8}


def _race(case: str) -> charts.AnimatedFigure:
    if case == "arrows":
        res = run(ROSENBROCK.build(), RUNS[:2], steps=60, record=RECORD, dtype="float64")
        arrays = inside.as_torch_keeps(res.arrays, res.resolved)
        return charts.race_figure(ROSENBROCK, arrays, charts.styles(["a", "b"]), arrows=True)
    dtype, steps, view = case.split("-")
    res = run(ROSENBROCK.build(), RUNS, steps=int(steps), dtype=dtype)
    assert not np.isfinite(res.arrays["params"][:, 3]).all()  # a run frozen where it diverged
    return charts.race_figure(ROSENBROCK, res.arrays, charts.styles(list("abcd")), view=view)


def _plain(value):
    """Typed arrays as lists, NaN as None: how both sides compare."""
    if isinstance(value, dict) and set(value) >= {"dtype", "bdata"}:
        value = np.frombuffer(base64.b64decode(value["bdata"]), CODES[value["dtype"]]).tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return None if isinstance(value, float) and value != value else value


@pytest.mark.parametrize("case", ["float32-500-contour", "float64-500-3d", "float32-2000-contour", "float64-40-3d",
                                  "arrows"])
def test_frames_cut_in_the_browser_are_pythons(page, case):
    fig = _race(case)
    source = fig._frames.to_spec()
    typed_arrays(source)
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=plot.FRAMES_JS)
    cut = page.evaluate("""spec => JSON.stringify(pathFrames(JSON.parse(spec)),
                                                   (k, v) => ArrayBuffer.isView(v) ? Array.from(v) : v)""",
                        json.dumps(source))
    python = json.loads(to_json(fig))["frames"]
    assert len(python) == len(source["names"]) > 30
    assert _plain(json.loads(cut)) == _plain(python)
