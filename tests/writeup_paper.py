"""Writing the paper of the writeup tests' run: a fresh copy of the session's run, the stage itself, and what it
left (report.json, paper.tex)."""

from __future__ import annotations

import shutil
from pathlib import Path

from writeup_support import StubLiterature

from agents.llm import LLM, Ledger
from agents.rundir import RunDir, open_run
from agents.settings import Settings
from agents.writeup import write_paper
from agents.writeup.writer import WriteupReport


def copy_run(template: Path, tmp_path: Path) -> RunDir:
    """A fresh copy of the session's writeup run (conftest ``writeup_run_template``) for one test."""
    dest = tmp_path / template.name
    shutil.copytree(template, dest)
    return open_run(dest)


def write_run_paper(run: RunDir, settings: Settings, literature: StubLiterature | None = None) -> Path:
    llm = LLM(settings, Ledger(run.ledger_path))
    return write_paper(run, llm, settings, literature or StubLiterature())


def writeup_report(run: RunDir) -> WriteupReport:
    return WriteupReport.model_validate_json((run.path / "paper" / "report.json").read_text())


def paper_tex(run: RunDir) -> str:
    return (run.path / "paper" / "paper.tex").read_text()
