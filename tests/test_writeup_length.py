"""A paper over the page limit is shortened: floats move to the appendix, then the model shortens sections until
the body fits (real latexmk builds; several, so slow)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from test_writeup import needs_tex
from writeup_paper import copy_run
from writeup_paper import write_run_paper as _write
from writeup_paper import writeup_report as _report
from writeup_support import script_writer, user_text

from agents.rundir import RunDir
from agents.settings import Settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, text


@pytest.fixture
def run(writeup_run_template: Path, tmp_path: Path) -> RunDir:
    return copy_run(writeup_run_template, tmp_path)


def _long_discussion(req: RecordedRequest) -> Reply:
    para = (
        "Input noise acts as a data-dependent regularizer whose strength grows with the scale of the noise and with "
        "the curvature of the loss, which links it to Tikhonov regularization of the weights. "
    )
    return text("\n\n".join(para * 6 for _ in range(22)))


def _shorten(req: RecordedRequest) -> Reply:
    prompt = user_text(req)
    target = int(re.search(r"at most (\d+) words", prompt).group(1))
    body = prompt.split("---\n", 1)[1].split("\n---", 1)[0]
    kept: list[str] = []
    for sentence in re.split(r"(?<=\.) ", " ".join(body.split())):
        if len(" ".join([*kept, sentence]).split()) > target:
            break
        kept.append(sentence)
    return text(" ".join(kept or [body.split(". ")[0] + "."]))


@pytest.mark.slow
@needs_tex
def test_overlong_paper_is_shortened_to_the_page_limit(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Several latexmk builds of a long paper (draft, floats moved, shortening rounds): ten seconds or more."""
    script_writer(scripted_llm, skip=("writeup/discussion",))
    scripted_llm.always("writeup/discussion", _long_discussion)
    scripted_llm.always("writeup/shorten", _shorten)
    pdf = _write(run, llm_settings)
    report = _report(run)
    first = PdfReader(str(run.path / "paper" / "attempts" / "01" / "paper.pdf"))
    assert len(first.pages) > 5  # the first draft was really over the limit
    assert report.moved_to_appendix == ["tab:ablations", "fig:accuracy"]  # main table and first figure stay
    assert report.shorten_rounds >= 1 and report.within_limit
    assert report.pages_body <= 4
    assert scripted_llm.requests_for("writeup/shorten")
    assert PdfReader(str(pdf)).named_destinations  # the body-end marker the page count uses
