"""Build the kernel-free website: one HTML page per notebook from its stored outputs, and an index.

    python -m tools.site [--out DIR]      (make site: into site/)

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
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
MATHJAX_URL = "static/mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

# The lab template, minus everything it would fetch: require.js, widgets, mermaid; MathJax is local.
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js_requirejs %}{% endblock html_head_js_requirejs %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block html_head_js_mathjax %}{{ resources.mathjax_head }}{% endblock html_head_js_mathjax %}
{% block extra_css %}<link rel="icon" href="data:,"><link rel="stylesheet" href="static/site.css">
{% endblock extra_css %}
{% block body_header %}{{ super() }}
<nav class="site-nav"><a href="index.html">All notebooks</a>
<a class="binder" href="{{ resources.binder_url }}">Run this notebook on Binder</a></nav>
{% endblock body_header %}
{% block footer_js %}<script src="static/plotly.min.js"></script><script src="static/site.js"></script>
{% endblock footer_js %}
"""

SITE_JS = """// Draw every stored plotly figure; a static explorer's frames go in too, so its slider animates.
document.querySelectorAll("div.site-plot").forEach((div) => {
  const spec = JSON.parse(document.getElementById(div.id + "-json").textContent);
  const config = Object.assign({responsive: true, displaylogo: false}, spec.config || {});
  Plotly.newPlot(div, spec.data, spec.layout || {}, config).then((gd) =>
    spec.frames && spec.frames.length ? Plotly.addFrames(gd, spec.frames) : gd);
});
"""

SITE_CSS = """.site-nav { display: flex; gap: 2em; padding: 0.6em 1em; margin-bottom: 1em;
  border-bottom: 1px solid #ddd; font-family: var(--jp-ui-font-family, sans-serif); }
.site-nav .binder { font-weight: bold; }
.live-note { border-left: 4px solid #f0ad4e; background: #fcf8e3; padding: 0.5em 1em;
  font-family: var(--jp-ui-font-family, sans-serif); color: #555; }
.site-index { max-width: 60em; margin: 2em auto; font-family: sans-serif; line-height: 1.5; }
.site-index li { margin-bottom: 1em; }
"""

# jupyter-server-mathjax ships MathJax 2.7 with the STIX-Web fonts only (as Jupyter's classic notebook
# used it): without this the HTML-CSS output asks for the TeX fonts, which are not there, and Chromium
# (which reads MathML) would get the native MathML output, whose fonts are missing as well; the hidden
# MathML copies for screen readers would ask for them too. MathJax's font test measures against a font at
# url(about:blank), which Chromium reports as a blocked request: a local() name that is never found does
# the same job without one.
MATHJAX_HEAD = f"""<script type="text/x-mathjax-config">
MathJax.Hub.Config({{
  tex2jax: {{inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], displayMath: [['$$', '$$'], ['\\\\[', '\\\\]']],
            processEscapes: true, processEnvironments: true}},
  TeX: {{equationNumbers: {{autoNumber: "AMS", useLabelIds: true}}}},
  "HTML-CSS": {{availableFonts: [], webFont: "STIX-Web", imageFont: null, preferredFont: null,
               linebreaks: {{automatic: true}},
               styles: {{"@font-face": {{"font-family": "MathJax_Blank", src: "local('MathJax_Blank')"}}}}}},
  MMLorHTML: {{prefer: "HTML"}}, menuSettings: {{assistiveMML: false}},
  displayAlign: "center", messageStyle: "none"
}});
</script>
<script src="{MATHJAX_URL}"></script>"""

INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>reslib: residual networks, notebook by notebook</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="static/site.css">
{mathjax}</head>
<body><main class="site-index">
<h1>Residual networks, notebook by notebook</h1>
<p>The reslib series as read-only pages: every output as it was last run, figures you can zoom
and hover, and each explorer as a static copy whose slider steps through precomputed frames. To run the
code and use the live explorers, open a notebook on Binder (link on each page) or run
<code>make lab</code> in a clone.</p>
<ol class="notebooks">
{items}
</ol></main></body></html>
"""


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
                shown = f'<div class="live-note">{html.escape(note)}</div>' if "live explorer" in note else ""
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


def build(out: Path, notebooks: Path = NOTEBOOKS) -> list[Path]:
    """Write `out/index.html`, one page per notebook and `out/static/`; return the pages."""
    import nbformat

    copy_static(out)
    html_exporter = exporter()
    pages, items = [], []
    for path in sorted(notebooks.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        convert_outputs(nb)
        title, hook = title_and_hook(nb)
        binder = BINDER.format(file=path.name)
        body, _ = html_exporter.from_notebook_node(
            nb, resources={"metadata": {"name": title}, "binder_url": binder, "mathjax_head": MATHJAX_HEAD}
        )
        page = out / f"{path.stem}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        number, _, name = title.partition(" · ")
        items.append(
            f'<li value="{int(path.name[:2])}"><a href="{page.name}"><b>{html.escape(name or title)}</b></a>'
            f'<br>{inline_markdown(hook)} <small>(<a href="{binder}">run on Binder</a>)</small></li>'
        )
    (out / "index.html").write_text(
        INDEX.format(mathjax=MATHJAX_HEAD, items="\n".join(items)), encoding="utf-8"
    )
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "site", help="where to write the site (site/)")
    args = parser.parse_args()
    start = time.perf_counter()
    pages = build(args.out)
    size = sum(p.stat().st_size for p in pages) / 1e6
    print(
        f"{args.out}: {len(pages)} pages ({size:.1f} MB) + index.html in {time.perf_counter() - start:.1f} s"
    )


if __name__ == "__main__":
    main()
