"""A seeded random walk through the app, as a student clicks: edits, presets, added runs,
sweep modes, reloads and page switches across Surfaces, Datasets and Sweeps.

After every action: no exception box, no console error. Each page's link is its state: when
the walk comes back to a page, the page must show the link it had when the walk left it,
and a reload keeps the page's own link (the other pages start afresh: a new session).
"""

from __future__ import annotations

import random
from urllib.parse import parse_qs, urlsplit

import pytest

from tests import browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = {"Surfaces": "", "Datasets": "datasets", "Sweeps": "sweeps"}
LRS = ["0.05", "0.002", "0.3", "0.0125", "1e-3"]
STEPS = 30
SEED = 20261201


def _idle(page) -> None:
    page.wait_for_function(
        """() => { const a = document.querySelector('[data-testid="stApp"]');
                   return a && a.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=90_000,
    )
    page.wait_for_timeout(300)  # a widget's change and the URL it writes arrive just after the run


def _page_of(url: str) -> str:
    path = urlsplit(url).path.strip("/")
    return next(name for name, p in PAGES.items() if p == path)


def _state(url: str) -> dict:
    return parse_qs(urlsplit(url).query)


def _main(page):
    return page.locator('[data-testid="stMain"]')


# Each action draws from the walk's random stream before it looks at the page: what the page
# shows at that instant must not shift every later draw (a walk that then skipped a page).


def set_lr(page, rng) -> str:
    value = rng.choice(LRS)
    box = _main(page).get_by_label("lr", exact=True)
    if box.count() == 0:
        return "no lr field"
    box.first.fill(value)
    box.first.press("Enter")
    return f"lr={value}"


def preset(page, rng) -> str:
    side = page.locator('[data-testid="stSidebar"]')
    buttons = side.locator('[data-testid="stButton"] button:visible')
    pick = rng.randrange(6)
    n = buttons.count()
    if n == 0:
        return "no preset"
    i = pick % min(n, 6)
    name = buttons.nth(i).inner_text()
    buttons.nth(i).click()
    return f"preset {name!r}"


def add_run(page, rng) -> str:
    button = _main(page).get_by_role("button", name="Add a run")
    if button.count() == 0:
        return "no add button"
    button.first.click()
    return "add a run"


def sweep_mode(page, rng) -> str:
    mode = rng.choice(["LR sweep", "Basin map", "Hyperparameter heatmap"])
    _main(page).get_by_role("radio", name=mode, exact=True).first.click()
    return f"mode {mode}"


def reload(page, rng) -> str:
    before = _state(page.url)
    page.reload()
    _idle(page)
    assert _state(page.url) == before, "a reload lost the page's link"
    return "reload"


EDITS = {
    "Surfaces": [set_lr, set_lr, preset, add_run, reload],
    "Datasets": [set_lr, set_lr, preset, add_run, reload],
    "Sweeps": [sweep_mode, sweep_mode, reload],
}


def test_a_random_walk_keeps_every_page_and_its_state(page, app_server):
    rng = random.Random(SEED)
    browser.assert_app_rendered(page, app_server.url, page.console, "journey-start")
    left: dict[str, dict] = {}  # each page's state when the walk last left it
    trail: list[str] = []
    for _ in range(STEPS):
        here = _page_of(page.url)
        if rng.random() < 0.4:
            there = rng.choice([p for p in PAGES if p != here])
            left[here] = _state(page.url)
            page.locator('[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]').filter(
                has_text=there
            ).first.click()
            page.wait_for_url(lambda url, there=there: _page_of(url) == there, timeout=30_000)
            _idle(page)
            trail.append(f"{here} -> {there}")
            if there in left:
                assert _state(page.url) == left[there], f"{there} lost its state after: {trail}"
        else:
            trail.append(f"{here}: " + rng.choice(EDITS[here])(page, rng))
            _idle(page)
            if trail[-1].endswith("reload"):
                left.clear()  # a new session: the other pages start from their defaults
        exceptions = page.locator('[data-testid="stException"]')
        if exceptions.count():
            shot = browser.screenshot(page, "journey-exception")
            raise AssertionError(f"exception after {trail}: {exceptions.first.inner_text()[:400]}; see {shot}")
        assert page.console.errors == [], f"console errors after {trail}: {page.console.errors}"
    assert len(trail) == STEPS >= 30 and len({t.split(":")[0].split(" ")[0] for t in trail}) == 3, trail


def test_a_phone_keeps_its_runs_when_its_width_comes_in_during_the_first_computation(app_server, chromium):
    """A phone's width comes in while a link's first, long computation runs: a rerun of the
    results' panel that started before the browser had drawn the run editor. That panel's
    runs must keep what the link says (run 1 became SGD, unlabelled and black, once another
    rerun came: opening the update rules)."""
    link = "?steps=20000&run=Adam;lr=0.00417&run=NAdam"  # an lr no other test computes: a cold cache
    with browser.sized_page(chromium, 390, 844) as phone:
        browser.open_app(phone, f"{app_server.url}/{link}", timeout_s=180)
        browser.settle(phone, 60)
        _idle(phone)
        before = _state(phone.url)
        browser.open_update_rules(phone)  # another rerun of the panel
        _idle(phone)
        shot = browser.screenshot(phone, "journey-phone-first-run")
        assert before["run"][0].startswith("Adam;lr=0.00417;label=Adam"), before
        assert _state(phone.url)["run"] == before["run"], f"see {shot}"
        assert phone.locator("input[aria-label='Label']").first.input_value() == "Adam", f"see {shot}"
        assert not phone.console.errors, phone.console.errors


def test_back_and_forward_undo_and_redo_edits_then_leave_the_page(page, app_server):
    """Each edit is an entry of the browser's history (the address bar holds the picture):
    Back shows the one before, Forward the one after, and Back past a page's first edit
    goes to the page before, as it was left."""
    from playwright.sync_api import expect

    browser.assert_app_rendered(page, app_server.url, page.console, "history-start")
    _idle(page)
    lr = _main(page).get_by_label("lr", exact=True).first
    first = lr.input_value()
    states = [_state(page.url)]
    for value in ("0.05", "0.3"):
        lr.fill(value)
        lr.press("Enter")
        _idle(page)
        states.append(_state(page.url))
    assert states[0] != states[1] != states[2], states

    for want, value in ((1, "0.05"), (0, first)):
        page.go_back(wait_until="commit")
        expect(lr).to_have_value(value, timeout=30_000)
        _idle(page)
        assert _state(page.url) == states[want], (want, page.url)
    page.go_forward(wait_until="commit")
    expect(lr).to_have_value("0.05", timeout=30_000)
    _idle(page)
    assert _state(page.url) == states[1], page.url

    page.locator('[data-testid="stTopNavLink"], [data-testid="stSidebarNavLink"]').filter(
        has_text="Datasets").first.click()
    page.wait_for_url(lambda url: _page_of(url) == "Datasets", timeout=30_000)
    _idle(page)
    datasets = _state(page.url)
    set_lr(page, random.Random(1))
    _idle(page)
    edited = urlsplit(page.url).query
    assert _state(page.url) != datasets
    page.go_back(wait_until="commit")
    page.wait_for_function(f"() => location.search !== {'?' + edited!r}", timeout=30_000)
    _idle(page)
    assert _state(page.url) == datasets, page.url  # the page's first address: its link, written in place
    page.go_back(wait_until="commit")  # one Back to the page before, not to the address that opened this one
    page.wait_for_url(lambda url: _page_of(url) == "Surfaces", timeout=30_000)
    expect(_main(page).get_by_label("lr", exact=True).first).to_have_value("0.05", timeout=30_000)
    _idle(page)
    assert _state(page.url) == states[1], page.url
    shot = browser.screenshot(page, "history-end")
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown; see {shot}"
    assert page.console.errors == [], page.console.errors


def test_one_back_leaves_a_page_opened_by_its_address(page, app_server):
    """A page's first address of its own replaces the one typed (Streamlit would push it as a new
    entry, and Back would show the same page again)."""
    browser.assert_app_rendered(page, app_server.url, page.console, "history-typed-start")
    _idle(page)
    surfaces = page.url
    for path in ("datasets", "compare"):
        browser.open_app(page, f"{app_server.url}/{path}")
        _idle(page)
        assert _state(page.url), f"{path}: no link written: {page.url}"
        page.go_back(wait_until="commit")
        page.wait_for_url(lambda url: _page_of(url) == "Surfaces", timeout=30_000)
        _idle(page)
        assert page.url == surfaces
    assert page.console.errors == [], page.console.errors


def test_back_undoes_a_change_on_the_sweeps_and_compare_pages(page, app_server):
    from playwright.sync_api import expect

    browser.assert_app_rendered(page, app_server.url + "/sweeps", page.console, "history-sweeps")
    _idle(page)
    assert _state(page.url)["mode"] == ["lr"], page.url
    _main(page).get_by_role("radio", name="Basin map", exact=True).first.click()
    page.wait_for_url(lambda url: _state(url).get("mode") == ["basin"], timeout=60_000)
    _idle(page)
    page.go_back(wait_until="commit")
    page.wait_for_url(lambda url: _state(url).get("mode") == ["lr"], timeout=30_000)
    expect(_main(page).get_by_text("How sensitive is each optimizer")).to_be_visible(timeout=30_000)
    _idle(page)
    assert _state(page.url)["mode"] == ["lr"], page.url

    browser.open_app(page, app_server.url + "/compare")
    _idle(page)
    seeds = page.locator('[data-testid="stSidebar"]').get_by_label("Seeds", exact=True).first
    before, link = seeds.input_value(), _state(page.url)
    seeds.fill(str(int(before) + 1))
    seeds.press("Enter")
    page.wait_for_url(lambda url: _state(url) != link, timeout=60_000)
    _idle(page)
    page.go_back(wait_until="commit")
    expect(seeds).to_have_value(before, timeout=60_000)
    _idle(page)
    assert _state(page.url) == link, page.url
    shot = browser.screenshot(page, "history-compare")
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception shown; see {shot}"
    assert page.console.errors == [], page.console.errors
