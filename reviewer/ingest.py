"""Read a paper from a file: PDF (``pypdf``), LaTeX ``.tex``, Markdown ``.md`` or plain ``.txt``.

Bad input raises ``UserInputError`` with one line that names the file and the problem: missing, empty, too large
(bytes or pages), encrypted, corrupt, no text layer (a scanned PDF), or an unsupported suffix.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from agents.errors import UserInputError
from agents.textfile import guess_encoding
from reviewer.document import PaperText, split_document
from reviewer.pdftext import clean_pages, normalize_text
from reviewer.pdftitle import layout_title, text_and_runs

log = logging.getLogger(__name__)

SUFFIXES = (".pdf", ".tex", ".md", ".txt")
MIN_CHARS_PER_PAGE = 100  # below this on average, the PDF has no usable text layer
MAX_CHARS = 2_000_000


def load_paper(path: Path, *, max_file_mb: float = 50.0, max_pages: int = 150) -> PaperText:
    """Read and split one paper; raises UserInputError for input that cannot be reviewed."""
    if not path.exists():
        raise UserInputError(f"{path}: no such file")
    if not path.is_file():
        raise UserInputError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise UserInputError(f"{path}: unsupported file type {suffix or '(none)'}; give a .pdf, .tex, .md or .txt")
    size = path.stat().st_size
    if size == 0:
        raise UserInputError(f"{path}: the file is empty")
    if size > max_file_mb * 1024 * 1024:
        raise UserInputError(
            f"{path}: the file is too large ({size / 1048576:.1f} MB > {max_file_mb:g} MB; raise review.max_file_mb)"
        )
    if suffix == ".pdf":
        text, title, pages = read_pdf(path, max_pages=max_pages)
        paper = split_document(text, source=path.name, kind="pdf", title=title, pages=pages)
    else:
        raw = _read_text(path)
        if suffix == ".tex":
            text, title = detex(raw)
            paper = split_document(text, source=path.name, kind="tex", title=title)
        else:
            paper = split_document(normalize_text(raw), source=path.name, kind=suffix[1:])
    if paper.body_words < 50:
        raise UserInputError(f"{path}: too little text to review ({paper.body_words} words)")
    return paper


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    encoding = guess_encoding(data[:65536])  # a byte-order mark dropped, a Windows-1252 file read as such
    if encoding != "utf-16" and data[:4096].count(b"\x00") > 40:
        raise UserInputError(f"{path}: this is a binary file, not text")
    text = data.decode(encoding, errors="replace").replace("\x00", "")
    if not text.strip():
        raise UserInputError(f"{path}: the file is empty")
    if len(text) > MAX_CHARS:
        raise UserInputError(f"{path}: the text is too long ({len(text):,} characters > {MAX_CHARS:,})")
    return text


def _not_a_pdf(path: Path) -> str:
    """What a file named .pdf is when it does not start like one ('' when it does): often a saved web page."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" in head:
        return ""
    if b"<html" in head.lower() or b"<!doctype html" in head.lower():
        return "an HTML page saved under a .pdf name (a download that got a login or error page?), not a PDF"
    return "not a PDF file (it does not start with %PDF-)"


def read_pdf(path: Path, *, max_pages: int = 150) -> tuple[str, str, int]:
    """(cleaned text, metadata title or "", page count) of a PDF."""
    import pypdf
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:
                raise UserInputError(f"{path}: the PDF is encrypted and cannot be opened ({exc})") from exc
            if not ok:
                raise UserInputError(f"{path}: the PDF is encrypted with a password; give an unencrypted copy")
        n_pages = len(reader.pages)
    except UserInputError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        why = _not_a_pdf(path) or f"not a readable PDF (corrupt or truncated: {exc})"
        raise UserInputError(f"{path}: {why}") from exc
    if n_pages == 0:
        raise UserInputError(f"{path}: the PDF has no pages")
    if n_pages > max_pages:
        raise UserInputError(f"{path}: the PDF has {n_pages} pages (> {max_pages}; raise review.max_pages)")
    raw_pages: list[str] = []
    first_runs: list[tuple[float, str]] = []  # page 1's type sizes, for the title (reviewer.pdftitle)
    for i, page in enumerate(reader.pages):
        try:
            if i == 0:
                text, first_runs = text_and_runs(page)
            else:
                text = page.extract_text() or ""
            raw_pages.append(text)
        except Exception as exc:  # pypdf raises many types on damaged content streams
            log.warning("%s: page %d unreadable (%s); skipped", path.name, i + 1, exc)
            raw_pages.append("")
    chars = sum(len(p.strip()) for p in raw_pages)
    if chars < MIN_CHARS_PER_PAGE * n_pages:
        raise UserInputError(
            f"{path}: the PDF has no usable text layer ({chars} characters on {n_pages} pages; scanned?); "
            "run OCR first (e.g. ocrmypdf) or give the .tex source"
        )
    title = ""
    try:
        meta = reader.metadata
        title = (meta.title or "").strip() if meta else ""
    except Exception:  # broken metadata is not worth failing for
        title = ""
    if title.lower() in ("", "untitled") or title.lower().endswith((".dvi", ".pdf", ".tex")):
        title = normalize_text(layout_title(raw_pages[0], first_runs))  # "": the text's first line is used
    return clean_pages(raw_pages), title, n_pages


