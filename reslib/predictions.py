"""Committed predictions: the learner's guess, recorded before the cell that answers it.

Every "Predict, then run" prompt of the series is a `predict(...)` cell. It shows a small form
(a number box, or one button per option) and a Commit button; committing saves the guess to a
JSON file on this machine (`store_path()`: `~/.reslib/predictions.json`, or the file named by
the `RESLIB_PREDICTIONS` environment variable; nothing is ever sent anywhere). The cell that
computes the answer calls `reveal(result)` on the same object, which records the result and shows
the guess beside it. `summary("01")` closes a notebook with a table of every guess against its
result; `summary()` does the same across the series.

Nothing waits for input: Run All and the test runs pass straight through, and a `reveal` with no
guess committed says so and folds the result away, so a learner who skipped the prompt can still
decide to guess before opening it. Without a kernel (the static site, GitHub) the form is shown as
text. A guess committed after its answer was shown is kept, marked as such, and left out of the
score.

Example:
    >>> depth = predict("01-lowest-loss", "Which depth ends with the lowest training loss?",
    ...                 options=[1, 2, 4, 8, 16])
    >>> depth  # the form; the learner clicks 16, then Commit  # doctest: +SKIP
    >>> depth.commit(16)  # what the Commit button does
    >>> depth.reveal(2)  # in the cell that trained the networks  # doctest: +SKIP
    You predicted 16; the result is 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from reslib.language import tr
from reslib.validate import require_float, typechecked

__all__ = [
    "Prediction",
    "Reveal",
    "Summary",
    "forget",
    "predict",
    "store_path",
    "summary",
]

ENV = "RESLIB_PREDICTIONS"  # a path that overrides where predictions are saved (the tests use one)
KEY = re.compile(r"(\d\d)-[a-z0-9]+(-[a-z0-9]+)*")
_memory: dict[str, dict] = {}  # the store, when the file cannot be written (a read-only home)
_failed: list[str] = []  # why the file could not be written, once


def store_path() -> Path:
    """The JSON file the predictions are saved in: `$RESLIB_PREDICTIONS`, else ~/.reslib/predictions.json."""
    override = os.environ.get(ENV)
    return Path(override) if override else Path.home() / ".reslib" / "predictions.json"


def _load() -> dict[str, dict]:
    path = store_path()
    stored: dict[str, dict] = {}
    with contextlib.suppress(OSError, ValueError):  # missing or unreadable: start empty
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("predictions"), dict):
            stored = {k: v for k, v in data["predictions"].items() if isinstance(v, dict)}
    stored.update(_memory)
    return stored


def _save(entries: dict[str, dict]) -> str:
    """Write `entries` atomically; return "" or why they are only kept in memory for this session."""
    path = store_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
            json.dump({"version": 1, "predictions": entries}, f, indent=1, sort_keys=True)
        os.replace(f.name, path)
        _memory.clear()
        return ""
    except OSError as exc:
        _memory.update(entries)
        return f"could not save to {path} ({exc.strerror or exc}); kept for this session only"


@contextlib.contextmanager
def _entries() -> Iterator[dict[str, dict]]:
    entries = _load()
    yield entries
    problem = _save(entries)
    if problem and not _failed:
        _failed.append(problem)


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _format(value: object, unit: str = "") -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        text = f"{value:,.0f}"  # a count: 147,456, not 1.475e+05
    elif isinstance(value, float):
        text = f"{value:,.4g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def _closeness(guess: object, actual: object, options: list | None, tolerance: float, log: bool) -> str:
    """The verdict: right or wrong for a choice; close or far (against tolerance) for a number."""
    if options is not None:
        return "right" if guess == actual else "wrong"
    g, a = float(guess), float(actual)
    if log:
        if g <= 0 or a <= 0:
            return "far"
        factor = max(g / a, a / g)
        return "close" if factor <= 1 + tolerance else "far"
    if a == 0:
        return "close" if g == 0 else "far"
    return "close" if abs(g - a) <= tolerance * abs(a) else "far"


def _shown(verdict: str) -> str:
    """A verdict as the learner reads it; the stored word stays English (colours and counts use it)."""
    words = {
        "right": tr("right"),
        "wrong": tr("wrong"),
        "close": tr("close"),
        "far": tr("far"),
        "late: not scored": tr("late: not scored"),
        "not revealed yet": tr("not revealed yet"),
    }
    return words.get(verdict, verdict)


def _distance(guess: object, actual: object, options: list | None, log: bool) -> str:
    if options is not None:
        return ""
    g, a = float(guess), float(actual)
    if log and g > 0 and a > 0:
        factor = max(g / a, a / g)
        return tr("off by a factor of {factor:.3g}", factor=factor) if factor > 1.0005 else tr("spot on")
    if a != 0:
        return tr("off by {share:.0%}", share=abs(g - a) / abs(a)) if g != a else tr("spot on")
    return tr("spot on") if g == 0 else tr("off by {diff:.3g}", diff=abs(g))


@typechecked
class Prediction:
    """One prompt: the question, its options (or a number), the committed guess and the result.

    Made by `predict`; shows its form when it is the last value of a cell; `commit(value)` saves a
    guess (the Commit button calls it), `reveal(result)` records the result and shows both.
    """

    def __init__(
        self,
        key: str,
        question: str,
        options: Sequence[object] | None = None,
        unit: str = "",
        tolerance: float = 0.25,
        log: bool = False,
    ):
        if not KEY.fullmatch(key):
            raise ValueError(
                f"key must be the notebook's number and a slug, like '01-lowest-loss', got {key!r}"
            )
        if not question.strip():
            raise ValueError("question must be a sentence, got a blank string")
        if options is not None:
            if isinstance(options, str) or len(options) < 2 or len(set(map(str, options))) < len(options):
                raise ValueError(
                    f"options must be two or more distinct choices, e.g. [1, 2, 4], got {options!r}"
                )
            options = list(options)
        self.key, self.question, self.options = key, question, options
        self.unit, self.tolerance, self.log = unit, require_float("tolerance", tolerance, minimum=0.0), log

    # -- state ----------------------------------------------------------------------------------

    @property
    def entry(self) -> dict:
        """What the store holds for this prompt ({} before anything is committed or revealed)."""
        return dict(_load().get(self.key, {}))

    @property
    def guess(self) -> object:
        """The committed guess, or None."""
        return self.entry.get("guess")

    def _parse(self, value: object) -> object:
        if self.options is not None:
            for option in self.options:
                if value == option or (isinstance(value, str) and value.strip() == str(option)):
                    return option
            raise ValueError(f"{self.key}: the guess must be one of {self.options!r}, got {value!r}")
        if isinstance(value, str):
            try:
                value = float(value.strip().replace(",", ""))
            except ValueError:
                raise ValueError(f"{self.key}: type a number such as 0.5 or 1e-3, got {value!r}") from None
        return require_float("value", value)

    def commit(self, value: object) -> str:
        """Save `value` as the guess (replacing an earlier one) and return what the form says.

        Raises:
            ValueError: a value that is not one of the options, or not a number.
        """
        value = self._parse(value)
        with _entries() as entries:
            entry = entries.setdefault(self.key, {})
            late = "revealed" in entry
            entry.update(question=self.question, options=self.options, unit=self.unit, guess=value)
            entry.update(committed=_now(), late=late, tolerance=self.tolerance, log=self.log)
        message = tr("Committed: {guess}.", guess=_format(value, self.unit))
        if not late:
            message += " " + tr("Now run the cells below to see the result.")
        if late:
            message += " " + tr("(You had already seen the answer, so this guess is not scored.)")
        if _failed:
            message += " " + tr("Note: {problem}.", problem=_failed[0])
        return message

    @typechecked
    def reveal(self, actual: object, note: str = "") -> Reveal:
        """Record `actual`, the result the cell computed, and show it beside the committed guess.

        Args:
            actual: one of the options, or a number.
            note: a sentence shown with the result (what it means, where to look).

        Raises:
            ValueError: a choice that is not one of the options, or a number that is not finite.
        """
        actual = self._parse(actual)
        if self.options is None and not math.isfinite(actual):
            raise ValueError(f"{self.key}: actual must be a finite number, got {actual!r}")
        with _entries() as entries:
            entry = entries.setdefault(self.key, {})
            entry.update(question=self.question, options=self.options, unit=self.unit, actual=actual)
            entry.setdefault("revealed", _now())
        return Reveal(self, actual, dict(entry), note)

    # -- display --------------------------------------------------------------------------------

    def _text(self) -> str:
        choices = (
            " " + tr("Options: {options}.", options=", ".join(map(str, self.options))) if self.options else ""
        )
        if self.options is None:
            unit = " " + (tr("(a number, in {unit})", unit=self.unit) if self.unit else tr("(a number)"))
        else:
            unit = ""
        return tr("Predict: {question}", question=self.question) + unit + choices

    def _html(self) -> str:
        if self.options:
            choices = ", ".join(f"<b>{html.escape(str(o), quote=False)}</b>" for o in self.options)
            how = tr("one of: {choices}", choices=choices)
        elif self.unit:
            how = tr("a number in {unit}", unit=html.escape(self.unit, quote=False))
        else:
            how = tr("a number")
        ask = tr("(Your answer: {how}. Run the notebook to commit it; the result is further down.)", how=how)
        return (
            '<div class="prediction" style="border-left:4px solid #1f77b4; padding:4px 10px">'
            f"<b>{html.escape(tr('Predict, then run.'))}</b> {html.escape(self.question, quote=False)} "
            f"<i>{ask}</i></div>"
        )

    def widget(self):  # ipywidgets is imported here, when a form is shown
        """The form: the question, a number box or option buttons, Commit, and a status line."""
        import ipywidgets as w

        question = w.HTML(
            f"<b>{html.escape(tr('Predict, then run.'))}</b> {html.escape(self.question, quote=False)}"
        )
        if self.options is None:
            field = w.Text(placeholder=tr("a number") + (f" ({self.unit})" if self.unit else ""))
        else:
            field = w.ToggleButtons(options=[str(o) for o in self.options], value=None)
        button = w.Button(description=tr("Commit"), button_style="primary")
        status = w.HTML()
        entry = self.entry
        if "guess" in entry:
            field.value = str(entry["guess"])
            status.value = html.escape(tr("Committed: {guess}.", guess=_format(entry["guess"], self.unit)))
        if "revealed" in entry and "guess" in entry:
            field.disabled = button.disabled = True
            status.value += " " + html.escape(
                tr("The result is shown below; `rl.predictions.forget(...)` starts over.")
            )

        def on_click(_: object) -> None:
            if field.value in (None, ""):
                status.value = html.escape(tr("Type or pick your guess first."))
                return
            try:
                status.value = html.escape(self.commit(field.value))
            except ValueError as exc:
                status.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'

        button.on_click(on_click)
        return w.VBox([question, w.HBox([field, button]), status])

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict:
        bundle = {"text/plain": self._text(), "text/html": self._html()}
        with contextlib.suppress(ImportError):
            widget_bundle = self.widget()._repr_mimebundle_()
            if widget_bundle:
                view = widget_bundle.get("application/vnd.jupyter.widget-view+json")
                if view is not None:
                    bundle["application/vnd.jupyter.widget-view+json"] = view
        return bundle

    def __repr__(self) -> str:
        return self._text()


@typechecked  # fields checked on construction, like any public call's arguments
@dataclasses.dataclass(frozen=True)
class Reveal:
    """What `Prediction.reveal` shows: the guess beside the result, or the result folded away."""

    prediction: Prediction
    actual: object
    entry: dict
    note: str = ""

    @property
    def verdict(self) -> str:
        """Right or wrong for a choice, close or far for a number; empty with no guess or a late one."""
        p, e = self.prediction, self.entry
        if "guess" not in e or e.get("late"):
            return ""
        return _closeness(e["guess"], self.actual, p.options, p.tolerance, p.log)

    def _sentence(self) -> str:
        p, e = self.prediction, self.entry
        result = _format(self.actual, p.unit)
        if "guess" not in e:
            return tr("No prediction committed for this one. The result: {result}.", result=result)
        distance = _distance(e["guess"], self.actual, p.options, p.log)
        late = " " + tr("(committed after the answer was shown: not scored)") if e.get("late") else ""
        verdict = _shown(self.verdict)
        tail = f" ({', '.join(t for t in (distance, verdict) if t)})" if verdict else ""
        guess = _format(e["guess"], p.unit)
        return tr(
            "You predicted {guess}; the result is {result}{tail}{late}.",
            guess=guess,
            result=result,
            tail=tail,
            late=late,
        )

    def __repr__(self) -> str:
        return self._sentence() + (f" {self.note}" if self.note else "")

    def _repr_html_(self) -> str:
        p, e = self.prediction, self.entry
        note = f" {html.escape(self.note)}" if self.note else ""
        if "guess" not in e:
            return (
                '<div class="prediction-result" style="border-left:4px solid #7f7f7f; padding:4px 10px">'
                f"{html.escape(tr('No prediction committed for this one. Guess first, then'))} "
                f'<details style="display:inline"><summary>{html.escape(tr("show the result"))}</summary>'
                f"<b>{html.escape(_format(self.actual, p.unit))}</b>.{note}</details></div>"
            )
        colour = {"right": "#1a7f37", "close": "#1a7f37", "wrong": "#cf222e", "far": "#9a6700"}.get(
            self.verdict, "#444"
        )
        return (
            f'<div class="prediction-result" style="border-left:4px solid {colour}; padding:4px 10px">'
            f"{html.escape(self._sentence())}{note}</div>"
        )


@typechecked  # fields checked on construction, like any public call's arguments
@dataclasses.dataclass(frozen=True)
class Summary:
    """The committed guesses of one notebook (or all), each beside its result: what `summary` shows."""

    rows: tuple[tuple[str, str, str, str, str], ...]  # key, question, guess, result, verdict
    scope: str

    @property
    def scored(self) -> int:
        """Guesses with a result, committed before it was shown."""
        return sum(1 for r in self.rows if r[4] in ("right", "wrong", "close", "far"))

    @property
    def good(self) -> int:
        """Of those, the right choices and the close numbers."""
        return sum(1 for r in self.rows if r[4] in ("right", "close"))

    def _headline(self) -> str:
        if not self.rows:
            return tr(
                "No predictions committed in {scope} yet. Each 'Predict, then run' form "
                "records one when you press Commit, before running the cell that answers it.",
                scope=self._scope(),
            )
        counts = {"scope": self._scope(), "n": len(self.rows), "scored": self.scored, "good": self.good}
        if len(self.rows) == 1:
            return tr("{scope}: {n} prediction committed, {scored} scored, {good} right or close.", **counts)
        return tr("{scope}: {n} predictions committed, {scored} scored, {good} right or close.", **counts)

    def _scope(self) -> str:
        if self.scope == "the series":
            return tr("the series")
        return tr("notebook {number}", number=self.scope.removeprefix("notebook "))

    def __repr__(self) -> str:
        lines = [self._headline()]
        lines += [
            (
                "  "
                + tr(
                    "{key}: guess {guess}, result {result} {verdict}",
                    key=key,
                    guess=guess,
                    result=result,
                    verdict=_shown(verdict),
                )
            ).rstrip()
            for key, _, guess, result, verdict in self.rows
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><b>{html.escape(self._headline())}</b></p>"
        if not self.rows:
            return head
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in (q, g, r, _shown(v_))) + "</tr>"
            for _, q, g, r, v_ in self.rows
        )
        heads = "".join(
            f"<th>{html.escape(h)}</th>"
            for h in (tr("question"), tr("your guess"), tr("result"), tr("verdict"))
        )
        return f"{head}<table><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


@typechecked
def predict(
    key: str,
    question: str,
    options: Sequence[object] | None = None,
    unit: str = "",
    tolerance: float = 0.25,
    log: bool = False,
) -> Prediction:
    """A "Predict, then run" prompt: show it as a cell's last value; `reveal` the answer later.

    Args:
        key: the notebook's number and a slug, unique in the series: "01-lowest-loss".
        question: the question, one sentence.
        options: the choices (numbers or strings); None asks for a number.
        unit: the number's unit, shown beside it ("×", "%", "layers").
        tolerance: a number guess is "close" within this relative error of the result (0.25: 25 %),
            or, with `log=True`, within a factor of 1 + tolerance.
        log: judge a number guess by its ratio to the result, for answers that span powers of ten.

    Raises:
        ValueError: a key that is not "NN-slug", a blank question, fewer than two options or
            repeated ones, a negative tolerance.
    """
    return Prediction(key, question, options, unit, tolerance, log)


def _rows(notebook: str | None) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for key, e in sorted(_load().items()):
        if notebook is not None and not key.startswith(f"{notebook}-"):
            continue
        if "guess" not in e:
            continue
        unit = e.get("unit", "")
        if "actual" in e and not e.get("late"):
            options = e.get("options")
            verdict = _closeness(
                e["guess"], e["actual"], options, e.get("tolerance", 0.25), e.get("log", False)
            )
        else:
            verdict = "late: not scored" if e.get("late") else "not revealed yet"
        result = _format(e["actual"], unit) if "actual" in e else "—"
        rows.append((key, e.get("question", key), _format(e["guess"], unit), result, verdict))
    return rows


@typechecked
def summary(notebook: str | None = None) -> Summary:
    """Every committed guess of notebook `notebook` ("01"), or of the whole series, beside its result."""
    if notebook is not None and not re.fullmatch(r"\d\d", notebook):
        raise ValueError(f"notebook must be a notebook's two-digit number such as '01', got {notebook!r}")
    return Summary(tuple(_rows(notebook)), f"notebook {notebook}" if notebook else "the series")


@typechecked
def forget(notebook: str | None = None) -> int:
    """Delete the stored predictions of notebook `notebook` ("01"), or all of them; return how many."""
    if notebook is not None and not re.fullmatch(r"\d\d", notebook):
        raise ValueError(f"notebook must be a notebook's two-digit number such as '01', got {notebook!r}")
    with _entries() as entries:
        gone = [k for k in entries if notebook is None or k.startswith(f"{notebook}-")]
        for k in gone:
            del entries[k]
    for k in gone:
        _memory.pop(k, None)
    return len(gone)
