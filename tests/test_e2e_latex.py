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
        browser.open_update_rules(page)
        shot = browser.screenshot(page, "latex-" + (path.split("?")[0] or "surfaces"))
        assert page.locator(".katex").count() > 0, f"no formula rendered; see {shot}"
        assert page.locator('[data-testid="stException"]').count() == 0, f"see {shot}"
        assert not page.console.errors, page.console.errors


@pytest.mark.parametrize("half", [0, 1])
def test_every_update_rule_fits_a_phone(app_server, chromium, half):
    """At 390 px each rule is drawn in smaller type with its side-by-side parts on rows of their
    own, and each run's values wrap as a line of text: none runs off the screen (they were cut).
    Half the optimizers a page (a link holds 12 runs), on a model of one matrix: Muon takes no bias."""
    from optviz.optim import OPTIMIZERS

    names = list(OPTIMIZERS)[half::2]
    runs = "&".join(f"run={name}" for name in names)
    model = "dataset=moons&model=logistic&mp=bias:false&loss=bce"
    with browser.sized_page(chromium, 390, 844) as page:
        browser.open_app(page, f"{app_server.url}/datasets?{model}&{runs}", timeout_s=120)
        browser.settle(page, 60)
        rules = browser.open_update_rules(page)
        drawn = rules.locator(".katex-display").count()
        named = set(rules.locator("strong").all_text_contents())
        # What is drawn (not KaTeX's hidden MathML) ends inside the box and the screen.
        overflowing = rules.evaluate("""box => { const right = Math.min(box.getBoundingClientRect().right, innerWidth);
            return [...box.querySelectorAll('.katex-html')].filter(e => e.getBoundingClientRect().right > right + 1)
              .map(e => e.textContent.slice(0, 60)); }""")
        shot = browser.screenshot(page, f"latex-phone-rules-{half}")
        assert named >= set(names), f"see {shot}"
        assert drawn == len([name for name in names if OPTIMIZERS[name].rule]), f"see {shot}"
        assert not overflowing, f"wider than the screen: {overflowing}; see {shot}"
        assert not page.console.errors, page.console.errors
