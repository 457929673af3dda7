"""Build the kernel-free website: one HTML page per notebook from its stored outputs, and an index.

    python -m tools.site [--out DIR]      (make site: into site/)

The English pages sit at the top (`NN_name.html`), the Korean edition's in `ko/`. Each page has the
series in a sidebar (the current notebook marked), a search box over every page of both languages (a
prebuilt index, `static/search-index.js`, loaded when the box is first used), the page's own contents
beside it (its headings), previous/next links, a switch to its twin in the other language, and Binder
and Colab links.

Nothing is executed and nothing is fetched: the pages are the committed notebooks as they are.
Plotly outputs become interactive plots (a div and `Plotly.newPlot`; frames added, so the static
explorers' sliders animate) drawn by one local copy of plotly.js; math is typeset by a local
MathJax 2.7 (the jupyter-server-mathjax package); a live explorer's output shows its note ("run
this notebook to use it"). No page loads a script, style or font from the network.

nbconvert, Jinja2, nbformat and jupyter-server-mathjax (the `lab` extra) are imported by the functions
that use them, so the unit tests of the rest run where only the `test` extra is installed.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import plotly

if TYPE_CHECKING:
    import nbformat
    from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
REPOSITORY = "reslib/reslib"  # on GitHub; the README's Binder badge names the same
BINDER = "https://mybinder.org/v2/gh/" + REPOSITORY + "/main?urlpath=lab/tree/notebooks/{file}"
COLAB = "https://colab.research.google.com/github/" + REPOSITORY + "/blob/main/notebooks/{file}"
# The languages of the site: (folder under the site and under notebooks/, <html lang>); English first.
LANGUAGES = {"en": "", "ko": "ko/"}
# What the site itself says, per language (the notebooks say the rest).
WORDS = {
    "en": {
        "series": "Residual networks, notebook by notebook",
        "all": "All notebooks",
        "search": "Search the series",
        "contents": "On this page",
        "previous": "Previous",
        "next": "Next",
        "binder": "Run on Binder",
        "colab": "Open in Colab",
        "other": "한국어",
        "no_results": "Nothing found.",
    },
    "ko": {
        "series": "잔차 신경망, 노트북으로 한 걸음씩",
        "all": "전체 노트북",
        "search": "시리즈에서 찾기",
        "contents": "이 페이지의 내용",
        "previous": "이전",
        "next": "다음",
        "binder": "Binder에서 실행",
        "colab": "Colab에서 열기",
        "other": "English",
        "no_results": "찾은 것이 없다.",
    },
}
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MATHJAX_URL = "static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

# The lab template, minus everything it would fetch: require.js, widgets, mermaid; MathJax is local.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_js_mathjax %}{{ resources.mathjax_head }}{% endblock html_head_js_mathjax %}
{% block extra_css %}<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ resources.root }}static/site.css">
{% endblock extra_css %}
{%- block body_header -%}
<body class="jp-Notebook site-page" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light"
 data-root="{{ resources.root }}" data-lang="{{ resources.language_code }}">
<aside class="site-sidebar">{{ resources.sidebar }}</aside>
<div class="site-content">
<nav class="site-nav">{{ resources.topbar }}</nav>
<main>
{%- endblock body_header -%}
{% block body_footer %}
</main>
<nav class="site-pager">{{ resources.pager }}</nav>
</div>
<aside class="site-toc"><p class="site-toc-title">{{ resources.contents_title }}</p>
<ol id="site-toc"></ol></aside>
</body>
{% endblock body_footer %}
{% block footer_js %}<script src="{{ resources.root }}static/plotly.min.js"></script>
<script src="{{ resources.root }}static/site.js"></script>
{% endblock footer_js %}
"""

