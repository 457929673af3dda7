"""The Korean edition (notebooks/ko/) stays a translation of the English notebooks (tools/translation.py)."""

from __future__ import annotations

import copy

import nbformat
import pytest

from tools import translation as tr

KOREAN = tr.korean_notebooks()
ENGLISH = sorted(tr.ENGLISH.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", KOREAN, ids=lambda p: p.name)
def test_the_korean_notebook_is_in_sync_with_its_english_twin(path):
    english = nbformat.read(tr.english_twin(path), as_version=4)
    found = tr.problems(english, nbformat.read(path, as_version=4))
    assert not found, f"{path.name}:\n" + "\n".join(found)


@pytest.mark.parametrize("path", ENGLISH, ids=lambda p: p.name)
def test_every_notebook_has_a_korean_edition(path):
    if not (tr.KOREAN / path.name).exists():
        pytest.xfail(f"not translated yet: python -m tools.translation new notebooks/{path.name}")


def _pair() -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """A small English notebook and its Korean translation, in sync."""
    en = nbformat.v4.new_notebook()
    en.cells = [
        nbformat.v4.new_markdown_cell(
            "## Residual connections\n\nA block adds its input to its output: $h = x + f(x)$."
        ),
        nbformat.v4.new_code_cell(
            "depth = 12\n"
            'print(f"depth {depth}: loss {0.5:.2f}")  # the deepest net\n'
            'net = mlp(depth, norm="batch")'
        ),
    ]
    en.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="depth 12: loss 0.50\n")]
    ko = copy.deepcopy(en)
    ko.cells[0].source = "## 잔차 연결\n\n블록은 입력을 출력에 더한다: $h = x + f(x)$."
    ko.cells[1].source = (
        "depth = 12\n"
        'print(f"손실 {0.5:.2f}, 깊이 {depth}")  # 가장 깊은 신경망\n'
        'net = mlp(depth, norm="batch")'
    )
    ko.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="손실 0.50, 깊이 12\n")]
    for e, k in zip(en.cells, ko.cells, strict=True):
        k.metadata[tr.KEY] = {"translates": tr.source_hash(e.source)}
    return en, ko


def test_a_translation_may_change_prose_comments_and_printed_strings():
    en, ko = _pair()
    assert tr.problems(en, ko) == []  # f-string fields reordered, comment and labels in Korean


def test_an_english_cell_edited_after_translation_is_named():
    en, ko = _pair()
    en.cells[0].source += " It is the identity when f is zero."  # the deliberate edit
    assert tr.problems(en, ko) == [
        f"cell 0 (markdown, id {en.cells[0].id}): the English cell changed since; revisit it, "
        "then python -m tools.translation mark <ko file> 0"
    ]
    ko.cells[0].metadata[tr.KEY]["translates"] = tr.source_hash(en.cells[0].source)  # revisited, marked
    assert tr.problems(en, ko) == []


def test_an_english_comment_edited_after_translation_is_named_too():
    en, ko = _pair()
    en.cells[1].source = en.cells[1].source.replace("the deepest net", "the deepest network here")
    assert [p.split(":")[0] for p in tr.problems(en, ko)] == [f"cell 1 (code, id {en.cells[1].id})"]


@pytest.mark.parametrize(
    "edit",
    [
        ("depth = 12", "depth = 13"),  # a number
        ('norm="batch"', 'norm="batch", residual=True'),  # an argument
        ("{depth}", "{depth + 1}"),  # what an f-string prints
        ("net = mlp", "model = mlp"),  # an identifier
    ],
    ids=["number", "argument", "f-string field", "identifier"],
)
def test_korean_code_that_computes_something_else_is_refused(edit):
    en, ko = _pair()
    ko.cells[1].source = ko.cells[1].source.replace(*edit)
    assert "the code differs beyond strings and comments" in " ".join(tr.problems(en, ko))


def test_checked_outputs_must_hold_the_same_numbers():
    en, ko = _pair()
    ko.cells[1].outputs[0].text = "손실 0.51, 깊이 12\n"
    assert "other numbers" in " ".join(tr.problems(en, ko))
    ko.cells[1].source = "# NBVAL_IGNORE_OUTPUT\n" + ko.cells[1].source  # not a checked output: not compared
    en.cells[1].source = "# NBVAL_IGNORE_OUTPUT\n" + en.cells[1].source
    for e, k in zip(en.cells, ko.cells, strict=True):
        k.metadata[tr.KEY] = {"translates": tr.source_hash(e.source)}
    assert tr.problems(en, ko) == []


def test_an_untranslated_markdown_cell_is_refused():
    en, ko = _pair()
    ko.cells[0].source = en.cells[0].source + " Its gradient is the identity plus that of f."
    assert "Hangul" in " ".join(tr.problems(en, ko))


def test_missing_or_reordered_cells_are_refused():
    en, ko = _pair()
    ko.cells = ko.cells[::-1]
    assert "the cells differ" in tr.problems(en, ko)[0]
    ko.cells = ko.cells[:1]
    assert "the cells differ" in tr.problems(en, ko)[0]


def test_slide_types_must_match():
    en, ko = _pair()
    en.cells[0].metadata["slideshow"] = {"slide_type": "slide"}
    assert "slide type differs" in " ".join(tr.problems(en, ko))


@pytest.mark.parametrize(
    ("markdown", "share"),
    [
        ("잔차 연결(residual connection)은 입력을 더한다.", (0.5, 1.0)),  # a term in parentheses is fine
        (
            "$$h_{k+1} = h_k + f_k(h_k)$$ 에서 `rl.mlp.mlp(depth)` 를 본다",
            (0.99, 1.0),
        ),  # math, code not counted
        ("The block adds its input.", (0.0, 0.01)),
    ],
)
def test_hangul_share_counts_prose_outside_math_and_code(markdown, share):
    low, high = share
    assert low <= tr.hangul_share(markdown)[0] <= high


@pytest.mark.parametrize("path", KOREAN, ids=lambda p: p.name)
def test_every_korean_notebook_links_to_itself_on_binder_and_colab_and_to_its_english_twin(path):
    from tools.site import BINDER
    from tools.site import REPOSITORY as REPO

    title = nbformat.read(path, as_version=4).cells[0].source
    for link in (
        BINDER.format(file=f"ko/{path.name}"),
        f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/ko/{path.name}",
        f"../{path.name}",
    ):
        assert f"]({link})" in title, f"{path.name}: its first cell should link to {link}"


def test_the_readme_links_every_korean_notebook_on_binder_and_colab():
    from tools.site import BINDER
    from tools.site import REPOSITORY as REPO

    readme = (tr.ROOT / "README.md").read_text()
    section = readme[readme.index("## 한국어판") :]
    for path in KOREAN:
        row = next(line for line in section.splitlines() if line.startswith(f"| {path.name[:2]} |"))
        assert f"](notebooks/ko/{path.name})" in row, row
        assert f"]({BINDER.format(file=f'ko/{path.name}')})" in row, row
        assert (
            f"](https://colab.research.google.com/github/{REPO}/blob/main/notebooks/ko/{path.name})" in row
        ), row