# -- LaTeX ----------------------------------------------------------------------------------------------------------

_TEX_DROP_ENVS = ("figure*", "figure", "table*", "table", "tikzpicture", "algorithm", "comment")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The content of the {...} group starting at ``text[start] == '{'`` and the index after it."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{" and (i == 0 or text[i - 1] != "\\"):
            depth += 1
        elif text[i] == "}" and text[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
    return text[start + 1 :], len(text)


def _command_arg(text: str, name: str) -> str:
    m = re.search(rf"\\{name}\*?\s*(\[[^\]]*\])?\s*{{", text)
    return _braced(text, m.end() - 1)[0] if m else ""


def detex(source: str) -> tuple[str, str]:
    """LaTeX to plain text with Markdown-style headings: (text, title). Math is kept as written."""
    src = re.sub(r"(?<!\\)%.*", "", source)
    title = re.sub(r"\s+", " ", _command_arg(src, "title")).strip()
    title = re.sub(r"\\\\|\\[a-zA-Z]+\s*", " ", title).replace("{", "").replace("}", "").strip()
    m = re.search(r"\\begin\{document\}(.*?)(\\end\{document\}|$)", src, re.DOTALL)
    body = m.group(1) if m else src
    for env in ("author", "thanks", "affiliation", "institute", "email"):
        while (arg := re.search(rf"\\{env}\s*{{", body)) is not None:
            _, end = _braced(body, arg.end() - 1)
            body = body[: arg.start()] + body[end:]
    body = re.sub(r"\\begin\{abstract\}", "\n\nAbstract\n", body)
    body = re.sub(r"\\end\{abstract\}", "\n\n", body)
    for env in _TEX_DROP_ENVS:
        e = re.escape(env)
        body = re.sub(rf"\\begin\{{{e}\}}.*?\\end\{{{e}\}}", lambda mm: _captions(mm.group(0)), body, flags=re.DOTALL)
    body = re.sub(
        r"\\begin\{thebibliography\}.*?\\end\{thebibliography\}",
        "\n\nReferences\n(bibliography)\n",
        body,
        flags=re.DOTALL,
    )
    body = re.sub(r"\\bibliography\{[^}]*\}", "\n\nReferences\n(bibliography)\n", body)
    levels = {"section": "#", "subsection": "##", "subsubsection": "###", "paragraph": "####"}
    for cmd, hashes in levels.items():
        body = re.sub(rf"\\{cmd}\*?\s*\{{([^{{}}]*)\}}", rf"\n\n{hashes} \1\n", body)
    body = re.sub(r"\\appendix\b", "\n\nAppendix\n", body)
    body = re.sub(r"\\(?:cite[tp]?|citeauthor|citeyear)\*?(\[[^\]]*\])*\{([^}]*)\}", r"[\2]", body)
    body = re.sub(r"\\(?:ref|eqref|autoref|cref|Cref)\{([^}]*)\}", r"\1", body)
    body = re.sub(
        r"\\(?:label|vspace|hspace|includegraphics|maketitle|centering|usepackage)"
        r"\*?(\[[^\]]*\])?(\{[^}]*\})?",
        "",
        body,
    )
    body = re.sub(r"\\(?:textbf|textit|emph|texttt|underline|textsc|url)\{([^{}]*)\}", r"\1", body)
    body = re.sub(r"\\(?:begin|end)\{(?:itemize|enumerate|description|center|small|footnotesize)\}", "", body)
    body = body.replace("\\item", "-").replace("~", " ").replace("\\\\", "\n")
    body = re.sub(r"\n{3,}", "\n\n", body)
    return normalize_text(body).strip(), title


def _captions(env_text: str) -> str:
    caps = [_braced(env_text, m.end() - 1)[0] for m in re.finditer(r"\\caption\s*(\[[^\]]*\])?\s*\{", env_text)]
    return "".join(f"\n[Figure/Table caption: {c.strip()}]\n" for c in caps)
