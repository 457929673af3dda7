"""Runnable evidence: every "we also checked" sentence cites a claim that `make evidence` runs.

The claims themselves train networks for minutes (`make evidence` runs them); these tests check the
wiring: citations and claims match one to one, no such sentence lacks a citation, the runner.
"""

import json
import re
from pathlib import Path

import pytest
import torch

import reslib as rl
from reslib.evidence import core

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CITATION = re.compile(r"\[evidence\s+`([^`]+)`\]")  # a line break may fall inside
# A sentence that reports a check the notebook does not run by default.
REPORTED_CHECK = re.compile(
    r"\b(we (also )?(checked|re-?ran|ran|tried|trained|measured)|checked (it |this )?(with|on|too|at)"
    r"|while writing this notebook|how (it was|we) checked|what we found with)\b",
    re.IGNORECASE,
)


def _markdown(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")


def _paragraphs(text: str) -> list[str]:
    """Paragraphs and list items: the unit a citation must share with the check it backs."""
    return [p for p in re.split(r"\n\s*\n|\n(?=\s*[-*] )", text) if p.strip()]


def test_every_citation_names_a_claim_and_every_claim_is_cited():
    cited = {key: path.name for path in NOTEBOOKS for key in CITATION.findall(_markdown(path))}
    unknown = sorted(set(cited) - set(rl.evidence.CLAIMS))
    assert not unknown, f"cited but not registered in reslib/evidence: {[(k, cited[k]) for k in unknown]}"
    uncited = sorted(set(rl.evidence.CLAIMS) - set(cited))
    assert not uncited, f"registered but cited by no notebook: {uncited}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_reported_check_cites_its_evidence(path):
    bare = [
        p[:160] for p in _paragraphs(_markdown(path)) if REPORTED_CHECK.search(p) and not CITATION.search(p)
    ]
    assert not bare, f"{path.name}: a reported check without [evidence `key`]: {bare}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_notebook_that_cites_evidence_says_how_to_run_it(path):
    text = _markdown(path)
    if CITATION.search(text):
        assert "make evidence" in text and "rl.evidence.run" in text, f"{path.name}: say how to run a claim"


@pytest.fixture
def fake_claims(monkeypatch):
    """Two made-up claims in place of the registry: one holds, one fails its assert."""
    monkeypatch.setattr(core, "CLAIMS", {})

    @core.claim("fake-holds", "one plus one is two")
    def holds():
        assert 1 + 1 == 2
        return f"drew {torch.rand(()).item():.3f}"

    @core.claim("fake-fails", "two is odd")
    def fails():
        assert 2 % 2 == 1, "2 % 2 = 0"
        return "unreachable"

    return core


def test_the_runner_reports_a_failed_claim_with_its_measurement(fake_claims, capsys):
    rows = fake_claims.run()
    assert [(r.key, r.holds) for r in rows] == [("fake-holds", True), ("fake-fails", False)]
    assert rows[1].measured.startswith("FAILED: 2 % 2 = 0")  # (pytest appends its own rewrite)
    assert "FAILS  fake-fails" in capsys.readouterr().out
    markdown = fake_claims.table(rows)
    assert markdown.count("\n") == 3 and "**FAILS**" in markdown and "| holds |" in markdown


def test_the_runner_selects_by_key_or_prefix_and_names_a_wrong_key(fake_claims):
    assert [r.key for r in fake_claims.run("fake-fails", quiet=True)] == ["fake-fails"]
    assert len(fake_claims.run("fake", quiet=True)) == 2
    with pytest.raises(ValueError, match="keys: no claim is named 'unet'"):
        fake_claims.run("unet")


def test_each_claim_starts_from_seed_0_and_leaves_the_callers_rng_alone(fake_claims):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, second = (fake_claims.run("fake-holds", quiet=True)[0].measured for _ in range(2))
    assert first == second, "each claim starts from the same seed"
    assert torch.equal(torch.get_rng_state(), before), "the caller's random state is given back"


def test_the_runner_names_a_wrong_type(fake_claims):
    with pytest.raises(TypeError, match="keys"):
        fake_claims.run(3)
    with pytest.raises(TypeError, match="quiet"):
        fake_claims.run("fake-holds", quiet="no")


def test_a_claim_key_is_named_by_topic_and_registered_once(fake_claims):
    with pytest.raises(ValueError, match="key='Unet Classes'"):
        fake_claims.claim("Unet Classes", "x")
    with pytest.raises(ValueError, match="registered twice"):
        fake_claims.claim("fake-holds", "again")(lambda: "")
