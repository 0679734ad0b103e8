"""The writeup stage end to end: a real run directory (metrics from real numpy runs, real matplotlib figures), the
scripted writer through the real openai client, a local literature stub, real latexmk/pdflatex/bibtex/chktex and
pypdf/pdftoppm. Each test builds a PDF (pdflatex runs take seconds), so they are marked slow."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader
from writeup_paper import copy_run
from writeup_paper import paper_tex as _body_tex
from writeup_paper import write_run_paper as _write
from writeup_paper import writeup_report as _report
from writeup_support import IDEA, StubLiterature, key_numbers, script_writer, user_text

from agents.experiments.journal import Journal
from agents.rundir import RunDir
from agents.settings import Settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, text
from agents.writeup.compile import TexUnavailable
from agents.writeup.context import fmt

needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="LaTeX (latexmk) is not installed")


@pytest.fixture
def run(writeup_run_template: Path, tmp_path: Path) -> RunDir:
    return copy_run(writeup_run_template, tmp_path)


@pytest.mark.slow
@needs_tex
def test_seeded_numbers_are_means_with_n_and_every_number_has_a_source(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Seeds: mean +- s.e. over n seeds in the key results, the table (n column) and the text; per-seed values in
    an appendix table. Provenance: every number of the paper has a source in the findings and in report.html."""
    from agents.report import write_report

    script_writer(scripted_llm)
    _write(run, llm_settings)
    journal = run.journal()
    best = journal.best_node(3)
    assert best is not None
    acc = best.metric.metrics[0]
    n = acc.n_seeds
    assert n == 4  # three seed runs and the configuration's own run
    key_lines = user_text(scripted_llm.requests_for("writeup/results")[0])
    mean, se = fmt(acc.seed_mean["gauss"]), fmt(acc.std_err["gauss"])
    assert f"val_accuracy on gauss = {mean} ± {se} (mean ± standard error over {n} seeds)" in key_lines
    assert fmt(acc.values["gauss"]) != mean  # the selected run's own value is not what is reported
    tex = _body_tex(run)
    row = next(line for line in tex.splitlines() if line.startswith("Proposed method &"))
    assert f"{mean} $\\pm$ {se}" in row and row.rstrip(" \\").endswith(f"& {n}")
    assert f"re-run with {n} seeds" in tex and "\\label{tab:seeds}" in tex
    seed_table = tex.split("\\label{tab:seeds}")[1].split("\\end{table}")[0]
    for seed in journal.seed_runs(best.id):
        assert f"& {seed.seed} & gauss {fmt(seed.metric.metrics[0].values['gauss'])}" in seed_table
    findings = run.writeup_findings()
    rows = findings["numbers"]
    assert rows and all(r["source"] != "unmatched" for r in rows), [r for r in rows if r["source"] == "unmatched"]
    quoted = next(r for r in rows if r["section"] == "abstract" and r["number"] == mean)
    assert quoted["source"] == f"node {best.id}: val_accuracy on gauss (mean over {n} seeds)"
    html = write_report(run).read_text()
    assert "where it came from" in html and f"node {best.id}: val_accuracy on gauss (mean over {n} seeds)" in html


