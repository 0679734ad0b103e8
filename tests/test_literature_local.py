"""The offline library on real PDFs from ../shared/data/pdfs and a BibTeX file: titles, abstracts, search
ranking, merging a PDF into its .bib entry, the cached index, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agents.errors import UserInputError
from agents.literature.bibtex import clean_latex, parse_bibtex
from agents.literature.local import LocalLibrary
from tests.conftest import shared_data

PDFS = {
    "attention.pdf": ("ai_scientist_fewshot", "Attention is All you Need"),
    "2_carpe_diem.pdf": ("ai_scientist_fewshot", "Carpe Diem, Seize The Samples Uncertain"),
    "132_automated_relational.pdf": ("ai_scientist_fewshot", "Automated Relational Meta-Learning"),
    "pasa.pdf": ("paperqa_stub_data", "PaSa: An LLM Agent for Comprehensive Academic Paper Search"),
    "2206.10883v3.pdf": ("papermage_fixtures", "Multi-LexSum: Real-World Summaries of Civil Rights Lawsuits"),
    # the layout's title: the metadata says "duplicate_media_template", the text starts with the title, then a caption
    "duplicate_media.pdf": ("paperqa_stub_data", "SF Districts in the style of Andy Warhol"),
    # one page from the middle of a paper, a table header first: no title, so the file's name
    "1903.10676.pdf": ("papermage_fixtures", "1903.10676"),
}

BIB = r"""
@string{iclr = "ICLR"}
@inproceedings{vaswani2017attention,
  title     = {Attention is {All} you Need},
  author    = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
  booktitle = {Advances in Neural Information Processing Systems},
  year      = 2017,
}
@article{he2016deep,
  title = "Deep Residual Learning for Image Recognition",
  author = {He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  journal = {CVPR}, year = {2016},
  abstract = {Deeper neural networks are more difficult to train. We present a residual learning framework.}
}
@misc{broken, title = {Unclosed
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lib = tmp_path_factory.mktemp("library")
    (lib / "sub").mkdir(parents=True)
    for name, (folder, _) in PDFS.items():
        shutil.copy(shared_data("pdfs", folder, name), lib / "sub" / name)
    (lib / "refs.bib").write_text(BIB, encoding="utf-8")
    return lib


@pytest.fixture(scope="module")
def index_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the module: the PDFs are read once, later tests load the cached index."""
    return tmp_path_factory.mktemp("cache")


def test_titles_and_abstracts_from_real_pdfs(library: Path, index_cache: Path) -> None:
    lib = LocalLibrary(library, index_cache)
    lib.ensure_index()
    titles = [p.title for p in lib.papers]
    for _, expected in PDFS.values():
        assert any(t.startswith(expected) for t in titles), (expected, titles)
    assert "SF Districts in the style of Andy Warhol" in titles and "1903.10676" in titles  # whole titles
    carpe = next(p for p in lib.papers if p.title.startswith("Carpe Diem"))
    assert carpe.abstract and carpe.abstract.startswith("The performance of deep neural networks")
    assert "Introduction" not in carpe.abstract
    assert all(p.paper_id.startswith("local:") and p.source == "local" for p in lib.papers)


def test_pdf_of_a_bib_entry_is_merged_into_it(library: Path, index_cache: Path) -> None:
    lib = LocalLibrary(library, index_cache)
    lib.ensure_index()
    attention = [p for p in lib.papers if p.title.lower().startswith("attention is all you need")]
    assert len(attention) == 1
    paper = attention[0]
    assert (
        paper.authors[:2] == ["Ashish Vaswani", "Noam Shazeer"] and paper.year == 2017
    )  # as Semantic Scholar names them
    assert paper.bibtex and paper.bibtex.startswith("@inproceedings{vaswani2017attention")
    assert paper.abstract and "sequence transduction" in paper.abstract  # from the PDF
    assert len(lib.papers) == len(PDFS) + 1  # + He et al. from the .bib; the broken entry is skipped


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("attention mechanism for machine translation", "Attention is All you Need"),
        ("agent that searches academic papers with reinforcement learning", "PaSa"),
        ("choosing uncertain samples for mini-batch selection", "Carpe Diem"),
        ("summarization of civil rights legal cases", "Multi-LexSum"),
        ("residual learning deep networks", "Deep Residual Learning"),
    ],
)
def test_search_ranks_the_relevant_paper_first(library: Path, index_cache: Path, query: str, expected: str) -> None:
    lib = LocalLibrary(library, index_cache)
    assert lib.search(query, limit=3)[0].title.startswith(expected)


def test_index_is_cached_and_rebuilt_when_files_change(tmp_path: Path) -> None:
    library = tmp_path / "lib"
    library.mkdir()
    for name in ("attention.pdf", "2_carpe_diem.pdf"):
        shutil.copy(shared_data("pdfs", "ai_scientist_fewshot", name), library / name)
    first = LocalLibrary(library, tmp_path / "cache")
    first.ensure_index()
    cached = list((tmp_path / "cache" / "local_library").glob("*.npy"))
    assert len(cached) == 1
    again = LocalLibrary(library, tmp_path / "cache")
    again.ensure_index()
    assert again.papers == first.papers and len(list(cached[0].parent.glob("*.npy"))) == 1
    (library / "2_carpe_diem.pdf").unlink()
    second = LocalLibrary(library, tmp_path / "cache")
    second.ensure_index()
    assert len(second.papers) == len(first.papers) - 1
    assert len(list((tmp_path / "cache" / "local_library").glob("*.npy"))) == 2
    kept = next(p for p in first.papers if p.title.startswith("Attention"))
    gone = next(p for p in first.papers if p.title.startswith("Carpe Diem"))
    assert second.get(kept.paper_id) == kept
    assert second.get(gone.paper_id) is None
    assert second.get("local:nope") is None


def test_unreadable_pdf_is_skipped(tmp_path: Path) -> None:
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    (lib_dir / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    shutil.copy(shared_data("pdfs", "ai_scientist_fewshot", "attention.pdf"), lib_dir / "a.pdf")
    lib = LocalLibrary(lib_dir, tmp_path / "cache")
    assert [p.title for p in lib.search("transformer", 5)] == ["Attention is All you Need"]


def test_missing_library_is_a_clear_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        LocalLibrary(tmp_path / "nowhere", tmp_path / "cache")


def test_bibtex_reader_handles_nesting_quotes_and_concatenation() -> None:
    entries = parse_bibtex(BIB + '\n@misc{x, title = "A " # {B}, note={{nested {deep}} text}}')
    keys = [e.key for e in entries]
    assert keys == ["vaswani2017attention", "he2016deep", "x"]
    assert clean_latex(entries[0].get("title")) == "Attention is All you Need"
    assert entries[0].get("year") == "2017"
    assert entries[2].get("title") == "A B"
    assert clean_latex(entries[2].get("note")) == "nested deep text"
    assert clean_latex(r"Schr\"{o}dinger \& {Co}") == "Schrodinger & Co"


def test_the_demo_searches_its_shipped_library(tmp_path: Path) -> None:
    """`make demo` works offline with Semantic Scholar off: its config names a BibTeX library of real papers (every
    entry with a title, authors, a year and where it appeared), and a search on the demo's topic finds them."""
    from agents.settings import load_settings

    repo = Path(__file__).resolve().parents[1]
    settings = load_settings(repo / "configs" / "demo.toml")
    assert not settings.literature.semantic_scholar and settings.writeup.citation_rounds >= 1
    library = repo / str(settings.literature.local_library)
    entries = parse_bibtex(library.read_text(encoding="utf-8"))
    assert len(entries) >= 10 and len({e.key for e in entries}) == len(entries)
    for e in entries:
        venue = e.get("journal") or e.get("booktitle") or e.get("publisher")
        assert e.get("title") and e.get("author") and e.get("year").isdigit() and venue, e.key
    found = LocalLibrary(library, tmp_path).search("momentum gradient descent", limit=5)
    assert any("momentum" in p.title.lower() for p in found[:3])


def test_bibtex_names_are_given_names_first_so_citation_keys_take_the_surname(tmp_path: Path) -> None:
    """The demo's paper cited "Qian, Ning" as ning1999momentum: a key takes the last word of the first author."""
    from agents.writeup.citations import make_key

    bib = tmp_path / "lib.bib"
    bib.write_text(
        "@article{q, title={On the momentum term in gradient descent learning algorithms}, author={Qian, Ning},"
        " year={1999}}\n@book{n, title={Theory of Games}, author={von Neumann, John and Morgenstern, Oskar},"
        " year={1944}}"
        "\n@misc{k, title={Letter}, author={King, Jr., Martin Luther}, year={1963}}"
        "\n@misc{p, title={Plain names}, author={Boris T. Polyak}, year={1964}}\n"
    )
    lib = LocalLibrary(bib, tmp_path / "cache")
    lib.ensure_index()
    papers = {p.title: p for p in lib.papers}
    assert papers["On the momentum term in gradient descent learning algorithms"].authors == ["Ning Qian"]
    assert papers["Theory of Games"].authors == ["John von Neumann", "Oskar Morgenstern"]
    assert papers["Letter"].authors == ["Martin Luther King Jr."]
    assert papers["Plain names"].authors == ["Boris T. Polyak"]
    assert make_key(papers["On the momentum term in gradient descent learning algorithms"], set()) == "qian1999momentum"
