"""Paper ingestion on real PDFs (two-column, single-column, tables, equations), a pdflatex-made review-mode PDF
(line numbers, running header), LaTeX/Markdown/text input, and one clear error for each kind of bad input."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pypdf
import pytest

from agents.errors import UserInputError
from agents.testing.shared_data import shared_data_dir
from reviewer.ingest import detex, load_paper

DATA = shared_data_dir()
PDFS = DATA / "pdfs"
needs_pdfs = pytest.mark.skipif(not PDFS.is_dir(), reason=f"shared real PDFs not found at {PDFS}")


@needs_pdfs
def test_two_column_acl_paper() -> None:
    paper = load_paper(PDFS / "papermage_fixtures" / "2020.acl-main.447.pdf")
    assert paper.kind == "pdf" and paper.pages == 15
    assert paper.title.startswith("S2ORC")
    assert paper.abstract.startswith("We introduce S2ORC")
    headings = [s.heading for s in paper.sections]
    assert headings[0] == "1 Introduction" and "8 Conclusion" in headings
    assert "2.1 Processing PDFs" in headings
    body = paper.full_text(with_appendix=False)
    assert "ﬁ" not in body and "artificial" in body.lower()  # ligatures normalised
    assert "corresponding" in paper.abstract  # "correspond-" + "ing" joined across the line break
    assert not re.search(r"^49[67]\d$", body, re.MULTILINE)  # page numbers (4969..) removed
    # references are separated from the body and hold the bibliography
    assert "Association for Computational Linguistics" in paper.references
    assert "Ammar" in paper.references and "Ammar, W." not in body


@needs_pdfs
def test_single_column_long_paper_with_appendix() -> None:
    paper = load_paper(PDFS / "papermage_fixtures" / "2206.10883v3.pdf")
    headings = [s.heading for s in paper.sections]
    assert headings[0] == "1 Introduction"
    assert any(h.startswith("4 Experiments") for h in headings)
    assert paper.appendix, "sections after the references are the appendix"
    assert len(paper.references) > 5000


@needs_pdfs
@pytest.mark.parametrize(
    ("path", "title"),
    [
        # a diagonal watermark and a running header came first; small-caps title in two type sizes
        ("ai_scientist_generated/gan_diffusion.pdf", "GAN-ENHANCED DIFFUSION: BOOSTING SAMPLE QUALITY AND DIVERSITY"),
        # a proceedings stamp and a copyright line came first
        (
            "papermage_fixtures/2023.eacl-main.121.pdf",
            "LONGEVAL: Guidelines for Human Evaluation of Faithfulness in Long-form Summarization",
        ),
        # a title wrapped onto a second line that is not in capitals
        (
            "papermage_fixtures/2206.10883v3.pdf",
            "Multi-LexSum: Real-World Summaries of Civil Rights Lawsuits at Multiple Granularities",
        ),
        # a logo in larger type than the title
        ("paperqa_stub_data/pasa.pdf", "PaSa: An LLM Agent for Comprehensive Academic Paper Search"),
        ("ai_scientist_fewshot/132_automated_relational.pdf", "AUTOMATED RELATIONAL META-LEARNING"),
    ],
)
def test_a_pdf_without_a_metadata_title_is_titled_by_its_largest_type(path: str, title: str) -> None:
    assert load_paper(PDFS / path).title == title


def test_a_page_on_which_no_line_stands_out_has_no_layout_title() -> None:
    """A page from the middle of a paper starts with a table's header, set a little smaller than the body text."""
    from reviewer.pdftitle import layout_title

    page = "Field Task Dataset SOTA BERT-Base\nWe observe that the model outperforms the baseline on every task"
    body = [(10.0, "weobservethatthemodeloutperforms"), (10.0, "thebaselineoneverytask")]
    assert layout_title(page, [(9.0, "fieldtaskdatasetsotabertbase"), *body]) == ""
    assert layout_title(page, [(14.3, "fieldtaskdatasetsotabertbase"), *body]) == "Field Task Dataset SOTA BERT-Base"


