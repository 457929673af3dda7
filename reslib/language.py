"""The language of what reslib says to a learner: English, or Korean for the Korean edition.

Every sentence reslib shows a learner (a check's verdict and hints, a prediction form, an
explorer's labels, a figure's title and axes) is written in English and passed through `tr`,
with its variable parts as named fields:

    >>> tr("off by {diff:.3g}", diff=0.25)
    'off by 0.25'

The English template is the key. `set_language("ko")`, in the Korean edition's setup cell, makes
`tr` look it up in the Korean catalogue, `reslib/locale/ko/*.json` (one file per topic, each a
table of English template -> Korean template with the same fields), and fill in the same fields.
English is the default; a template the catalogue lacks is shown in English (`tests/test_language.py`
fails on one, on a Korean entry nothing uses, and on one whose fields or numbers differ).

Error messages of argument checks (`TypeError`, `ValueError`) stay English: they are for whoever
calls the function, and English ones are what a search engine finds.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from reslib.validate import require_choice, typechecked

__all__ = ["LANGUAGES", "language", "local_language", "set_language", "tr"]

# The languages reslib speaks; the first is the default and needs no catalogue.
LANGUAGES = ("en", "ko")
# The catalogues: reslib/locale/<code>/<topic>.json.
LOCALE = Path(__file__).parent / "locale"

_language = LANGUAGES[0]


@typechecked
def set_language(code: str) -> None:
    """Speak `code` ("en" or "ko") from now on: in check feedback, forms, explorers and figures.

    Raises:
        ValueError: `code` is not one of `LANGUAGES`.
    """
    global _language
    _language = require_choice("code", code, LANGUAGES, "use 'en' for English or 'ko' for Korean")


def language() -> str:
    """The language reslib speaks now, "en" unless `set_language` said otherwise."""
    return _language


@typechecked
def local_language(code: str) -> contextlib.AbstractContextManager[None]:
    """Speak `code` inside the block, and the language before it afterwards (also on an error).

    Raises:
        ValueError: `code` is not one of `LANGUAGES` (when called, before the block).
    """
    return _speaking(require_choice("code", code, LANGUAGES, "use 'en' for English or 'ko' for Korean"))


@contextlib.contextmanager
def _speaking(code: str) -> Iterator[None]:
    before = _language
    set_language(code)
    try:
        yield
    finally:
        set_language(before)


@functools.cache
@typechecked
def catalogue(code: str) -> Mapping[str, str]:
    """English template -> template in language `code`, merged from `reslib/locale/<code>/*.json`.

    Raises:
        ValueError: two files translate the same template differently.
    """
    code = require_choice("code", code, LANGUAGES)
    merged: dict[str, str] = {}
    for path in sorted((LOCALE / code).glob("*.json")):
        for english, text in json.loads(path.read_text(encoding="utf-8")).items():
            if merged.get(english, text) != text:
                raise ValueError(f"{path.name} translates {english!r} differently from another file")
            merged[english] = text
    return MappingProxyType(merged)


def tr(template: str, **fields: object) -> str:
    """`template` in the current language, with `fields` filled in as `str.format` would.

    Without fields, the template is returned as it is (braces in it are text). With fields,
    write a literal brace as `{{` or `}}`. Not `@typechecked`: it runs for every word an explorer
    redraws, so it checks its one type by hand.

    Raises:
        TypeError: `template` is not a str.
        KeyError: the template names a field that `fields` lacks.
    """
    if not isinstance(template, str):
        raise TypeError(f"template must be a str (an English sentence), got {type(template).__name__}")
    if _language != LANGUAGES[0]:
        template = catalogue(_language).get(template, template)
    return template.format(**fields) if fields else template
