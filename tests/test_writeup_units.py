"""Fast tests of the writeup pieces: templates, cleaning, BibTeX and citation keys, integrity checks, citation
rounds with the scripted model, results tables, and the ``shoal write`` command's error path."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner
from writeup_support import IDEA, PAPERS, StubLiterature

from agents.cli.common import CLIState
from agents.cli.write_cmd import write
from agents.experiments.journal import Journal, Metric, MetricValue, Node
from agents.llm import LLM, Ledger
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply
from agents.writeup import compile as tex
from agents.writeup.citations import (
    bibtex_for,
    cited_keys,
    gather_citations,
    make_key,
    resolve_citations,
)
from agents.writeup.context import WriterContext, build_tables, fmt
from agents.writeup.facts import Fact
from agents.writeup.integrity import check_figures, check_numbers, check_paper, drop_sentences_with
from agents.writeup.latex_templates import LAYOUTS, PaperDoc, SectionDoc, render_paper, section_at_line, tex_escape
from agents.writeup.sections import clean_body


def test_tex_escape_and_unicode() -> None:
    assert tex_escape("50% of a_b & #1 {x} ~ ^") == r"50\% of a\_b \& \#1 \{x\} \textasciitilde{} \textasciicircum{}"
    assert tex_escape("0.91 ± 0.02 — ok") == r"0.91 $\pm$ 0.02 --- ok"
    assert tex_escape("naïve 漢") == "naïve "  # Latin-1 kept, what pdflatex cannot set dropped


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_render_marks_sections_and_uses_the_packages(layout: str) -> None:
    doc = PaperDoc(
        title="A_b & c",
        author="Anon",
        abstract="Short.",
        sections=[SectionDoc(name="introduction", title="Introduction", body="Line one.\nLine two.")],
        appendix=[SectionDoc(name="appendix", title="Details", body="More.")],
        cite_keys=["a2020x"],
    )
    src = render_paper(LAYOUTS[layout], doc)
    for pkg in ("natbib", "booktabs", "graphicx", "hyperref", "algorithm"):
        assert re.search(rf"\\usepackage(\[[^\]]*\])?\{{[^}}]*{pkg}", src), pkg
    assert r"\title{\bfseries A\_b \& c}" in src
    assert ("twocolumn" in src) == LAYOUTS[layout].twocolumn
    assert src.index("shoal-body-end") < src.index(r"\bibliography{references}") < src.index(r"\appendix")
    lines = src.splitlines()
    n = lines.index("Line two.") + 1
    assert section_at_line(src, n) == "introduction"
    assert section_at_line(src, n + 2) == "introduction"  # the blank line after the end marker (paragraph end)
    assert section_at_line(src, 1) is None
    assert "\\VAR" not in src and "\\BLOCK" not in src


def test_no_bibliography_without_citations() -> None:
    doc = PaperDoc(title="T", author="A", abstract="x", sections=[SectionDoc(name="s", title="S", body="b")])
    assert r"\bibliography" not in render_paper(LAYOUTS["workshop"], doc)


def test_clean_body_makes_model_text_safe() -> None:
    raw = (
        "Here is the section:\n```latex\n\\section{Results}\nWe got **95.3%** accuracy on val_set & more "
        "(see Figure~\\ref{fig:a_b}, $x_i$, \\citep{k_1}). It is “good” — `code`.\n```"
    )
    out = clean_body(raw)
    assert "\\section" not in out and "```" not in out and "Here is" not in out
    assert r"\textbf{95.3\%}" in out and r"val\_set \& more" in out
    assert r"\ref{fig:a_b}" in out and "$x_i$" in out and r"\citep{k_1}" in out
    assert "``good''" in out and "---" in out and r"\texttt{code}" in out
    assert (
        clean_body("Points:\n- one\n- two\nEnd.")
        == "Points:\n\\begin{itemize}\n\\item one\n\\item two\n\\end{itemize}\nEnd."
    )


def test_a_reference_list_of_the_models_own_is_dropped() -> None:
    """The embedded model ended a section with its own thebibliography (a numeric \\bibitem with a title it made
    up for a real paper); Shoal's references come from the checked citations only."""
    raw = (
        "We conclude.\n\nReferences\n\\begin{thebibliography}{99}\n\\bibitem{bishop1995training} Bishop, C. M. "
        "(1995). Neural networks and learning machines.\n\\end{thebibliography}\nAs shown \\citep{bishop1995training}."
    )
    out = clean_body(raw)
    assert "bibitem" not in out and "thebibliography" not in out and "References" not in out
    assert out.startswith("We conclude.") and out.endswith(r"As shown \citep{bishop1995training}.")
    assert clean_body("A.\n\\bibitem{x} cut off\nB.") == "A.\n\nB."
    assert clean_body("A.\n\\begin{thebibliography}{9}\n\\bibitem{x} cut off") == "A."  # an answer cut short


