"""Step mode and the projector theme in a real browser at 1024×768 (a classroom projector):
the → key moves the step, and the projector theme's larger text overlaps nothing."""

from __future__ import annotations

import pytest

from tests import browser
from tests.test_e2e_layout import BOXES, _overlaps

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The inside view's step slider (Streamlit's, not Plotly's): the value its thumb shows.
STEP = """() => {
  const s = [...document.querySelectorAll('[data-testid="stSlider"]')]
    .find(el => (el.innerText || '').includes('Update number'));
  const v = s && s.querySelector('[data-testid="stSliderThumbValue"]');
  return v ? Number(v.innerText) : null;
}"""


def _idle(page) -> None:
    page.wait_for_function(
        """() => document.querySelector('[data-testid="stApp"]')
                 ?.getAttribute('data-test-script-state') === 'notRunning'""",
        timeout=60_000,
    )


def test_the_arrow_keys_step_through_the_updates(chromium, app_server):
    with browser.sized_page(chromium, 1024, 768) as page:
        console = page.console
        browser.assert_app_rendered(page, app_server.url + "/?inside=1&steps=60", console, "step-1024")
        # A teacher clicks the switch and presses → at once: the focus is still on the switch.
        page.get_by_text("Step by step (← / → keys)").click()
        page.get_by_text("of 59 (point 0 → 1)").wait_for(timeout=60_000)
        _idle(page)
        page.wait_for_function(f"({STEP})() === 0", timeout=20_000)
        page.keyboard.press("ArrowRight")
        page.get_by_text("of 59 (point 1 → 2)").wait_for(timeout=60_000)
        page.wait_for_function(f"({STEP})() === 1", timeout=20_000)
        page.get_by_text("the update that made point 2").first.wait_for(timeout=20_000)
        _idle(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"({STEP})() === 2", timeout=60_000)
        _idle(page)
        page.keyboard.press("ArrowLeft")
        page.wait_for_function(f"({STEP})() === 1", timeout=60_000)
        _idle(page)
        browser.settle(page)
        browser.screenshot(page, "step-1024-after-keys")
        # Predict, then reveal: the card hides the new point until Reveal.
        page.get_by_text("Predict, then reveal").click()
        page.get_by_text("where will point 2 be?").wait_for(timeout=60_000)
        _idle(page)
        browser.settle(page)
        browser.screenshot(page, "step-1024-predict")
        page.keyboard.press("ArrowRight")  # focus on the predict switch: → still steps
        page.get_by_text("where will point 3 be?").wait_for(timeout=60_000)
        _idle(page)
        page.get_by_role("button", name="Reveal", exact=True).click()
        page.get_by_text("the update that made point 3").first.wait_for(timeout=60_000)
        _idle(page)
        # Shared, then opened (a reload): the same update, hidden again for the class to predict.
        page.wait_for_function("() => location.search.includes('step=2') && location.search.includes('predict=1')",
                               timeout=20_000)
        page.reload()
        page.get_by_text("where will point 3 be?").wait_for(timeout=60_000)
        page.wait_for_function(f"({STEP})() === 2", timeout=20_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert console.errors == [], console.errors


@pytest.mark.parametrize(
    "path",
    [
        "?inside=1&steps=60&theme=projector",
        "datasets?theme=projector",
        "sweeps?theme=projector",
        "compare?theme=projector",
        "classics?theme=projector",
        "classics?theme=projector&classic=himmelblau-basins",
    ],
)
def test_the_projector_theme_overlaps_nothing_at_1024(chromium, app_server, path):
    name = "projector-" + ("surfaces" if path.startswith("?") else path.split("?")[0])
    with browser.sized_page(chromium, 1024, 768) as page:
        shot = browser.assert_app_rendered(page, f"{app_server.url}/{path}", page.console, name)
        assert page.get_by_role("switch", name="Projector theme").is_checked()
        problems = [p for boxes in page.evaluate(BOXES) for p in _overlaps(boxes)]
        assert not problems, f"{path} at 1024×768: {problems}; see {shot}"
