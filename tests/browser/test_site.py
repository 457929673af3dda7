"""The kernel-free website in Chromium with the network cut: every page draws, typesets and animates.

The site is built into a temporary folder (`tools.site.build`) and served from 127.0.0.1; every
request to anywhere else is aborted and recorded, so a page that needed the network fails here.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tools import site

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

PAGES = sorted(p.stem for p in site.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) + sorted(
    f"ko/{p.stem}" for p in (site.NOTEBOOKS / "ko").glob("[0-9][0-9]_*.ipynb")
)
DRAW_S, MATH_S = 60, 60
# Trace data without plotly's bookkeeping keys; typed arrays as plain arrays.
PLOT_DATA = """el => JSON.stringify(el.data, (k, v) => k.startsWith('_') || k === 'uid' ? undefined
  : ArrayBuffer.isView(v) ? Array.from(v) : v)"""
ALL_DRAWN = """() => Array.from(document.querySelectorAll('div.site-plot')).every(
  d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg'))"""
MATH_DONE = """() => !!window.MathJax && !!MathJax.Hub && MathJax.Hub.queue.pending === 0
  && !MathJax.Hub.queue.running"""
# The frames a static explorer holds, and its slider's active step.
EXPLORERS = """() => Array.from(document.querySelectorAll('div.site-plot')).filter(
  d => d._transitionData && d._transitionData._frames.length > 1).map(d => ({
  id: d.id, frames: d._transitionData._frames.map(f => f.name),
  active: d.layout.sliders[0].active}))"""
ANIMATE = """([id, name]) => Plotly.animate(document.getElementById(id), [name],
  {mode: 'immediate', frame: {duration: 0, redraw: true}, transition: {duration: 0}})"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The built site on an http server at 127.0.0.1 (a free port), for this module."""
    root = tmp_path_factory.mktemp("site")
    site.build(root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test log for failures
        pass


@pytest.fixture
def page(chromium: Browser, served: str) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A page whose requests beyond `served` are aborted; yields (page, console errors, blocked URLs)."""
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(served + "/"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        yield page, errors, blocked
    finally:
        context.close()


def test_index_lists_every_page(page, served):
    p, errors, blocked = page
    p.goto(f"{served}/index.html")
    links = p.eval_on_selector_all("ol.notebooks li > a", "as => as.map(a => a.getAttribute('href'))")
    assert links == [f"{name}.html" for name in PAGES if "/" not in name]
    p.wait_for_function(MATH_DONE, timeout=MATH_S * 1000)
    assert not errors and not blocked, (errors, blocked)


@pytest.mark.parametrize("name", PAGES)
def test_page_draws_typesets_and_animates_offline(page, served, name):
    p, errors, blocked = page
    p.goto(f"{served}/{name}.html")
    plots = p.locator("div.site-plot")
    p.wait_for_function(ALL_DRAWN, timeout=DRAW_S * 1000)
    p.wait_for_function(MATH_DONE, timeout=MATH_S * 1000)
    assert plots.count() >= 1
    markdown = " ".join(p.locator(".jp-MarkdownOutput").all_inner_texts())
    assert "$$" not in markdown, "raw display math left untypeset"
    if "$" in Path(site.NOTEBOOKS / f"{name}.ipynb").read_text():
        assert p.locator(".MathJax, .MathJax_Display, .MathJax_CHTML, mjx-container").count() > 0
    explorers = p.evaluate(EXPLORERS)
    for explorer in explorers:
        div = p.locator(f"#{explorer['id']}")
        before = div.evaluate(PLOT_DATA)
        frames, active = explorer["frames"], explorer["active"]
        other = frames[-1] if active != len(frames) - 1 else frames[0]
        p.evaluate(ANIMATE, [explorer["id"], other])
        assert div.evaluate(PLOT_DATA) != before, f"{explorer['id']}: frame {other} did not change the plot"
    assert len(explorers) == Path(site.NOTEBOOKS / f"{name}.ipynb").read_text().count(
        "rl.viz.static_explorer("
    )
    assert not errors, errors
    assert not blocked, f"requests beyond the site: {blocked}"


SEARCH_HITS = (
    "() => Array.from(document.querySelectorAll('#site-search-results a'), a => a.getAttribute('href'))"
)


@pytest.mark.parametrize("start", ["05_batch_norm_math", "ko/05_batch_norm_math"])
def test_search_finds_a_term_of_notebook_05_in_both_languages_offline(page, served, start):
    p, errors, blocked = page
    p.goto(f"{served}/{start}.html")
    root = "../" if start.startswith("ko/") else ""
    for words, target in (
        ("running statistics", "05_batch_norm_math.html"),
        ("이동 평균", "ko/05_batch_norm_math.html"),
    ):
        p.fill("#site-search", words)  # the first use loads the index (static/search-index.js)
        p.wait_for_function(f"() => ({SEARCH_HITS})().length > 0", timeout=DRAW_S * 1000)
        hits = [h.split("#")[0] for h in p.evaluate(SEARCH_HITS)]
        assert root + target in hits, (words, hits)
    first = p.evaluate(SEARCH_HITS)[0]
    p.click("#site-search-results a")  # a hit opens its section
    p.wait_for_load_state()
    assert p.url.split("#")[0].endswith(first.split("#")[0].removeprefix("../"))
    assert not errors and not blocked, (errors, blocked)


@pytest.mark.parametrize("name", ["03_residual_paths", "ko/03_residual_paths"])
def test_contents_neighbours_and_the_language_switch_work_offline(page, served, name):
    p, errors, blocked = page
    p.goto(f"{served}/{name}.html")
    toc = p.eval_on_selector_all("#site-toc a", "as => as.map(a => decodeURIComponent(a.hash.slice(1)))")
    assert len(toc) >= 5 and all(p.locator(f"[id='{i}']").count() == 1 for i in toc), toc
    assert p.locator("a.site-previous").count() == 1 and p.locator("a.site-next").count() == 1
    p.click("a.site-language")
    p.wait_for_load_state()
    twin = name.removeprefix("ko/") if name.startswith("ko/") else f"ko/{name}"
    assert p.url.endswith(f"/{twin}.html"), p.url
    p.wait_for_function(ALL_DRAWN, timeout=DRAW_S * 1000)
    assert not errors and not blocked, (errors, blocked)