@needs_pdfs
def test_table_excerpt_keeps_numbers_and_invents_no_headings() -> None:
    paper = load_paper(PDFS / "papermage_fixtures" / "1903.10676.pdf")
    text = paper.full_text()
    assert "SciBERT" in text or "SCIBERT" in text
    assert re.search(r"\d+\.\d+", text)
    assert [s.heading for s in paper.sections] == ["Text"]
    assert "no abstract heading found" in paper.warnings


@needs_pdfs
def test_equations_survive_in_their_section() -> None:
    paper = load_paper(PDFS / "ai_scientist_fewshot" / "attention.pdf")
    sec = next(s for s in paper.sections if s.heading.startswith("3.2.1"))
    assert "softmax" in sec.text and "√" in sec.text
    assert [s.heading for s in paper.sections][-1] == "7 Conclusion"


def _pdflatex(tmp_path: Path, body: str) -> Path:
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed")
    (tmp_path / "p.tex").write_text(body, encoding="utf-8")
    subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "p.tex"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=True,
    )
    return tmp_path / "p.pdf"


REVIEW_MODE_TEX = r"""\documentclass{article}
\usepackage{lineno}\usepackage{fancyhdr}\pagestyle{fancy}
\fancyhead[L]{Under review as a conference paper at ICLR 2026}
\begin{document}
\title{A Study of Things}\author{Jane Doe}\maketitle\thispagestyle{fancy}
\linenumbers
\begin{abstract}We study things carefully and report what we find about them in detail.\end{abstract}
\section{Introduction}
\newcount\i \i=0 \loop Things matter because they are everywhere and we measure them. \advance\i 1 \ifnum\i<60 \repeat
\section{Method}
\i=0 \loop Our method counts the things twice and compares the counts. \advance\i 1 \ifnum\i<60 \repeat
\section{Results}
\i=0 \loop The counts agree in ninety percent of the cases we looked at. \advance\i 1 \ifnum\i<60 \repeat
\end{document}
"""


def test_review_mode_pdf_loses_line_numbers_and_running_header(tmp_path: Path) -> None:
    pdf = _pdflatex(tmp_path, REVIEW_MODE_TEX)
    raw = "\n".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    assert re.search(r"[a-z.]\d{1,3}$", raw, re.MULTILINE), "the raw text carries glued line numbers"
    paper = load_paper(pdf)
    assert paper.pages and paper.pages >= 3
    text = paper.full_text()
    assert "Under review as a conference paper" not in text  # repeated header dropped
    assert not re.search(r"[a-z.]\d{1,3}$", text, re.MULTILINE)
    assert [s.heading for s in paper.sections] == ["1 Introduction", "2 Method", "3 Results"]


