"""Committed predictions: saved locally, revealed beside the result, summarised; never blocking."""

import json

import pytest

import reslib as rl
from reslib import predictions


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "predictions.json"
    monkeypatch.setenv("RESLIB_PREDICTIONS", str(path))
    return path


def test_the_store_is_where_the_variable_says_and_only_there(store, monkeypatch):
    assert predictions.store_path() == store
    monkeypatch.delenv("RESLIB_PREDICTIONS")
    assert predictions.store_path().parts[-2:] == (".reslib", "predictions.json")


def test_a_choice_is_committed_saved_and_revealed_beside_the_result(store):
    depth = rl.predictions.predict("01-lowest-loss", "Which depth fits best?", options=[1, 2, 4, 8, 16])
    assert not store.exists()  # showing a prompt writes nothing
    assert (
        depth.commit("16") == "Committed: 16. Now run the cells below to see the result."
    )  # a button's string becomes the option
    saved = json.loads(store.read_text())["predictions"]["01-lowest-loss"]
    assert saved["guess"] == 16 and saved["late"] is False and saved["question"] == "Which depth fits best?"
    shown = depth.reveal(2, note="Two layers won.")
    assert repr(shown) == "You predicted 16; the result is 2 (wrong). Two layers won."
    assert shown.verdict == "wrong" and "#cf222e" in shown._repr_html_()
    assert depth.commit(2).startswith("Committed: 2. (You had already seen the answer")
    assert rl.predictions.summary("01").rows[0][-1] == "late: not scored"


def test_a_number_is_judged_by_its_relative_error_or_by_its_factor():
    share = rl.predictions.predict("02-share", "What share?", unit="%")
    share.commit("70")
    assert repr(share.reveal(80.0)) == "You predicted 70 %; the result is 80 % (off by 12%, close)."
    ratio = rl.predictions.predict("02-ratio", "How much smaller?", log=True, tolerance=1.0)
    ratio.commit(1e3)
    assert ratio.reveal(3e3).verdict == "far"  # a factor of 3 is more than 2
    ratio2 = rl.predictions.predict("02-ratio-two", "How much smaller?", log=True, tolerance=1.0)
    ratio2.commit("1,500")
    assert ratio2.reveal(3e3).verdict == "close" and "factor of 2" in repr(ratio2.reveal(3e3))


def test_a_reveal_without_a_guess_folds_the_answer_away():
    prompt = rl.predictions.predict("03-paths", "How many paths?")
    shown = prompt.reveal(8)
    assert "No prediction committed" in repr(shown) and shown.verdict == ""
    page = shown._repr_html_()
    assert "<details" in page and page.index("<summary>") < page.index("8")


def test_bad_guesses_and_results_are_refused_with_the_fix():
    prompt = rl.predictions.predict("04-choice", "Which?", options=["a", "b"])
    with pytest.raises(ValueError, match="one of"):
        prompt.commit("c")
    number = rl.predictions.predict("04-number", "How many?")
    with pytest.raises(ValueError, match="type a number"):
        number.commit("lots")
    with pytest.raises(ValueError, match="finite"):
        number.reveal(float("nan"))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(key="lowest-loss"), "key"),
        (dict(key="01_lowest"), "key"),
        (dict(question="  "), "question"),
        (dict(options=[1]), "options"),
        (dict(options=[1, "1"]), "options"),
        (dict(tolerance=-0.1), "tolerance"),
    ],
)
def test_bad_prompts_are_refused(kwargs, match):
    arguments = dict(key="01-x", question="Which?") | kwargs
    with pytest.raises(ValueError, match=match):
        rl.predictions.predict(**arguments)


def test_a_string_of_options_is_a_wrong_type():
    with pytest.raises(TypeError, match="options"):
        rl.predictions.predict("01-x", "Which?", options="ab")


def test_the_summary_scores_each_notebook_and_the_series():
    assert "No predictions committed in notebook 05 yet" in repr(rl.predictions.summary("05"))
    for key, guess, actual in [("05-a", 1.0, 1.1), ("05-b", 5.0, 1.0), ("06-c", 2.0, 2.0)]:
        p = rl.predictions.predict(key, f"{key}?")
        p.commit(guess)
        p.reveal(actual)
    rl.predictions.predict("06-d", "not answered yet?").commit(4)
    five, series = rl.predictions.summary("05"), rl.predictions.summary()
    assert (five.scored, five.good) == (2, 1) and (series.scored, series.good) == (3, 2)
    assert repr(series).splitlines()[0] == "the series: 4 predictions committed, 3 scored, 2 right or close."
    assert "not revealed yet" in repr(series) and "<table>" in series._repr_html_()
    with pytest.raises(ValueError, match="notebook"):
        rl.predictions.summary("5")
    assert rl.predictions.forget("05") == 2 and rl.predictions.summary("05").rows == ()
    assert rl.predictions.forget() == 2 and rl.predictions.summary().rows == ()


def test_a_store_that_cannot_be_written_keeps_the_session_going(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("RESLIB_PREDICTIONS", str(blocker / "predictions.json"))  # a file as a folder
    monkeypatch.setattr(predictions, "_failed", [])
    prompt = rl.predictions.predict("07-x", "How many?")
    assert "kept for this session only" in prompt.commit(3)
    assert prompt.guess == 3.0 and rl.predictions.summary("07").rows[0][2] == "3"
    rl.predictions.forget()
    assert rl.predictions.summary().rows == ()


def test_a_corrupt_store_starts_empty(store):
    store.parent.mkdir(parents=True)
    store.write_text("{not json")
    assert rl.predictions.summary().rows == ()
    rl.predictions.predict("08-x", "How many?").commit(1)
    assert json.loads(store.read_text())["predictions"]["08-x"]["guess"] == 1


def test_the_form_shows_as_a_widget_with_a_text_version_and_its_button_commits(store):
    prompt = rl.predictions.predict("09-size", "What size comes out?", unit="pixels")
    bundle = prompt._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "What size comes out?" in bundle["text/html"] and "pixels" in bundle["text/plain"]
    form = prompt.widget()
    field, button = form.children[1].children
    status = form.children[2]
    button.click()
    assert "first" in status.value and not store.exists()
    field.value = "388"
    button.click()
    assert status.value.startswith("Committed: 388 pixels.") and prompt.guess == 388.0
    prompt.reveal(388)
    again = prompt.widget()  # the cell run again after the reveal: the guess is locked
    assert again.children[1].children[0].disabled and again.children[1].children[0].value == "388.0"


def test_counts_read_as_counts_and_quotes_stay_readable():
    count = rl.predictions.predict("06-count", "How many parameters does the network's block hold?")
    count.commit("147456")
    assert repr(count.reveal(147456)) == "You predicted 147,456; the result is 147,456 (spot on, close)."
    assert "network's" in count._html() and "&#x27;" not in count._html()


def test_records_check_their_fields_on_construction():
    p = rl.predictions.Prediction("01-records", "How many?")
    assert "The result: 1." in repr(rl.predictions.Reveal(p, 1, {}))
    with pytest.raises(TypeError, match="Reveal: prediction must be a Prediction, got NoneType"):
        rl.predictions.Reveal(None, 1, {})
    with pytest.raises(TypeError, match="Reveal: entry must be a dict"):
        rl.predictions.Reveal(p, 1, "guess")
    with pytest.raises(TypeError, match="Summary: rows must be"):
        rl.predictions.Summary((("key", "question", "guess", "result"),), "the series")
    with pytest.raises(TypeError, match="Summary: scope must be a string"):
        rl.predictions.Summary((), None)
