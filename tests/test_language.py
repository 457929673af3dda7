"""reslib.language: English by default, Korean on request, and a catalogue kept whole by a test."""

from __future__ import annotations

import json
import re

import pytest

import reslib as rl
from reslib import language
from reslib.checks.core import CheckResult
from reslib.checks.variance import check_second_moment_recursion
from reslib.language import local_language, set_language, tr
from tools import translation

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def test_english_is_the_default_and_fields_are_filled_in():
    assert language.language() == "en"
    assert tr("off by {diff:.3g}", diff=0.123456) == "off by 0.123"
    assert tr("block k (0 = input)") == "block k (0 = input)"
    assert tr("E[h_{k-1}^2] stays") == "E[h_{k-1}^2] stays"  # no fields: braces are text


def test_korean_is_looked_up_and_given_the_same_fields():
    with local_language("ko"):
        text = tr("off by {diff:.3g}", diff=0.123456)
        assert "0.123" in text and HANGUL.search(text)
        assert tr("a template the catalogue lacks {x}", x=1) == "a template the catalogue lacks 1"
    assert language.language() == "en"


def test_set_language_refuses_what_it_does_not_speak():
    with pytest.raises(TypeError, match="code"):
        set_language(1)
    with pytest.raises(ValueError, match=r"code must be one of 'en', 'ko', got 'fr'.*'ko' for Korean"):
        set_language("fr")
    assert language.language() == "en"


def test_local_language_gives_the_language_back_on_an_error():
    with pytest.raises(RuntimeError), local_language("ko"):
        assert language.language() == "ko"
        raise RuntimeError("boom")
    assert language.language() == "en"


def test_the_korean_catalogue_covers_every_template_and_nothing_else():
    problems = translation.library_problems("ko")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} in all)"


def test_the_catalogue_rules_find_each_kind_of_mistake():
    templates = {
        "off by {diff:.3g}": ["a.py:1"],
        "case {i} of {n}": ["a.py:2"],
        "layer 3 of the stem": ["a.py:3"],
        "depth": ["a.py:4"],
        "gave {got}": ["a.py:5"],
        "missing": ["a.py:6"],
    }
    table = {
        "off by {diff:.3g}": "{diff} 차이",  # the format spec is lost
        "case {i} of {n}": "사례 {i}/{n}",  # right
        "layer 3 of the stem": "줄기의 4번째 층",  # another number
        "depth": "depth",  # not translated
        "gave {got}": "{got}을 냈다",  # a particle the field's last syllable decides
        "unused": "안 쓰임",
    }
    found = "\n".join(translation.catalogue_problems(templates, table))
    assert "a.py:1: the ko entry for 'off by {diff:.3g}' has other fields" in found
    assert "a.py:2" not in found
    assert "a.py:3: the ko entry for 'layer 3 of the stem' has other numbers" in found
    assert "a.py:4: the ko entry for 'depth' is not in Hangul" in found
    assert "a.py:5: the ko entry for 'gave {got}' puts a particle after a field" in found
    assert "a.py:6: no ko entry for 'missing'" in found
    assert "'unused' is not a template in reslib" in found


def test_a_template_must_be_a_literal(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('from reslib.language import tr\nx = 3\ntr(f"depth {x}")\ntr("depth {x}", x=x)\n')
    templates, bad = translation.library_templates([source])
    assert list(templates) == ["depth {x}"]
    assert len(bad) == 1 and "m.py:3: tr needs a literal English template" in bad[0]


def test_two_files_that_translate_a_template_differently_are_refused(tmp_path, monkeypatch):
    (tmp_path / "ko").mkdir()
    (tmp_path / "ko" / "a.json").write_text(json.dumps({"depth": "깊이"}), encoding="utf-8")
    (tmp_path / "ko" / "b.json").write_text(json.dumps({"depth": "심도"}), encoding="utf-8")
    monkeypatch.setattr(language, "LOCALE", tmp_path)
    language.catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="b.json translates 'depth' differently"):
            language.catalogue("ko")
    finally:
        language.catalogue.cache_clear()


def _stub(depth, gain, residual_scale, batch_norm):
    raise NotImplementedError


def _wrong(depth, gain, residual_scale, batch_norm):
    return [1.0] * (depth + 1)


def _switches_to_english(depth, gain, residual_scale, batch_norm):
    rl.set_language("en")
    values = [1.0]
    for _ in range(depth):
        branch = gain / 2 if batch_norm else gain / 2 * values[-1]
        values.append(residual_scale**2 * (values[-1] + branch))
    return values


def test_a_check_speaks_korean_and_an_answer_cannot_change_the_language():
    with local_language("ko"):
        pending = check_second_moment_recursion(_stub)
        assert pending.passed is None and "`raise NotImplementedError`" in pending.message
        assert HANGUL.search(pending.message)
        wrong = check_second_moment_recursion(_wrong)
        assert wrong.passed is False and "사례 1/6" in wrong.message and "힌트 1/2" in wrong.message
        switched = check_second_moment_recursion(_switches_to_english)
        assert language.language() == "ko", "an answer's set_language outlived its check"
        assert switched.passed is True and "reslib's language" in switched.message
        assert HANGUL.search(switched.message)
    english = check_second_moment_recursion(_stub)
    assert isinstance(english, CheckResult) and english.message.startswith("not implemented yet")


def test_a_prediction_form_speaks_korean(tmp_path, monkeypatch):
    monkeypatch.setenv("RESLIB_PREDICTIONS", str(tmp_path / "p.json"))
    with local_language("ko"):
        form = rl.predictions.predict("01-korean-form", "어느 깊이?", [1, 2])
        assert repr(form) == "예측: 어느 깊이? 선택지: 1, 2."
        button = form.widget().children[1].children[1]
        assert button.description == "확정"
        assert form.commit(2).startswith("확정했다: 2.")
    assert rl.predictions.predict("01-korean-form", "Which depth?", [1, 2]).widget().children[1].children[
        1
    ].description == ("Commit")


def test_tr_and_local_language_refuse_bad_input_before_anything_changes():
    with pytest.raises(TypeError, match="template must be a str"):
        tr(3)
    with pytest.raises(ValueError, match="code must be one of 'en', 'ko', got 'fr'"):
        local_language("fr")  # refused when called, not when the block starts
    with pytest.raises(KeyError, match="diff"):
        tr("off by {diff:.3g}", other=1)
    assert language.language() == "en"


def test_an_explorer_note_is_recognised_in_either_language():
    explorer = rl.viz.shattering_explorer()
    english = repr(explorer)
    with local_language("ko"):
        korean = repr(explorer)
    assert english != korean and HANGUL.search(korean)
    assert rl.viz.is_explorer_note(english) and rl.viz.is_explorer_note(korean)
    assert not rl.viz.is_explorer_note("HBox(children=(IntProgress(value=3),))")
    assert rl.viz.architecture_label("residual") == "residual"
    with local_language("ko"):
        assert HANGUL.search(rl.viz.architecture_label("residual"))
        assert rl.viz.architecture_label("pre-LN") == "pre-LN"  # not a kind it knows: as given
