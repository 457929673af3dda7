"""The kernel-free website (`tools/site.py`): built into a temporary folder, read as HTML, no browser."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pytest

from reslib.viz.explorer import is_explorer_note
from tools import site

NOTEBOOKS = sorted(site.NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
KOREAN = sorted((site.NOTEBOOKS / "ko").glob("[0-9][0-9]_*.ipynb"))
# What a page may load: a script or stylesheet by src/href, a CSS url() or @import. Links (<a href>)
# to papers are fine: they are followed by a reader, never fetched by the page.
ASSET = re.compile(
    r"<script[^>]*\bsrc=[\"']?(?P<script>[^\"' >]+)|<link[^>]*\bhref=[\"']?(?P<link>[^\"' >]+)"
    r"|url\(\s*[\"']?(?P<url>[^\"')]+)|@import\s+[\"'](?P<imp>[^\"']+)"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    for module in ("nbconvert", "jupyter_server_mathjax"):  # the lab extra; the tests below need none
        pytest.importorskip(module)
    out = tmp_path_factory.mktemp("site")
    site.build(out)
    return out


def assets(text: str) -> list[str]:
    return [next(v for v in m.groups() if v) for m in ASSET.finditer(text)]


def test_every_notebook_has_a_page_listed_on_the_index(built):
    index = (built / "index.html").read_text()
    assert len(NOTEBOOKS) >= 10
    for path in NOTEBOOKS:
        page = built / f"{path.stem}.html"
        assert page.exists(), page
        assert f'href="{page.name}"' in index
        title, hook = site.title_and_hook(nbformat.read(path, as_version=4))
        assert title.partition(" · ")[2] in index and hook and len(hook) < 400


def test_no_page_loads_anything_from_the_network(built):
    pages = [*built.rglob("*.html"), *(built / "static").glob("site.*")]
    for page in pages:
        found = assets(page.read_text())
        remote = [a for a in found if re.match(r"(https?:)?//", a)]
        assert not remote, f"{page.name} loads {remote}"
    one = (built / f"{NOTEBOOKS[0].stem}.html").read_text()
    assert {"static/plotly.min.js", "static/site.js", "static/site.css"} <= set(assets(one))
    assert site.MATHJAX_URL in assets(one)
    korean = (built / "ko" / f"{NOTEBOOKS[0].stem}.html").read_text()  # one folder down: ../static
    assert {"../static/plotly.min.js", "../static/site.js", "../static/site.css"} <= set(assets(korean))
    assert "../" + site.MATHJAX_URL in assets(korean)
    assert assets('<script src="https://cdn.example/x.js"></script>') == ["https://cdn.example/x.js"]


def test_plotly_js_copied_once_and_mathjax_local(built):
    copies = [p for p in built.rglob("*") if p.name.startswith("plotly") and p.suffix == ".js"]
    assert [p.relative_to(built).as_posix() for p in copies] == ["static/plotly.min.js"]
    assert (built / "static" / "mathjax" / "MathJax.js").exists()
    assert (built / "static" / "mathjax" / "config" / "TeX-AMS-MML_HTMLorMML-full.js").exists()
    for page in built.glob("[0-9]*.html"):
        assert "Plotly.newPlot" not in page.read_text() or page.read_text().count("plotly.min.js") == 1


def test_every_plotly_output_became_a_plot_div_with_its_frames(built):
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        specs = [
            o["data"][site.PLOTLY_MIME]
            for c in nb.cells
            for o in c.get("outputs", [])
            if site.PLOTLY_MIME in o.get("data", {})
        ]
        text = (built / f"{path.stem}.html").read_text()
        divs = re.findall(r'<div class="site-plot" id="(site-plot-\d+)"></div>', text)
        assert len(divs) == len(specs), path.name
        for div, spec in zip(divs, specs, strict=True):
            match = re.search(rf'<script[^>]*id="{div}-json"[^>]*>(.*?)</script>', text, re.S)
            stored = json.loads(match.group(1))
            assert len(stored["data"]) == len(spec["data"])
            assert len(stored.get("frames", [])) == len(spec.get("frames", []))
        assert "application/vnd.plotly.v1+json" not in text


def test_live_explorers_show_their_note(built):
    for path in NOTEBOOKS + KOREAN:
        nb = nbformat.read(path, as_version=4)
        notes = [
            o["data"]["text/plain"]
            for c in nb.cells
            for o in c.get("outputs", [])
            if site.WIDGET_MIME in o.get("data", {}) and is_explorer_note(o["data"]["text/plain"])
        ]
        assert notes, f"{path.name}: no stored explorer note"
        text = (built / ("ko" if path in KOREAN else "") / f"{path.stem}.html").read_text()
        assert text.count('<div class="live-note">') == len(notes)
        for note in notes:
            assert ("이 노트북을 실행하라" if path in KOREAN else "run this notebook to use it") in note
            assert html.escape(note) in text
        assert "0%|" not in text  # a progress bar's frozen text is left out


def test_prediction_forms_show_their_question_and_diagrams_their_svg(built):
    forms = diagrams = 0
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        outputs = [o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])]
        text = (built / f"{path.stem}.html").read_text()
        for data in outputs:
            if site.WIDGET_MIME in data and "text/html" in data:  # a prediction form
                forms += 1
                assert data["text/html"] in text  # the question, as text, where the form was
            if "image/svg+xml" in data:
                diagrams += 1
        assert text.count('data-mime-type="image/svg+xml"') == sum("image/svg+xml" in d for d in outputs)
    assert forms and diagrams  # the series has both, so the checks above ran


def test_binder_links(built):
    assert site.REPOSITORY in site.BINDER
    readme = (site.ROOT / "README.md").read_text()
    assert f"mybinder.org/v2/gh/{site.REPOSITORY}/main" in readme  # one repository, the badge's
    for path in NOTEBOOKS:
        url = f"https://mybinder.org/v2/gh/{site.REPOSITORY}/main?urlpath=lab/tree/notebooks/{path.name}"
        assert f'href="{url}"' in (built / f"{path.stem}.html").read_text()
        assert url in (built / "index.html").read_text()


def test_plot_json_cannot_close_its_script_tag():
    text = site.plot_html({"data": [{"type": "scatter", "name": "</script><b>"}]}, 0)
    assert text.count("</script>") == 1
    payload = re.search(r"json\">(.*)</script>", text).group(1)
    assert json.loads(payload)["data"][0]["name"] == "</script><b>"


def test_index_hooks_keep_their_emphasis_and_code():
    assert site.inline_markdown("a *adds* `nn.X` **b** <x> $2^n$") == (
        "a <em>adds</em> <code>nn.X</code> <b>b</b> &lt;x&gt; $2^n$"
    )


def _links(text: str, cls: str) -> list[str]:
    return re.findall(rf'<a class="{cls}"[^>]*href="([^"]+)"', text)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_every_page_has_the_series_its_neighbours_its_twin_and_binder_and_colab(built, language):
    paths = NOTEBOOKS if language == "en" else KOREAN
    folder, root = site.LANGUAGES[language], "../" if language == "ko" else ""
    assert len(paths) == len(NOTEBOOKS), "every notebook has a Korean edition (tests/test_translation.py)"
    for i, path in enumerate(paths):
        text = (built / folder / f"{path.stem}.html").read_text()
        assert f'<html lang="{language}">' in text
        series = re.search(r'<ol class="site-series">(.*?)</ol>', text).group(1)
        assert re.findall(r'href="([^"]+)"', series) == [f"{root}{folder}{p.stem}.html" for p in paths]
        assert re.findall(r'<li [^>]*class="current"[^>]*><a href="([^"]+)"', series) == [
            f"{root}{folder}{path.stem}.html"
        ]
        previous, following = _links(text, "site-previous"), _links(text, "site-next")
        assert previous == ([f"{root}{folder}{paths[i - 1].stem}.html"] if i else [])
        assert following == ([f"{root}{folder}{paths[i + 1].stem}.html"] if i + 1 < len(paths) else [])
        twin = f"{path.stem}.html" if language == "ko" else f"ko/{path.stem}.html"
        assert _links(text, "site-language") == [f"{root}{twin}"]
        assert _links(text, "binder") == [site.BINDER.format(file=f"{folder}{path.name}")]
        assert _links(text, "colab") == [site.COLAB.format(file=f"{folder}{path.name}")]
        assert 'id="site-search"' in text and 'id="site-toc"' in text


def test_each_language_has_an_index_with_a_switch_to_the_other(built):
    english, korean = (built / "index.html").read_text(), (built / "ko" / "index.html").read_text()
    assert _links(english, "site-language") == ["ko/index.html"]
    assert _links(korean, "site-language") == ["../index.html"]
    for path in KOREAN:
        assert f'href="{path.stem}.html"' in korean
        title = site.title_and_hook(nbformat.read(path, as_version=4))[0]
        assert html.escape(title.partition(" · ")[2]) in korean


def _search_index(built: Path) -> list[dict]:
    text = (built / "static" / "search-index.js").read_text()
    assert text.startswith("window.SITE_SEARCH = ") and "</script" not in text.lower()
    return json.loads(text.removeprefix("window.SITE_SEARCH = ").rstrip().removesuffix(";"))


def test_the_search_index_covers_every_section_of_both_languages_and_links_to_it(built):
    entries = _search_index(built)
    for language, paths in (("en", NOTEBOOKS), ("ko", KOREAN)):
        for path in paths:
            href = f"{site.LANGUAGES[language]}{path.stem}.html"
            page = [e for e in entries if e["u"] == href]
            text = (built / href).read_text()
            ids = [html.unescape(i) for i in re.findall(r'<h[1-3][^>]*\bid="([^"]+)"', text)]
            assert [e["a"] for e in page] == ids, f"{href}: a section per heading, linked to its id"
            assert all(e["l"] == language and e["x"] for e in page[1:]), href


@pytest.mark.parametrize(("words", "page"), [("running statistics", "05"), ("이동 평균", "ko/05")])
def test_the_search_index_finds_a_term_of_notebook_05_in_both_languages(built, words, page):
    found = [
        e["u"]
        for e in _search_index(built)
        if all(w in (e["h"] + " " + e["x"]).lower() for w in words.split())
    ]
    assert any(u.startswith(page + "_") for u in found), found