def test_tex_md_and_txt_inputs(tmp_path: Path) -> None:
    tex = tmp_path / "paper.tex"
    tex.write_text(
        r"""\documentclass{article}\title{Sparse Things}\author{Jane Doe\thanks{jane@x.org}}
\begin{document}\maketitle
\begin{abstract}We propose sparse things. % a comment
\end{abstract}
\section{Introduction} Things are dense \cite{a,b}. """
        + "More words here. " * 30
        + r"""
\begin{figure}\includegraphics{f.png}\caption{Accuracy per seed.}\end{figure}
\section{Conclusion} Sparse is better.
\bibliography{refs}
\end{document}""",
        encoding="utf-8",
    )
    paper = load_paper(tex)
    assert paper.title == "Sparse Things" and paper.abstract == "We propose sparse things."
    assert [s.heading for s in paper.sections] == ["Introduction", "Conclusion"]
    assert "[a,b]" in paper.sections[0].text and "Accuracy per seed." in paper.sections[0].text
    assert "Jane" not in paper.full_text() and "comment" not in paper.full_text()
    md = tmp_path / "paper.md"
    md.write_text("# My Title\n\n## Abstract\nShort abstract.\n\n## 1 Introduction\n" + "Word " * 80, encoding="utf-8")
    p = load_paper(md)
    assert (p.title, p.abstract, [s.heading for s in p.sections]) == ("My Title", "Short abstract.", ["1 Introduction"])
    txt = tmp_path / "paper.txt"
    txt.write_text("Title\nAbstract\nA plain abstract.\n1 Introduction\n" + "word " * 80, encoding="utf-8")
    assert load_paper(txt).sections[0].heading == "1 Introduction"


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [("utf-8", b"\xef\xbb\xbf"), ("cp1252", b""), ("utf-16", b"")],
    ids=["bom", "cp1252", "utf-16"],
)
def test_text_saved_by_other_editors(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    """Read as what it is: the title was '\\ufeff# Une étude' (a byte-order mark), 'Une \\ufffdtude' (Windows-1252),
    or the file was 'a binary file' (UTF-16)."""
    md = tmp_path / "paper.md"
    md.write_bytes(prefix + ("# Une étude\n\n## Abstract\nCafé.\n\n## 1 Introduction\n" + "mot " * 80).encode(encoding))
    paper = load_paper(md)
    assert paper.title == "Une étude" and paper.abstract == "Café."


def test_detex_keeps_math_and_drops_author() -> None:
    text, title = detex(r"\title{T}\begin{document}\author{A. B.}\section{Intro} $x^2$ holds.\end{document}")
    assert title == "T" and "$x^2$" in text and "A. B." not in text


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("empty", "the file is empty"),
        ("corrupt", "not a readable PDF"),
        ("html", "an HTML page saved under a .pdf name"),
        ("not_pdf", "not a PDF file (it does not start with %PDF-)"),
        ("encrypted", "encrypted"),
        ("no_text", "no usable text layer"),
        ("too_many_pages", "pages (> 3"),
        ("too_big", "too large"),
        ("suffix", "unsupported file type .docx"),
        ("missing", "no such file"),
        ("binary_txt", "binary file"),
    ],
)
def test_bad_input_gets_one_clear_message(tmp_path: Path, make: str, message: str) -> None:
    src = PDFS / "papermage_fixtures" / "2304.02623v1.pdf"
    path = tmp_path / "bad.pdf"
    kwargs: dict[str, float] = {}
    if make == "empty":
        path.write_bytes(b"")
    elif make == "corrupt":
        path.write_bytes(b"%PDF-1.5\n" + b"garbage \x00\x01" * 200)
    elif make == "html":  # a download that got the site's login page
        path.write_bytes(b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Access denied</body></html>")
    elif make == "not_pdf":
        path.write_bytes(b"PK\x03\x04 a zip archive " * 20)
    elif make in ("encrypted", "no_text"):
        writer = pypdf.PdfWriter()
        writer.add_blank_page(612, 792)
        writer.add_blank_page(612, 792)
        if make == "encrypted":
            writer.encrypt("secret")
        with path.open("wb") as fh:
            writer.write(fh)
    elif make in ("too_many_pages", "too_big"):
        if not src.is_file():
            pytest.skip("shared PDFs not found")
        path = src
        kwargs = {"max_pages": 3} if make == "too_many_pages" else {"max_file_mb": 0.01}
    elif make == "suffix":
        path = tmp_path / "paper.docx"
        path.write_bytes(b"PK")
    elif make == "missing":
        path = tmp_path / "nope.pdf"
    elif make == "binary_txt":
        path = tmp_path / "x.txt"
        path.write_bytes(b"\x00\x01" * 3000)
    with pytest.raises(UserInputError) as info:
        load_paper(path, **kwargs)  # type: ignore[arg-type]
    text = str(info.value)
    assert message in text and "\n" not in text and str(path.name) in text