SITE_JS = r"""// Draw every stored plotly figure; a static explorer's frames go in too: its slider animates.
document.querySelectorAll("div.site-plot").forEach((div) => {
  const spec = JSON.parse(document.getElementById(div.id + "-json").textContent);
  const config = Object.assign({responsive: true, displaylogo: false}, spec.config || {});
  Plotly.newPlot(div, spec.data, spec.layout || {}, config).then((gd) =>
    spec.frames && spec.frames.length ? Plotly.addFrames(gd, spec.frames) : gd);
});

// The page's contents: its section headings (nbconvert gives each an id), linked.
const toc = document.getElementById("site-toc");
if (toc) {
  document.querySelectorAll("main h2[id], main h3[id]").forEach((h) => {
    const li = document.createElement("li"), a = document.createElement("a");
    li.className = "toc-" + h.tagName.toLowerCase();
    a.href = "#" + encodeURIComponent(h.id);
    a.textContent = h.textContent.replace(/\u00b6$/, "").trim();
    li.appendChild(a);
    toc.appendChild(li);
  });
}

// Search: the prebuilt index (static/search-index.js) is loaded when the box is first used; every word
// of the query must occur in a section's heading or text; this page's language first.
const box = document.getElementById("site-search");
if (box) {
  const root = document.body.dataset.root || "", lang = document.body.dataset.lang || "en";
  const results = document.getElementById("site-search-results");
  const show = () => {
    const words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    results.replaceChildren();
    if (!words.length || !window.SITE_SEARCH) return;
    const hits = window.SITE_SEARCH.filter((e) => {
      const text = (e.h + " " + e.x).toLowerCase();
      return words.every((w) => text.includes(w));
    }).sort((a, b) => (a.l !== lang) - (b.l !== lang)).slice(0, 30);
    if (!hits.length) {
      const li = document.createElement("li");
      li.textContent = results.dataset.none;
      results.appendChild(li);
    }
    for (const e of hits) {
      const li = document.createElement("li"), a = document.createElement("a");
      a.href = root + e.u + (e.a ? "#" + encodeURIComponent(e.a) : "");
      a.textContent = e.t + " \u203a " + e.h;
      const at = e.x.toLowerCase().indexOf(words[0]);
      const snippet = document.createElement("small");
      snippet.textContent = at < 0 ? "" : "\u2026" + e.x.slice(Math.max(0, at - 40), at + 80) + "\u2026";
      li.append(a, document.createElement("br"), snippet);
      results.appendChild(li);
    }
  };
  box.addEventListener("focus", () => {
    if (window.SITE_SEARCH || document.getElementById("site-search-index")) return;
    const script = document.createElement("script");
    script.id = "site-search-index";
    script.src = root + "static/search-index.js";
    script.onload = show;
    document.head.appendChild(script);
  }, {once: true});
  box.addEventListener("input", show);
}
"""

SITE_CSS = """body.site-page { display: grid; grid-template-columns: 16rem minmax(0, 52rem) 14rem;
  gap: 2rem; justify-content: center; margin: 0; padding: 0 1rem; }
.site-sidebar, .site-toc { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow-y: auto;
  padding: 1rem 0; font: 14px/1.45 var(--jp-ui-font-family, system-ui, sans-serif); }
.site-sidebar .site-title { display: block; font-weight: bold; margin-bottom: 0.8em; color: inherit;
  text-decoration: none; }
.site-series { padding-left: 1.8em; margin: 0.8em 0; }
.site-series li { margin-bottom: 0.35em; }
.site-series li.current > a { font-weight: bold; color: inherit; }
#site-search { width: 100%; box-sizing: border-box; padding: 0.4em; font: inherit; }
#site-search-results { padding-left: 1.2em; margin: 0.5em 0; }
#site-search-results li { margin-bottom: 0.5em; }
#site-search-results small { color: #666; }
.site-toc-title { font-weight: bold; margin-top: 0; }
#site-toc { list-style: none; padding-left: 0; }
#site-toc li { margin-bottom: 0.35em; }
#site-toc li.toc-h3 { padding-left: 1em; }
.site-content { min-width: 0; }
.site-content main { font-size: 16px; line-height: 1.6; }
.site-content .jp-RenderedHTMLCommon { font-size: 16px; line-height: 1.6; }
.site-nav, .site-pager { display: flex; flex-wrap: wrap; gap: 1.5em; padding: 0.8em 0;
  font-family: var(--jp-ui-font-family, sans-serif); }
.site-nav { border-bottom: 1px solid #ddd; margin-bottom: 1em; }
.site-pager { border-top: 1px solid #ddd; margin-top: 2em; justify-content: space-between; }
.site-nav .binder { font-weight: bold; }
.live-note { border-left: 4px solid #f0ad4e; background: #fcf8e3; padding: 0.5em 1em;
  font-family: var(--jp-ui-font-family, sans-serif); color: #555; }
.site-index { max-width: 52rem; margin: 2em auto; font-family: sans-serif; line-height: 1.5; }
.site-index li { margin-bottom: 1em; }
@media (max-width: 1200px) { body.site-page { grid-template-columns: 15rem minmax(0, 1fr); }
  .site-toc { display: none; } }
@media (max-width: 800px) { body.site-page { display: block; }
  .site-sidebar { position: static; max-height: none; } }
"""