@pytest.mark.slow
def test_a_build_stopped_by_an_earlier_builds_aux_file_is_built_again(tmp_path: Path) -> None:
    """natbib's 'Bibliography not compatible with author-year citations', left in paper.aux by an earlier build,
    stopped every later build of the same paper (six attempts, the last with every section as plain text)."""
    if shutil.which("latexmk") is None:
        pytest.skip("LaTeX is not installed")
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\\usepackage[round]{natbib}\\begin{document}Plain text.\\end{document}\n"
    )
    (tmp_path / "paper.aux").write_text("\\relax\n\\providecommand\\NAT@force@numbers{}\\NAT@force@numbers\n")
    res = tex.compile_tex(tmp_path, timeout_s=60)
    assert res.ok, res.log_excerpt
    assert "NAT@force@numbers" not in (tmp_path / "paper.aux").read_text()


def test_keys_are_stable_and_unique() -> None:
    taken: set[str] = set()
    k1 = make_key(PAPERS[0], taken)
    taken.add(k1)
    assert k1 == make_key(PAPERS[0], set()) == "bishop1995training"
    assert make_key(PAPERS[0], taken) == "bishop1995traininga"
    assert make_key(PAPERS[1], set()) == "srivastava2014dropout"


def test_bibtex_from_source_gets_our_key_and_metadata_entries_are_valid() -> None:
    src = bibtex_for(PAPERS[0], "bishop1995training")
    assert src.startswith("@article{bishop1995training,") and "Bishop1995TrainingWN" not in src
    assert "{{Training with Noise is Equivalent to Tikhonov Regularization}}" in src
    built = bibtex_for(PAPERS[2], "krogh1991simple")
    assert built.startswith("@inproceedings{krogh1991simple,")
    assert "booktitle = {Neural Information Processing Systems}" in built
    assert "author = {Anders Krogh and John A. Hertz}" in built
    broken = PAPERS[1].model_copy(update={"bibtex": "@article{x, title={unbalanced}"})
    assert bibtex_for(broken, "k").startswith("@article{k,\n  title = {{Dropout")


def test_resolve_citations_drops_unknown_keys() -> None:
    text = r"As shown~\citep{a,zz} and \citet[p.~3]{zz}, noise helps \citep{yy}."
    out, removed = resolve_citations(text, {"a"})
    assert out == r"As shown~\citep{a} and, noise helps."
    assert removed == ["zz", "zz", "yy"]
    assert cited_keys(text) == ["a", "zz", "yy"]


FACTS = [
    Fact(value=0.91234, kind="metric", source="node b: acc on d (single run)", node_id="b", metric="acc"),
    Fact(value=0.95012, kind="metric", source="node p: acc on d (mean over 3 seeds)", node_id="p", metric="acc"),
    Fact(value=0.0041, kind="std_err", source="node p: standard error", node_id="p", metric="acc"),
    Fact(value=0.95012 - 0.91234, kind="difference", source="difference b-p", metric="acc"),
    Fact(value=(0.95012 - 0.91234) / 0.91234, kind="relative", source="relative b-p", metric="acc"),
    Fact(value=3, kind="count", source="seeds of node p"),
    Fact(value=2, kind="count", source="datasets"),
]


@pytest.mark.parametrize(
    ("sentence", "bad"),
    [
        ("We reach 0.950 against 0.912.", []),
        ("We reach 0.9501, i.e. 95.0\\% accuracy, 95.01\\% to be precise.", []),
        ("The gain is 0.038, about 4.1\\% relative; standard error 0.0041.", []),
        ("We reach 0.95 against 0.91.", ["0.95", "0.91"]),  # coarser than the tables print: many numbers would pass
        ("We reach 0.951 against 0.912.", ["0.951"]),
        ("Accuracy is 96.5\\% with 3 seeds over 2 datasets in 2024.", ["96.5%"]),
        ("We ran 7 seeds on 12 datasets.", ["7", "12"]),  # integers are checked too
        ("Section~4 and Tables 1 and 2 of Stage 3; ResNet-50; $x^2 + 1$.", []),  # references, names, notation
        ("See Table~\\ref{tab:1.5} and \\includegraphics[width=0.5\\linewidth]{a.pdf}, \\vspace{2.5pt}.", []),
    ],
)
def test_numbers_must_match_recorded_facts(sentence: str, bad: list[str]) -> None:
    issues = check_numbers("results", sentence, FACTS)
    assert [i.token for i in issues] == bad