@pytest.mark.slow
@needs_tex
def test_paper_compiles_first_time_with_table_figures_and_verified_citations(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a full PDF with latexmk (several pdflatex passes and bibtex): a few seconds."""
    script_writer(scripted_llm)
    lit = StubLiterature()
    pdf = _write(run, llm_settings, lit)

    assert pdf == run.path / "paper" / "paper.pdf" and pdf.is_file()
    report = _report(run)
    assert report.compile_attempts == 1 and report.latex_repairs == 0
    assert report.within_limit and 2 <= report.pages_body <= 4 < report.pages_total + 1
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == report.pages_total
    page1 = reader.pages[0].extract_text()
    assert "Input Noise Injection" in page1 and "Introduction" in page1

    # the results table is generated from the journal's metrics, with the seed runs' standard errors
    journal = Journal.load(run.path / "journal.json")
    best = journal.best_node(3)
    assert best is not None
    acc = best.metric.metrics[0]
    tex = _body_tex(run)
    assert f"{fmt(acc.seed_mean['gauss'])} $\\pm$ {fmt(acc.std_err['gauss'])}" in tex
    assert "\\begin{tabular}" in tex and "\\toprule" in tex

    # both figures copied, included and referenced
    for name in ("fig_learning_curves.pdf", "fig_accuracy.png"):
        assert (run.path / "paper" / "figures" / name).is_file()
        assert f"{{{name}}}" in tex

    # only papers the backend returned are in the bibliography, and every cite resolves to one of them
    bib = (run.path / "paper" / "references.bib").read_text()
    bib_keys = set(re.findall(r"@\w+\{([^,]+),", bib))
    assert bib_keys and bib_keys == set(report.references)
    cited = {k for m in re.finditer(r"\\cite[tp]?\{([^}]*)\}", tex) for k in m.group(1).split(",")}
    assert cited and cited <= bib_keys
    assert lit.queries == report.citation_queries
    assert "Bishop" in bib  # BibTeX from the source, key rewritten to ours
    assert not report.removed_citations and not report.integrity_dropped
    assert report.model_calls == len(scripted_llm.requests) == 11  # 2 citation calls + 9 sections, no repairs

    # the attempt is kept; the build log is there
    assert (run.path / "paper" / "attempts" / "01" / "paper.pdf").is_file()
    assert "Output written on paper.pdf" in (run.path / "paper" / "build.log").read_text()
    assert [e for e in run.events_path.read_text().splitlines() if "writeup_done" in e]


@pytest.mark.slow
@needs_tex
def test_page_one_renders_with_pdftoppm_and_is_not_blank(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    """Builds a PDF and renders it with pdftoppm: a few seconds."""
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    import matplotlib.image as mpimg

    script_writer(scripted_llm)
    pdf = _write(run, llm_settings)
    out = tmp_path / "page"
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(out)], check=True, timeout=60)
    png = next(tmp_path.glob("page*.png"))
    img = mpimg.imread(png)
    ink = (img[..., :3].mean(axis=2) < 0.6).mean()
    assert 0.01 < ink < 0.5, f"page 1 ink coverage {ink:.3f}"


@pytest.mark.slow
@needs_tex
def test_latex_error_is_repaired_from_the_log(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Two latexmk builds (a failing one, then the repaired one): several seconds."""
    script_writer(scripted_llm, skip=("writeup/method",))
    scripted_llm.always(
        "writeup/method",
        text("We train logistic regression with \\noisyupdate{s} applied to every input at every step."),
    )
    scripted_llm.script(
        "writeup/fix_latex",
        text("We train logistic regression with Gaussian noise of scale $s$ added to every input at every step."),
    )
    pdf = _write(run, llm_settings)
    assert pdf.is_file()
    report = _report(run)
    assert report.compile_attempts == 2 and report.latex_repairs == 1
    prompt = user_text(scripted_llm.requests_for("writeup/fix_latex")[0])
    assert "Undefined control sequence" in prompt and "\\noisyupdate" in prompt
    attempts = run.path / "paper" / "attempts"
    assert "status: failed" in (attempts / "01" / "attempt.txt").read_text()
    assert not (attempts / "01" / "paper.pdf").exists()
    assert "status: ok" in (attempts / "02" / "attempt.txt").read_text()
    assert "\\noisyupdate" not in _body_tex(run)


@pytest.mark.slow
@needs_tex
def test_sections_the_model_cannot_repair_become_plain_text(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Two sections stay broken through every repair (the CI failure of session 1: the loop gave up after the
    first plain-text reduction). The paper still builds, with both sections as plain text. Several builds."""
    script_writer(scripted_llm, skip=("writeup/method", "writeup/discussion"))
    broken_method = "We train with \\noisyupdate{s} at every step."
    broken_discussion = "Noise acts as a \\datadependent{} regularizer."
    scripted_llm.always("writeup/method", text(broken_method))
    scripted_llm.always("writeup/discussion", text(broken_discussion))
    scripted_llm.always("writeup/fix_latex", lambda req: text(broken_method if "noisyupdate" in user_text(req)
                                                               else broken_discussion))  # fmt: skip
    settings = llm_settings.model_copy(
        update={"writeup": llm_settings.writeup.model_copy(update={"max_compile_repairs": 1, "chktex": False})}
    )
    pdf = _write(run, settings)
    assert pdf.is_file()
    report = _report(run)
    assert report.latex_repairs == 1
    assert sum("reduced to plain text" in n for n in report.notes) == 2
    tex = _body_tex(run)
    assert "\\noisyupdate" not in tex and "\\datadependent" not in tex
    assert "We train with s at every step." in tex and "Noise acts as a regularizer." in tex


@pytest.mark.slow
@needs_tex
def test_unclosed_brace_that_breaks_a_later_line_is_traced_to_its_section(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """An unclosed footnote in the conclusion swallows the rest of the document: TeX fails at the end of the file,
    on no section's line. The unbalanced section is found and reduced; the others are kept as written."""
    script_writer(scripted_llm, skip=("writeup/conclusion",))
    broken = "Input noise is a cheap regularizer.\\footnote{It needs no tuning beyond its scale."
    scripted_llm.always("writeup/conclusion", text(broken))
    scripted_llm.always("writeup/fix_latex", text(broken))
    pdf = _write(run, llm_settings)
    assert pdf.is_file()
    report = _report(run)
    assert any(n.startswith("conclusion reduced to plain text") for n in report.notes), report.notes
    tex = _body_tex(run)
    assert "Input noise is a cheap regularizer. It needs no tuning beyond its scale." in tex
    assert "\\mathcal{N}(0, s^2 I)" in tex  # the method section is untouched


@pytest.mark.slow
@needs_tex
def test_hallucinated_citation_is_sent_back_then_removed(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a PDF: a few seconds."""
    script_writer(scripted_llm, skip=("writeup/conclusion",))
    made_up = "Input noise also helps deep networks \\citep{smith2021noise}."
    scripted_llm.always("writeup/conclusion", text("Input noise is a cheap regularizer. " + made_up))
    # the writer is told, but insists: the key is removed before compile
    scripted_llm.script("writeup/revise", text("Input noise is a cheap regularizer. " + made_up))
    _write(run, llm_settings)
    report = _report(run)
    problem = user_text(scripted_llm.requests_for("writeup/revise")[0])
    assert "smith2021noise" in problem and "not in the bibliography" in problem
    assert report.removed_citations == ["smith2021noise"]
    tex = _body_tex(run)
    assert "smith2021noise" not in tex and "Input noise also helps deep networks." in tex
    assert "smith2021noise" not in (run.path / "paper" / "references.bib").read_text()


def _wrong_results(req: RecordedRequest) -> Reply:
    k = key_numbers(req)
    return text(
        f"Table~\\ref{{tab:results}} shows the tuned baseline at {k['Tuned baseline']}. Input noise reaches a "
        "validation accuracy of 0.981 on gauss. Figure~\\ref{fig:learning_curves} and Figure~\\ref{fig:accuracy} "
        "show the curves and the accuracies; Table~\\ref{tab:ablations} has the ablation."
    )


def _fixed_results(req: RecordedRequest) -> Reply:
    k = key_numbers(req)
    return text(
        f"Table~\\ref{{tab:results}} shows the tuned baseline at {k['Tuned baseline']}. Input noise reaches a "
        f"validation accuracy of {k['Proposed method']} on gauss. Figure~\\ref{{fig:learning_curves}} and "
        "Figure~\\ref{fig:accuracy} show the curves and the accuracies; Table~\\ref{tab:ablations} has the ablation."
    )


@pytest.mark.slow
@needs_tex
def test_wrong_number_is_caught_and_sent_back(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a PDF: a few seconds."""
    journal = Journal.load(run.path / "journal.json")
    recorded = {round(f, 3) for n in journal.nodes for m in n.metric.metrics for f in m.values.values()}
    assert 0.981 not in recorded  # the fixture's invented number really is invented
    script_writer(scripted_llm, skip=("writeup/results",))
    scripted_llm.always("writeup/results", _wrong_results)
    scripted_llm.script("writeup/revise", _fixed_results)
    _write(run, llm_settings)
    report = _report(run)
    assert report.integrity_issues_sent_back == ["results: the number 0.981 matches no recorded value"]
    revise_prompt = user_text(scripted_llm.requests_for("writeup/revise")[0])
    assert "0.981" in revise_prompt and "Proposed method" in revise_prompt
    tex = _body_tex(run)
    assert "0.981" not in tex and not report.integrity_dropped


@pytest.mark.slow
@needs_tex
def test_wrong_number_the_writer_keeps_is_dropped(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a PDF: a few seconds."""
    script_writer(scripted_llm, skip=("writeup/results",))
    scripted_llm.always("writeup/results", _wrong_results)
    scripted_llm.script("writeup/revise", _wrong_results)
    _write(run, llm_settings)
    report = _report(run)
    assert report.integrity_dropped == ["results: 0.981"]
    tex = _body_tex(run)
    assert "0.981" not in tex and "shows the tuned baseline at" in tex


@pytest.mark.slow
def test_missing_tex_gives_one_message_and_leaves_the_sources(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Runs the whole drafting path without LaTeX; slow only because the shared run fixture executes ten numpy
    programs when this test is the first to need it."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    script_writer(scripted_llm)
    with pytest.raises(TexUnavailable) as exc:
        _write(run, llm_settings)
    msg = str(exc.value)
    assert "LaTeX is not installed" in msg and "apt-get install" in msg and "paper.tex" in msg
    tex = _body_tex(run)
    assert IDEA.title in tex and "\\begin{document}" in tex
    assert (run.path / "paper" / "references.bib").is_file()
    assert (run.path / "paper" / "attempts" / "01" / "paper.tex").is_file()


@pytest.mark.slow
@needs_tex
def test_conference_layout_compiles_in_two_columns(
    run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings
) -> None:
    """Builds a PDF: a few seconds."""
    script_writer(scripted_llm)
    llm_settings.writeup.layout = "conference"
    pdf = _write(run, llm_settings)
    report = _report(run)
    assert report.layout == "conference" and report.page_limit == 8 and report.within_limit
    assert "twocolumn]{article}" in _body_tex(run)
    box = PdfReader(str(pdf)).pages[0].mediabox
    assert (float(box.width), float(box.height)) == (612.0, 792.0)  # US letter


@pytest.mark.slow
@needs_tex
def test_chktex_warnings_are_fed_back_once(run: RunDir, scripted_llm: ScriptedServer, llm_settings: Settings) -> None:
    """Two latexmk builds (before and after the chktex revision): several seconds."""
    script_writer(scripted_llm, skip=("writeup/discussion",))
    scripted_llm.always(
        "writeup/discussion",
        text("Two cases remain open: a) real tabular data, and b) more seeds. Both need more compute."),
    )
    scripted_llm.script(
        "writeup/revise",
        text("Two cases remain open: real tabular data, and more seeds. Both need more compute."),
    )
    _write(run, llm_settings)
    report = _report(run)
    assert report.chktex_warnings == 2 and report.compile_attempts == 2
    prompt = user_text(scripted_llm.requests_for("writeup/revise")[0])
    assert "chktex: Solo `)' found" in prompt and "a) real tabular data" in prompt
    assert "a) real" not in _body_tex(run)
    assert "after chktex warnings" in (run.path / "paper" / "attempts" / "02" / "attempt.txt").read_text()