# jupyter-server-mathjax ships MathJax 2.7 with the STIX-Web fonts only (as Jupyter's classic notebook
# used it): without this the HTML-CSS output asks for the TeX fonts, which are not there, and Chromium
# (which reads MathML) would get the native MathML output, whose fonts are missing as well; the hidden
# MathML copies for screen readers would ask for them too. MathJax's font test measures against a font at
# url(about:blank), which Chromium reports as a blocked request: a local() name that is never found does
# the same job without one.
MATHJAX_CONFIG = """<script type="text/x-mathjax-config">
MathJax.Hub.Config({
  tex2jax: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
            processEscapes: true, processEnvironments: true},
  TeX: {equationNumbers: {autoNumber: "AMS", useLabelIds: true}},
  "HTML-CSS": {availableFonts: [], webFont: "STIX-Web", imageFont: null, preferredFont: null,
               linebreaks: {automatic: true},
               styles: {"@font-face": {"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}},
  MMLorHTML: {prefer: "HTML"}, menuSettings: {assistiveMML: false},
  displayAlign: "center", messageStyle: "none"
});
</script>
"""


def mathjax_head(root: str = "") -> str:
    """MathJax's configuration and the local MathJax, for a page `root` below the site's top."""
    return MATHJAX_CONFIG + f'<script src="{root}{MATHJAX_URL}"></script>'


MATHJAX_HEAD = mathjax_head()

INDEX = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>reslib: {series}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="{root}static/site.css">
{mathjax}</head>
<body class="site-page" data-root="{root}" data-lang="{lang}">
<aside class="site-sidebar">{sidebar}</aside>
<div class="site-content"><nav class="site-nav">{topbar}</nav>
<main class="site-index">
<h1>{series}</h1>
{intro}
<ol class="notebooks">
{items}
</ol></main></div>
<script src="{root}static/site.js"></script></body></html>
"""
INDEX_INTRO = {
    "en": """<p>The reslib series as read-only pages: every output as it was last run, figures you can zoom
and hover, and each explorer as a static copy whose slider steps through precomputed frames. To run the
code and use the live explorers, open a notebook on Binder or Colab (links on each page) or run
<code>make lab</code> in a clone.</p>""",
    "ko": """<p>reslib 시리즈를 읽기 전용 페이지로 모았다. 모든 출력은 마지막으로 실행했을 때
그대로이고, 그림은 확대하고 값을 짚어 볼 수 있으며, 탐색기는 미리 계산한 프레임을 슬라이더로
넘겨 보는 정적 사본이다. 코드를 실행하고 살아 있는 탐색기를 쓰려면 노트북을 Binder나 Colab에서
열거나(각 페이지의 링크), 저장소를 받아
<code>make lab FIRST=notebooks/ko/01_sequential_networks.ipynb</code>를 실행하자.</p>""",
}


def plot_html(spec: dict, index: int) -> str:
    """A div for `Plotly.newPlot` and its figure as JSON beside it (`</` escaped for the script tag)."""
    payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    div = f"site-plot-{index}"
    return (
        f'<div class="site-plot" id="{div}"></div>'
        f'<script type="application/json" id="{div}-json">{payload}</script>'
    )


def convert_outputs(nb: nbformat.NotebookNode) -> int:
    """Plotly outputs -> plot divs, explorers -> their note, prediction forms -> their text.

    Other widgets (progress bars) -> nothing. Returns the number of plots.
    """
    from reslib.viz.explorer import is_explorer_note  # reslib (and torch) only when a page is built

    plots = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if PLOTLY_MIME in data:
                output["data"] = {"text/html": plot_html(data[PLOTLY_MIME], plots)}
                plots += 1
            elif WIDGET_MIME in data and "text/html" in data:  # a prediction form: its text version
                output["data"] = {"text/html": data["text/html"]}
            elif WIDGET_MIME in data:
                note = data.get("text/plain", "")
                # an explorer's note says what it needs; a progress bar's frozen text would only mislead
                shown = f'<div class="live-note">{html.escape(note)}</div>' if is_explorer_note(note) else ""
                output["data"] = {"text/html": shown}
    return plots


def title_and_hook(nb: nbformat.NotebookNode) -> tuple[str, str]:
    """The first cell's heading and the first sentence after it."""
    source = nb.cells[0].source
    title = source.splitlines()[0].lstrip("#").strip()
    rest = " ".join(source.split("\n\n", 1)[1].split()) if "\n\n" in source else ""
    hook = re.split(r"(?<=[.!?])\s", rest, maxsplit=1)[0]
    return title, hook


