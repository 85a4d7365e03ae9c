"""The shared widgets: how number fields step when a teacher clicks + and -, and the run table."""

from __future__ import annotations

import re

import pytest

from optviz.optim import get
from optviz.ui.widgets import _step

SGD = {h.name: h for h in get("SGD").hparams}


@pytest.mark.parametrize("lr", [10.0, 1.0, 0.3, 0.1, 0.02, 0.01, 1e-3, 1.5e-5])
def test_lr_steps_by_its_decade_and_never_reaches_zero(lr):
    step = _step(SGD["lr"], lr)
    assert 0 < lr - step < lr < lr + step <= 10 * lr
    down = lr
    for _ in range(40):  # forty clicks on -
        down -= _step(SGD["lr"], down)
        assert down > 0


def test_ranged_values_step_by_a_round_hundredth():
    assert _step(SGD["momentum"], 0.9) == 0.01  # not 0.00999
    assert _step(SGD["weight_decay"], 0.0) == 0.01
    assert _step(SGD["lr"], None) is None  # an empty field: Streamlit's own step


def test_a_table_shows_each_cell_as_written_and_aligns_columns_of_numbers():
    import pandas as pd

    from optviz.ui.widgets import table_html

    frame = pd.DataFrame({"run": ["<img src=x onerror=alert(1)>", "**bold** [a](b)"],
                          "final loss": ["2.285", "—"], "steps": ["1,200", "3e-05"], "settings": ["lr=0.1", "lr=1"]})
    html = table_html(frame)
    ranges = table_html([{"quartiles": "5.913e-06 – 6.838e-05", "diverged": "3 of 64"}, {"quartiles": "—",
                                                                                      "diverged": "0 of 64"}])
    assert ranges.count('<td class="num">') == 4  # rows of dicts too; a range and a count align as numbers
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html.replace("<wbr>", "")  # never markup
    assert "**bold** [a](b)" in html  # no Markdown either
    assert html.count('<td class="num">') == 4 and '<th class="num">final loss</th>' in html
    assert "<td>lr=<wbr>0.1</td>" in html and "<th>run</th>" in html  # a setting may break after its "="
    assert set(re.findall(r"<(\w+)", html)) == {"div", "table", "thead", "tbody", "tr", "th", "td", "wbr", "span"}
    # A range may break after its dash, a number never (each number is a span the page keeps whole).
    assert "<span>5.913e-06 –</span> <span>6.838e-05</span>" in ranges and "<span>3 of 64</span>" in ranges