def test_recorded_settings_may_be_quoted() -> None:
    settings = [*FACTS, Fact(value=0.5, kind="setting", source="noise"), Fact(value=0.05, kind="setting", source="l2")]
    sentence = "With noise scale 0.5 and weight decay 0.05 we reach 0.950; scale 0.7 was never run."
    assert [i.token for i in check_numbers("results", sentence, settings)] == ["0.7"]


def test_placeholders_citations_and_figures_are_flagged(tmp_path: Path) -> None:
    (tmp_path / "fig_a.png").write_bytes(b"png")
    results = SectionDoc(
        name="results",
        title="Results",
        body="TODO: write this. Figure~\\ref{fig:a} shows [citation needed] \\cite{ghost}.",
        floats=[
            "\\begin{figure}\\includegraphics{fig_a.png}\\label{fig:a}\\end{figure}",
            "\\begin{figure}\\includegraphics{fig_missing.png}\\label{fig:b}\\end{figure}",
        ],
    )
    issues = check_paper([results], FACTS, {"real2020"}, tmp_path)
    kinds = sorted({(i.kind, i.token) for i in issues})
    assert ("citation", "ghost") in kinds and ("placeholder", "TODO") in kinds
    assert ("placeholder", "[citation needed]") in kinds
    assert ("figure", "fig_missing.png") in kinds and ("figure", "fig:b") in kinds
    assert ("figure", "fig:a") not in kinds
    assert not check_figures([results.model_copy(update={"floats": results.floats[:1]})], tmp_path)


def test_drop_sentences_keeps_the_rest() -> None:
    text = "First 0.950 is fine. Second 0.999 is not. Third.\n\nNext paragraph."
    assert drop_sentences_with(text, ["0.999"]) == "First 0.950 is fine. Third.\n\nNext paragraph."
    assert drop_sentences_with("Done. TODO: add more. Next.", ["TODO"]) == "Done. Next."


def _node(stage: int, kind: str, acc: float, loss: float, tag: str = "", se: float | None = None) -> Node:
    m = Metric(name="val_acc", direction="maximize", values={"d": acc}, std_err={"d": se} if se else {})
    loss_m = Metric(name="val_loss", direction="minimize", values={"d": loss})
    return Node(stage=stage, kind=kind, status="done", tag=tag, metric=MetricValue(metrics=[m, loss_m]))


def test_results_tables_come_from_metrics_with_best_in_bold() -> None:
    j = Journal()
    j.add(_node(1, "draft", 0.70, 0.60))
    base = j.add(_node(2, "tune", 0.80, 0.50))
    prop = j.add(_node(3, "improve", 0.85, 0.52, se=0.0123))
    j.add(_node(4, "ablate", 0.78, 0.55, tag="no_noise"))
    tables = build_tables(j)
    assert [t.label for t in tables] == ["tab:results", "tab:ablations"]
    main = tables[0].tex
    assert "\\textbf{0.850 $\\pm$ 0.012}" in main  # higher accuracy is better
    assert "\\textbf{0.500}" in main  # lower loss is better
    assert "Tuned baseline & 0.800" in main and base.id not in main and prop.id not in main
    assert "no\\_noise" in tables[1].tex and "Full method" in tables[1].tex
    assert fmt(0.000123) == "0.00012" and fmt(123.456) == "123.5" and fmt(12.345) == "12.35"


