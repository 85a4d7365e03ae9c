"""Every formula the app shows renders in KaTeX without a warning: the update rules with
each run's values, a loss's formula (binary cross-entropy was clipped once), and the
update card with the recorded numbers. ``ConsoleLog`` counts KaTeX's warnings as errors."""

from __future__ import annotations

import pytest

from tests import browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = [
    # Every optimizer family's rule, with values, and the inside card.
    "?surface=rosenbrock&inside=1&run=SGD;lr=0.001;momentum=0.9&run=Adam;lr=0.02&run=RAdam;lr=0.01"
    "&run=Adagrad;lr=0.1&run=LBFGS;lr=1&run=Rprop;lr=0.01",
    "datasets?dataset=moons&model=logistic&loss=bce&run=SGD;lr=0.1&run=NAdam;lr=0.01",
    "datasets?dataset=moons&model=mlp&loss=cross_entropy&run=AdamW;lr=0.01&run=Adamax;lr=0.01",
]


@pytest.mark.parametrize("path", PAGES, ids=["surfaces", "bce", "cross-entropy"])
def test_formulas_render_without_katex_warnings(app_server, chromium, path):
    with browser.sized_page(chromium, 1024, 768) as page:
        browser.open_app(page, f"{app_server.url}/{path}", timeout_s=120)
        browser.settle(page, 60)
        rules = page.locator('[data-testid="stExpander"]', has_text="The update rules, with these settings")
        rules.locator("summary").click()
        # Opening the box reruns the panel, which only then draws the rules (explore.rules_ui).
        rules.locator(".katex").first.wait_for(timeout=60_000)
        browser.settle(page, 30)
        shot = browser.screenshot(page, "latex-" + (path.split("?")[0] or "surfaces"))
        assert page.locator(".katex").count() > 0, f"no formula rendered; see {shot}"
        assert page.locator('[data-testid="stException"]').count() == 0, f"see {shot}"
        assert not page.console.errors, page.console.errors
