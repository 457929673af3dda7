"""The Korean edition, `notebooks/ko/`: each notebook a translation of its English twin, kept in sync.

    python -m tools.translation status [ko/NN_name.ipynb ...]     what is stale, untranslated or diverged
    python -m tools.translation new notebooks/NN_name.ipynb       a Korean copy to translate (all stale)
    python -m tools.translation mark ko/NN_name.ipynb CELL ...    record that CELLs (indices, or all)
                                                                  were revisited against the English
    python -m tools.translation slides                            copy the English slide types over
    python -m tools.translation library [--missing FILE.py ...]   reslib's own words: what the Korean
                                                                  catalogue lacks, has unused or differs

A Korean notebook has the English notebook's cells, in the same order, with the same ids and slide
types. What may differ:

- markdown cells: everything (written for a Korean reader, not word for word);
- code cells: string literals and comments only. Identifiers, `reslib` calls, numbers and asserts
  are the English cell's, so the checked outputs are the same numbers (`code_shape` compares the
  cells' syntax trees with every string emptied; an f-string keeps its `{...}` fields, in any order,
  since Korean puts them elsewhere in a sentence). Strings a function compares (`norm="batch"`, dict
  keys looked up later) stay as they are: nbval fails the notebook where one was translated.

Every Korean cell records the hash of the English source it translates (`metadata.reslib.translates`),
so when an English cell changes, tests/test_translation.py names its Korean twin until someone revisits
it and marks it. The checked (not NBVAL_IGNORE_OUTPUT) text outputs of both editions hold the same
numbers, and every Korean markdown cell of some length (but the references) reads mostly in Hangul
outside math and code.

What `reslib` itself says (check feedback, forms, explorers, figures) goes through
`reslib.language.tr("English template {field}", field=...)`; `library_problems` holds the Korean
catalogue, `reslib/locale/ko/*.json`, to the templates the code passes: every literal template has an
entry with the same `{fields}` and the same numbers, in Hangul, and every entry is used.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
KOREAN = ENGLISH / "ko"
KEY = "reslib"  # cell metadata: {"reslib": {"translates": <hash of the English source>}}
IGNORE_OUTPUT = "NBVAL_IGNORE_OUTPUT"
# A markdown cell with at least this many letters outside math, code, links and HTML must read mostly in
# Hangul: a Hangul syllable counts 3 (it holds about as much as three Latin letters: 잔차 ~ "resid").
MIN_LETTERS = 40
REFERENCES = "## References"  # citations (authors, titles, venues) stay as published: not counted
MIN_HANGUL_SHARE = 0.5


def korean_notebooks() -> list[Path]:
    return sorted(KOREAN.glob("[0-9][0-9]_*.ipynb"))


def english_twin(path: Path) -> Path:
    return path.resolve().parent.parent / path.name


def source_hash(source: str) -> str:
    """The first 16 hex digits of the SHA-256 of a cell's source."""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class _Shape(ast.NodeTransformer):
    """Empties every string; an f-string becomes its `{...}` fields, sorted (their text is free)."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant("") if isinstance(node.value, str) else node

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        fields = sorted(
            (ast.dump(self.visit(v)) for v in node.values if isinstance(v, ast.FormattedValue)),
        )
        return ast.Tuple([ast.Constant(f) for f in fields], ast.Load())


def code_shape(source: str) -> str:
    """`source` with its strings and comments gone: what a translation must leave unchanged."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))  # %magics become calls
    return ast.dump(_Shape().visit(tree))


_NOT_PROSE = re.compile(
    r"\$\$.*?\$\$|\$[^$\n]+\$|```.*?```|`[^`]*`|<[^>\n]+>|\]\([^)\s]*\)|https?://\S+|&\w+;",
    re.DOTALL,
)


def hangul_share(markdown: str) -> tuple[float, int]:
    """(Hangul's share of the prose, the prose's letters), outside math, code, links and HTML tags."""
    prose = _NOT_PROSE.sub(" ", markdown)
    hangul = len(re.findall(r"[\uac00-\ud7a3]", prose))
    latin = len(re.findall(r"[A-Za-z]", prose))
    letters = 3 * hangul + latin
    return (3 * hangul / letters if letters else 1.0), letters