def test_citation_rounds_take_only_returned_papers(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script(
        "writeup/cite_queries",
        json_reply({"queries": ["training with noise", "weight decay generalization"], "done": False}),
        json_reply({"queries": ["dropout overfitting"], "done": False}),
    )
    scripted_llm.script("writeup/cite_pick", json_reply({"picks": [1, 99]}), json_reply({"picks": [1]}))
    ctx = WriterContext(
        idea=IDEA, stages=[], facts=[], tables=[], figures=[], key_results=[], method_plan="", datasets=[]
    )
    lit = StubLiterature()
    out = gather_citations(LLM(llm_settings, Ledger(tmp_path / "l.jsonl")), lit, ctx, rounds=2, max_refs=5)
    ids = {p.paper_id for p in PAPERS}
    assert out.rounds == 2 and len(out.references) == 2
    assert all(r.paper.paper_id in ids for r in out.references)
    assert any("pick 99" in e for e in out.errors)
    listing = scripted_llm.requests_for("writeup/cite_pick")[0].messages[-1]["content"]
    assert "[1] Training with Noise is Equivalent" in listing
    assert lit.queries == ["training with noise", "weight decay generalization", "dropout overfitting"]


class _Broken(StubLiterature):
    def search(self, query: str, limit: int = 10) -> list:
        raise TimeoutError("semantic scholar timed out")


def test_backend_failure_degrades_to_no_citations(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    scripted_llm.script("writeup/cite_queries", json_reply({"queries": ["noise"], "done": False}))
    ctx = WriterContext(
        idea=IDEA, stages=[], facts=[], tables=[], figures=[], key_results=[], method_plan="", datasets=[]
    )
    out = gather_citations(LLM(llm_settings, Ledger(None)), _Broken(), ctx, rounds=1, max_refs=5)
    assert out.references == [] and "timed out" in out.errors[0]


@pytest.mark.slow
def test_compile_timeout_kills_latex(tmp_path: Path) -> None:
    """Runs pdflatex into an endless macro loop until a 3-second timeout."""
    if shutil.which("latexmk") is None:
        pytest.skip("LaTeX is not installed")
    (tmp_path / "paper.tex").write_text("\\documentclass{article}\\begin{document}\\def\\x{\\x}\\x\\end{document}\n")
    res = tex.compile_tex(tmp_path, timeout_s=3)
    assert res.timed_out and not res.ok and "did not finish" in res.log_excerpt
    assert (tmp_path / "build.log").is_file()


def _cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root(ctx: typer.Context) -> None:
        ctx.obj = CLIState()

    app.command("write")(write)
    return app


def test_write_command_reports_a_bad_run_dir(tmp_path: Path) -> None:
    res = CliRunner().invoke(_cli(), ["write", str(tmp_path / "nope")])
    assert res.exit_code == 2
    out = " ".join(res.output.split())  # rich wraps long lines
    assert "does not exist" in out and "Traceback" not in out


def test_write_command_reports_a_run_without_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.resolved.toml").write_text("")
    (run / "ideas.json").write_text('{"ideas": [' + IDEA.model_dump_json() + "]}")
    monkeypatch.setenv("SHOAL_CACHE_DIR", str(tmp_path / "cache"))
    res = CliRunner().invoke(_cli(), ["write", str(run), "--layout", "conference"])
    assert res.exit_code == 2, res.output
    assert "no successful experiment node" in " ".join(res.output.split())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Plain text with \\{escaped\\} braces, 50\\% and \\$5.", False),
        ("Math $x^{2}$ and \\emph{words} % a comment with { in it", False),
        ("\\begin{itemize}\\item a\\end{itemize}", False),
        ("An unclosed \\footnote{note", True),
        ("A stray } brace", True),
        ("Open math $x", True),
        ("\\begin{equation} x \\end{align}", True),
    ],
)
def test_unbalanced_finds_what_breaks_later_lines(body: str, expected: bool) -> None:
    from agents.writeup.plaintext import unbalanced

    assert unbalanced(body) is expected


def test_plain_text_keeps_the_words_and_escapes_the_rest() -> None:
    from agents.writeup.plaintext import plain_text, unbalanced

    out = plain_text("Noise \\citep{a} helps by 5% on $x_i$ \\footnote{see \\ref{fig:x}")
    assert out == "Noise helps by 5\\% on x i see"
    assert not unbalanced(out)


def test_plain_text_keeps_paragraphs_and_list_items_without_environment_names() -> None:
    from agents.writeup.plaintext import plain_text, unbalanced

    body = (
        "The study has two steps:\n\n\\begin{itemize}\n\\item \\textbf{Data}: $n$ samples, 5\\% noise.\n"
        "\\item[(b)] Training at \\$0 cost \\& no \\texttt{GPU}.\n\\end{itemize}\n\nMore text.\n\\begin{itemize}\n"
        "\\item unclosed"
    )
    out = plain_text(body)
    assert out.split("\n\n") == [
        "The study has two steps:",
        "Data: n samples, 5\\% noise.",
        "(b) Training at \\$0 cost \\& no GPU.",
        "More text.",
        "unclosed",
    ]
    assert "itemize" not in out and not unbalanced(out)