def inline_markdown(text: str) -> str:
    """Escaped text with markdown's `code`, **bold** and *emphasis* (math is left to MathJax)."""
    text = html.escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)


def exporter() -> HTMLExporter:
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"site.html.j2": TEMPLATE})],
        template_file="site.html.j2",
        mathjax_url=MATHJAX_URL,
    )


def copy_static(out: Path) -> None:
    import jupyter_server_mathjax

    static = out / "static"
    static.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", static)
    mathjax = Path(jupyter_server_mathjax.__file__).parent / "static"
    shutil.copytree(mathjax, static / "mathjax", dirs_exist_ok=True)
    (static / "site.js").write_text(SITE_JS)
    (static / "site.css").write_text(SITE_CSS)


class Page:
    """One notebook of one language, as the site shows it."""

    def __init__(self, path: Path, language: str):
        import nbformat

        self.path, self.language = path, language
        self.folder = LANGUAGES[language]  # "" or "ko/", under the site and under notebooks/
        self.nb = nbformat.read(path, as_version=4)
        self.title, self.hook = title_and_hook(self.nb)
        self.href = f"{self.folder}{path.stem}.html"  # from the site's top
        self.binder = BINDER.format(file=f"{self.folder}{path.name}")
        self.colab = COLAB.format(file=f"{self.folder}{path.name}")


def series(notebooks: Path = NOTEBOOKS) -> dict[str, list[Page]]:
    """Every language's pages in the series' order; a language is listed once it has a notebook."""
    found = {}
    for language, folder in LANGUAGES.items():
        paths = sorted((notebooks / folder).glob("[0-9][0-9]_*.ipynb"))
        if paths:
            found[language] = [Page(path, language) for path in paths]
    return found


def twin(page: Page, pages: dict[str, list[Page]]) -> Page | None:
    """The same notebook in the other language, if it has been translated."""
    other = next((lang for lang in pages if lang != page.language), None)
    return next((p for p in pages.get(other, []) if p.path.name == page.path.name), None)


CURRENT = ' class="current"'


def sidebar(pages: list[Page], root: str, language: str, current: Page | None) -> str:
    """The series in order (the current notebook marked) and the search box."""
    words = WORDS[language]
    index = f"{root}{LANGUAGES[language]}index.html"
    items = "".join(
        f'<li value="{int(p.path.name[:2])}"{CURRENT if p is current else ""}>'
        f'<a href="{root}{p.href}">{html.escape(p.title.partition(" · ")[2] or p.title)}</a></li>'
        for p in pages
    )
    return (
        f'<a class="site-title" href="{index}">{html.escape(words["series"])}</a>'
        f'<input id="site-search" type="search" placeholder="{words["search"]}"'
        f' aria-label="{words["search"]}">'
        f'<ol id="site-search-results" data-none="{words["no_results"]}"></ol>'
        f'<ol class="site-series">{items}</ol>'
    )


def topbar(page: Page | None, other: Page | None, root: str, language: str, other_index: str | None) -> str:
    """All notebooks, the page in the other language, and (for a notebook) Binder and Colab."""
    words = WORDS[language]
    links = [f'<a href="{root}{LANGUAGES[language]}index.html">{words["all"]}</a>']
    target = f"{root}{other.href}" if other is not None else other_index
    if target is not None:
        other_lang = next(lang for lang in LANGUAGES if lang != language)
        links.append(f'<a class="site-language" hreflang="{other_lang}" href="{target}">{words["other"]}</a>')
    if page is not None:
        links.append(f'<a class="binder" href="{page.binder}">{words["binder"]}</a>')
        links.append(f'<a class="colab" href="{page.colab}">{words["colab"]}</a>')
    return "".join(links)