# A number: signed only where no letter or digit precedes it ("lag-1" holds 1); "12." is 12.
_NUMBER = re.compile(r"(?:(?<![\w.])[-+])?(?:\d+\.\d+|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def output_numbers(cell: nbformat.NotebookNode) -> list[str]:
    """The numbers in a code cell's printed and displayed text, sorted (a translation may reorder)."""
    texts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            texts.append(out.get("text", ""))
        elif "text/plain" in out.get("data", {}) and not {"application/vnd.jupyter.widget-view+json"} & set(
            out["data"]
        ):
            texts.append(out["data"]["text/plain"])
        elif out.get("output_type") == "error":
            texts.append(out.get("ename", ""))
    text = "".join(t if isinstance(t, str) else "".join(t) for t in texts)
    return sorted(_NUMBER.findall(text))


def problems(english: nbformat.NotebookNode, korean: nbformat.NotebookNode) -> list[str]:
    """Every way `korean` is not (or no longer) a translation of `english`; empty when in sync."""
    en, ko = english.cells, korean.cells
    found = []
    if [c.cell_type for c in en] != [c.cell_type for c in ko]:
        return [
            f"the cells differ: English {len(en)} ({''.join(c.cell_type[0] for c in en)}), "
            f"Korean {len(ko)} ({''.join(c.cell_type[0] for c in ko)}); "
            "a Korean notebook has the same cells in the same order (python -m tools.translation new)"
        ]
    for i, (e, k) in enumerate(zip(en, ko, strict=True)):
        where = f"cell {i} ({e.cell_type}, id {e.get('id')})"
        if e.get("id") != k.get("id"):
            found.append(f"{where}: its Korean twin has id {k.get('id')}")
        if e.metadata.get("slideshow") != k.metadata.get("slideshow"):
            found.append(f"{where}: slide type differs (python -m tools.translation slides)")
        marked = k.metadata.get(KEY, {}).get("translates")
        if marked != source_hash(e.source):
            state = "never marked as translated" if marked is None else "the English cell changed since"
            found.append(f"{where}: {state}; revisit it, then python -m tools.translation mark <ko file> {i}")
        if e.cell_type == "code":
            try:
                same = code_shape(e.source) == code_shape(k.source)
            except SyntaxError as exc:
                found.append(f"{where}: the Korean code does not parse: {exc}")
                continue
            if not same:
                found.append(f"{where}: the code differs beyond strings and comments")
            if IGNORE_OUTPUT not in e.source and output_numbers(e) != output_numbers(k):
                found.append(f"{where}: its checked outputs hold other numbers than the English ones")
        elif e.cell_type == "markdown" and not e.source.startswith(REFERENCES):
            share, letters = hangul_share(k.source)
            if letters >= MIN_LETTERS and share < MIN_HANGUL_SHARE:
                found.append(
                    f"{where}: only {share:.0%} Hangul outside math and code (the rest untranslated?)"
                )
    return found


def new(english_path: Path) -> Path:
    """Write `notebooks/ko/<name>`: the English notebook, every cell still to translate and mark."""
    nb = nbformat.read(english_path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop(KEY, None)
    target = KOREAN / english_path.name
    if target.exists():
        raise FileExistsError(f"{target} exists; edit it, or delete it first to start again")
    KOREAN.mkdir(exist_ok=True)
    nbformat.write(nb, target)
    return target


def mark(korean_path: Path, cells: Sequence[int] | None) -> list[int]:
    """Record that `cells` (all if None) of the Korean notebook translate the English as it is now."""
    english = nbformat.read(english_twin(korean_path), as_version=4)
    korean = nbformat.read(korean_path, as_version=4)
    if len(english.cells) != len(korean.cells):
        raise ValueError(
            f"{korean_path.name}: {len(korean.cells)} cells, the English has {len(english.cells)}"
        )
    indices = range(len(korean.cells)) if cells is None else cells
    for i in indices:
        if not 0 <= i < len(korean.cells):
            raise ValueError(f"cell {i} is not a cell of {korean_path.name} (0 to {len(korean.cells) - 1})")
        korean.cells[i].metadata.setdefault(KEY, {})["translates"] = source_hash(english.cells[i].source)
    nbformat.write(korean, korean_path)
    return list(indices)


def copy_slides(korean_path: Path) -> bool:
    """Give the Korean cells the English slide types; True if the file changed."""
    english = nbformat.read(english_twin(korean_path), as_version=4)
    korean = nbformat.read(korean_path, as_version=4)
    before = copy.deepcopy(korean)
    for e, k in zip(english.cells, korean.cells, strict=False):
        if "slideshow" in e.metadata:
            k.metadata["slideshow"] = copy.deepcopy(e.metadata["slideshow"])
        else:
            k.metadata.pop("slideshow", None)
    if korean == before:
        return False
    nbformat.write(korean, korean_path)
    return True


LIBRARY = ROOT / "reslib"
_FIELD = re.compile(r"\{[^{}]*\}")


def library_templates(files: Sequence[Path] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """({template: [where it is passed to `tr`, "file:line"]}, [calls whose template is not a literal])."""
    found: dict[str, list[str]] = {}
    bad = []
    for path in files or sorted(LIBRARY.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path.name
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            if name != "tr":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(f"{where}:{node.lineno}")
            else:
                bad.append(
                    f"{where}:{node.lineno}: tr needs a literal English template as its first argument"
                )
    return found, bad


def _words(text: str) -> str:
    return _FIELD.sub(" ", re.sub(r"`[^`]*`|<[^>]*>|\$[^$]*\$", " ", text))


# A Korean particle right after a field: right or wrong by the field's last syllable (을/를, 이/가, ...).
_PARTICLE = re.compile(r"\}(?:을|를|은|는|과|와|가|으로|로|이(?!다|며|고|었|어|므))(?=[\s.,:;)]|$)")


def catalogue_problems(
    templates: dict[str, list[str]], table: Mapping[str, str], code: str = "ko"
) -> list[str]:
    """What is wrong with `table` (English template -> `code` template) for `templates`, one line each."""
    found = []
    for english, where in sorted(templates.items()):
        text = table.get(english)
        if text is None:
            found.append(f"{where[0]}: no {code} entry for {english!r}")
            continue
        if sorted(_FIELD.findall(english)) != sorted(_FIELD.findall(text)):
            found.append(f"{where[0]}: the {code} entry for {english!r} has other fields: {text!r}")
        if sorted(_NUMBER.findall(_FIELD.sub(" ", english))) != sorted(
            _NUMBER.findall(_FIELD.sub(" ", text))
        ):
            found.append(f"{where[0]}: the {code} entry for {english!r} has other numbers: {text!r}")
        if re.search(r"[A-Za-z]{3}", _words(english)) and not re.search(r"[\uac00-\ud7a3]", text):
            found.append(f"{where[0]}: the {code} entry for {english!r} is not in Hangul: {text!r}")
        if code == "ko" and _PARTICLE.search(text):
            found.append(
                f"{where[0]}: the {code} entry for {english!r} puts a particle after a field: {text!r}"
            )
    found += [
        f"reslib/locale/{code}: {english!r} is not a template in reslib"
        for english in table
        if english not in templates
    ]
    return found


def library_problems(code: str = "ko") -> list[str]:
    """What is wrong with reslib's catalogue for language `code`: `catalogue_problems` of every template."""
    from reslib.language import catalogue

    templates, found = library_templates()
    return found + catalogue_problems(templates, catalogue(code), code)


def missing_entries(files: Sequence[Path], code: str = "ko") -> dict[str, str]:
    """{template: ""} for the templates in `files` that the catalogue lacks: a table to fill in."""
    from reslib.language import catalogue

    templates, _ = library_templates(files)
    return {english: "" for english in templates if english not in catalogue(code)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status")
    status.add_argument("paths", nargs="*", type=Path)
    create = sub.add_parser("new")
    create.add_argument("english", type=Path)
    marking = sub.add_parser("mark")
    marking.add_argument("korean", type=Path)
    marking.add_argument("cells", nargs="+", help="cell indices, or: all")
    sub.add_parser("slides")
    library = sub.add_parser("library")
    library.add_argument(
        "--missing", nargs="+", type=Path, help="print a JSON table of these files' missing templates"
    )
    args = parser.parse_args(argv)
    if args.command == "new":
        print(f"wrote {new(args.english)}: translate each cell, then mark it")
        return 0
    if args.command == "mark":
        cells = None if args.cells == ["all"] else [int(c) for c in args.cells]
        print(f"marked {len(mark(args.korean, cells))} cells of {args.korean.name}")
        return 0
    if args.command == "slides":
        for path in korean_notebooks():
            if copy_slides(path):
                print(f"slides: {path.name}")
        return 0
    if args.command == "library":
        if args.missing:
            print(json.dumps(missing_entries(args.missing), ensure_ascii=False, indent=2))
            return 0
        found = library_problems()
        print("\n".join(found) or "reslib's Korean catalogue: complete")
        return 1 if found else 0
    bad = 0
    for path in args.paths or korean_notebooks():
        found = problems(nbformat.read(english_twin(path), as_version=4), nbformat.read(path, as_version=4))
        print(f"{path.name}: {'in sync' if not found else f'{len(found)} problems'}")
        for line in found:
            print(f"  {line}")
        bad += bool(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