def pager(pages: list[Page], page: Page, root: str) -> str:
    """Links to the previous and the next notebook of the series."""
    words, i = WORDS[page.language], pages.index(page)
    links = []
    if i > 0:
        links.append(
            f'<a class="site-previous" href="{root}{pages[i - 1].href}">← {words["previous"]}: '
            f"{html.escape(pages[i - 1].title)}</a>"
        )
    else:
        links.append("<span></span>")
    if i + 1 < len(pages):
        links.append(
            f'<a class="site-next" href="{root}{pages[i + 1].href}">{words["next"]}: '
            f"{html.escape(pages[i + 1].title)} →</a>"
        )
    return "".join(links)


_HEADING = re.compile(r"^(#{1,3}) (.+)$")
_ANCHOR = re.compile(r'<h[1-3][^>]*\bid="([^"]+)"')
_MARKUP = re.compile(r"<[^>]+>|\$\$.*?\$\$|[*_`|#>]|\]\([^)]*\)|\[", re.DOTALL)


def search_entries(page: Page, body: str) -> list[dict]:
    """The page's sections (one per heading of its markdown) for the search index.

    Each: u (the page, from the site's top), a (the heading's id on the page), t (the notebook's title),
    h (the heading), x (the section's prose, markup removed), l (the language).
    """
    sections, fenced = [], False
    for cell in page.nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            fenced ^= line.startswith("```")
            heading = None if fenced else _HEADING.match(line)
            if heading or not sections:
                sections.append([heading.group(2).strip() if heading else page.title, []])
                if heading:
                    continue
            sections[-1][1].append(line)
    anchors = _ANCHOR.findall(body)
    if len(anchors) != len(sections):  # headings and ids out of step: link the page, not a section
        anchors = [""] * len(sections)
    return [
        {
            "u": page.href,
            "a": html.unescape(anchor),
            "t": page.title,
            "h": heading,
            "x": " ".join(_MARKUP.sub(" ", "\n".join(lines)).split()),
            "l": page.language,
        }
        for (heading, lines), anchor in zip(sections, anchors, strict=True)
    ]


def build(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write each language's index and pages, `out/static/` and the search index; return the pages."""
    copy_static(out)
    html_exporter = exporter()
    pages = series(notebooks)
    written, index = [], []
    for language, listed in pages.items():
        root = "../" if LANGUAGES[language] else ""
        other_lang = next((lang for lang in pages if lang != language), None)
        other_index = f"{root}{LANGUAGES[other_lang]}index.html" if other_lang else None
        (out / LANGUAGES[language]).mkdir(parents=True, exist_ok=True)
        html_exporter.language_code = language  # <html lang>: how a reader's browser picks fonts, speaks
        items = []
        for page in listed:
            convert_outputs(page.nb)
            body, _ = html_exporter.from_notebook_node(
                page.nb,
                resources={
                    "metadata": {"name": page.title},
                    "language_code": language,
                    "root": root,
                    "mathjax_head": mathjax_head(root),
                    "sidebar": sidebar(listed, root, language, page),
                    "topbar": topbar(page, twin(page, pages), root, language, other_index),
                    "pager": pager(listed, page, root),
                    "contents_title": WORDS[language]["contents"],
                },
            )
            target = out / page.href
            target.write_text(body, encoding="utf-8")
            written.append(target)
            index += search_entries(page, body)
            name = page.title.partition(" · ")[2] or page.title
            items.append(
                f'<li value="{int(page.path.name[:2])}">'
                f'<a href="{page.path.stem}.html"><b>{html.escape(name)}</b></a>'
                f'<br>{inline_markdown(page.hook)} <small>(<a href="{page.binder}">Binder</a> · '
                f'<a href="{page.colab}">Colab</a>)</small></li>'
            )
        (out / LANGUAGES[language] / "index.html").write_text(
            INDEX.format(
                lang=language,
                root=root,
                series=html.escape(WORDS[language]["series"]),
                mathjax=mathjax_head(root),
                sidebar=sidebar(listed, root, language, None),
                topbar=topbar(None, None, root, language, other_index),
                intro=INDEX_INTRO[language],
                items="\n".join(items),
            ),
            encoding="utf-8",
        )
    payload = json.dumps(index, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    (out / "static" / "search-index.js").write_text(f"window.SITE_SEARCH = {payload};\n", encoding="utf-8")
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where to write the site (site/)")
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build(args.out)
    size = sum(p.stat().st_size for p in pages) / 1e6
    print(
        f"{args.out}: {len(pages)} pages ({size:.1f} MB), an index per language and the search index"
        f" in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
