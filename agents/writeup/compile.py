"""Compiling the paper: latexmk with a timeout, log excerpts for repair, chktex, page counting, attempts on disk.

- ``latexmk -norc -pdf -interaction=nonstopmode -halt-on-error -file-line-error`` runs in its own session with a
  timeout; on timeout we kill that process group (ours) and nothing else. Its environment is scrubbed (no keys),
  shell escape is off and kpathsea is paranoid (``openin_any=p``, ``openout_any=p``): no absolute paths, no
  ``..``, no dot files, for reading and writing (see agents/writeup/tex_safety.py for the model-text check).
- The error excerpt is the ``file:line: error`` / ``! ...`` lines of the log with a few lines of context, capped,
  so a small model sees what broke and where.
- Pages are measured from the PDF with pypdf: the body ends at the named destination ``shoal-body-end`` (placed
  after a float barrier, before the references and the appendix); without it, at the page with a "References"
  heading.
- Every attempt is copied to ``paper/attempts/NN/`` (tex, bib, log, pdf, chktex, what it was for); attempts are
  numbered after those already there and never deleted.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pydantic import BaseModel, Field
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from agents.doctor import TEX_APT
from agents.errors import ShoalError
from agents.writeup.latex_templates import BODY_END_DEST

log = logging.getLogger(__name__)

MAX_EXCERPT_CHARS = 1500
# chktex warnings worth a model's attention (others are typographic nits: spacing before \cite, dashes, ...).
CHKTEX_KEEP = {9, 10, 15, 16, 17, 18, 19, 32, 33, 34}


class TexUnavailable(ShoalError):
    """LaTeX (latexmk / pdflatex) is not installed: the sources are written but no PDF can be built."""


class CompileResult(BaseModel):
    ok: bool
    pdf: Path | None = None
    returncode: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    log_excerpt: str = ""
    error_line: int | None = Field(default=None, description="line of paper.tex the first error points at")


class PageCount(BaseModel):
    total: int
    body: int


def tex_missing() -> str | None:
    """None when latexmk and pdflatex are on PATH; else the one clear message to show."""
    missing = [t for t in ("latexmk", "pdflatex") if shutil.which(t) is None]
    if not missing:
        return None
    return (
        f"LaTeX is not installed ({', '.join(missing)} not found), so no PDF was built. Install it with: sudo {TEX_APT}"
    )


_AUX_ERROR = re.compile(r"^(?:\./)?[^:\s]+\.aux:\d+: ", re.M)
AUX_SUFFIXES = (".aux", ".bbl", ".blg", ".out", ".toc", ".lof", ".lot", ".fls", ".fdb_latexmk")


def compile_tex(paper_dir: Path, tex_name: str = "paper.tex", timeout_s: float = 180.0) -> CompileResult:
    """Build ``paper_dir/tex_name`` into a PDF (raises TexUnavailable when LaTeX is missing).

    An error raised while reading an auxiliary file comes from an earlier build, not from these sources (a model's
    own numeric ``\\bibitem`` left natbib's "Bibliography not compatible with author-year citations" in
    ``paper.aux``, and every later build, even with every section as plain text, stopped there): the auxiliary
    files are removed and the build runs once more."""
    msg = tex_missing()
    if msg:
        raise TexUnavailable(msg)
    result, log_text = _latexmk(paper_dir, tex_name, timeout_s)
    if not result.ok and not result.timed_out and _AUX_ERROR.search(log_text):
        stem = Path(tex_name).stem
        log.info("LaTeX stopped in an auxiliary file of an earlier build; building again without them")
        for suffix in AUX_SUFFIXES:
            (paper_dir / f"{stem}{suffix}").unlink(missing_ok=True)
        result, _ = _latexmk(paper_dir, tex_name, timeout_s)
    return result


def _latexmk(paper_dir: Path, tex_name: str, timeout_s: float) -> tuple[CompileResult, str]:
    """One latexmk run (the result, and the LaTeX log it left)."""
    stem = Path(tex_name).stem
    cmd = [
        "latexmk",
        "-norc",  # no ~/.latexmkrc or ./latexmkrc: the build is exactly this command
        "-pdf",
        "-e",
        "$pdflatex = q/pdflatex -no-shell-escape %O %S/",
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-file-line-error",
        tex_name,
    ]
    start = time.monotonic()
    proc = subprocess.Popen(
        cmd,
        cwd=paper_dir,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=tex_env(),
    )
    timed_out = False
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)  # the session we started for latexmk and its children
        out, _ = proc.communicate()
    duration = time.monotonic() - start
    log_path = paper_dir / f"{stem}.log"
    log_text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.is_file() else ""
    stdout = out.decode("utf-8", errors="replace") if out else ""
    (paper_dir / "build.log").write_text(stdout + "\n\n===== " + log_path.name + " =====\n" + log_text, "utf-8")
    pdf = paper_dir / f"{stem}.pdf"
    ok = proc.returncode == 0 and not timed_out and pdf.is_file()
    excerpt, line = ("", None) if ok else error_excerpt(log_text or stdout, tex_name)
    if timed_out:
        excerpt = f"LaTeX did not finish within {timeout_s:.0f} s (an endless loop?).\n" + excerpt
    result = CompileResult(
        ok=ok,
        pdf=pdf if ok else None,
        returncode=proc.returncode,
        timed_out=timed_out,
        duration_s=duration,
        log_excerpt=excerpt,
        error_line=line,
    )
    return result, log_text or stdout


_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SOURCE_DATE_EPOCH", "TEXMFHOME", "TEXMFVAR")


def tex_env() -> dict[str, str]:
    """A scrubbed environment for LaTeX: no keys, no shell escape, and kpathsea's paranoid file access (no
    absolute paths, no parent directories, no dot files, for reading as well as writing)."""
    env = {name: os.environ[name] for name in _ENV_KEEP if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"max_print_line": "1000", "openin_any": "p", "openout_any": "p", "shell_escape": "f"})
    return env


_FILE_LINE = re.compile(r"^(?:\./)?([^:\s]+\.(?:tex|bbl)):(\d+): (.*)$")


def error_excerpt(log_text: str, tex_name: str = "paper.tex", context: int = 3) -> tuple[str, int | None]:
    """The error lines of a LaTeX log with a little context, and the paper.tex line of the first error."""
    lines = log_text.splitlines()
    picked: list[str] = []
    first_line: int | None = None
    for i, line in enumerate(lines):
        m = _FILE_LINE.match(line)
        if m or line.startswith("! "):
            if m and first_line is None and m.group(1).endswith(tex_name):
                first_line = int(m.group(2))
            chunk = lines[i : i + context + 1]
            picked.append("\n".join(chunk))
        if sum(len(p) for p in picked) > MAX_EXCERPT_CHARS:
            break
    if first_line is None:
        m2 = re.search(r"^l\.(\d+) ", log_text, re.M)
        first_line = int(m2.group(1)) if m2 else None
    text = "\n...\n".join(dict.fromkeys(picked)) or "\n".join(lines[-25:])
    return text[:MAX_EXCERPT_CHARS], first_line


class ChktexWarning(BaseModel):
    line: int
    code: int
    message: str
    text: str = ""


def run_chktex(tex_path: Path, timeout_s: float = 30.0) -> list[ChktexWarning]:
    """chktex's warnings that matter (see CHKTEX_KEEP); [] when chktex is missing or fails."""
    if shutil.which("chktex") is None:
        log.info("chktex not found; LaTeX lint skipped")
        return []
    try:
        res = subprocess.run(
            ["chktex", "-q", "-f", "%l\t%n\t%m\n", tex_path.name],
            cwd=tex_path.parent,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        log.warning("chktex timed out after %.0f s", timeout_s)
        return []
    src = tex_path.read_text(encoding="utf-8").splitlines()
    out = []
    for row in res.stdout.splitlines():
        parts = row.split("\t", 2)
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
            continue
        line, code = int(parts[0]), int(parts[1])
        if code in CHKTEX_KEEP:
            text = src[line - 1].strip() if 0 < line <= len(src) else ""
            out.append(ChktexWarning(line=line, code=code, message=parts[2].strip(), text=text[:200]))
    return out


def count_pages(pdf: Path) -> PageCount:
    """Total pages and body pages (pages up to the end of the body, before references and appendix)."""
    try:
        reader = PdfReader(str(pdf))
        total = len(reader.pages)
        dests = reader.named_destinations
        body_end = reader.get_destination_page_number(dests[BODY_END_DEST]) if BODY_END_DEST in dests else None
        if body_end is not None:
            return PageCount(total=total, body=body_end + 1)
        for i, page in enumerate(reader.pages):
            if re.search(r"^\s*References\s*$", page.extract_text() or "", re.M):
                return PageCount(total=total, body=i + 1)
        return PageCount(total=total, body=total)
    except (PdfReadError, OSError, ValueError) as exc:
        raise ShoalError(f"cannot read the compiled PDF {pdf}: {exc}") from exc


def next_attempt_dir(paper_dir: Path) -> Path:
    root = paper_dir / "attempts"
    root.mkdir(parents=True, exist_ok=True)
    nums = [int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit()]
    d = root / f"{max(nums, default=0) + 1:02d}"
    d.mkdir()
    return d


def keep_attempt(
    paper_dir: Path, purpose: str, result: CompileResult | None, extra: dict[str, str] | None = None
) -> Path:
    """Copy this attempt's sources and outputs to ``paper/attempts/NN/`` (never overwritten)."""
    d = next_attempt_dir(paper_dir)
    for name in ("paper.tex", "references.bib", "build.log", "paper.pdf"):
        src = paper_dir / name
        if src.is_file() and (name != "paper.pdf" or (result is not None and result.ok)):
            shutil.copy2(src, d / name)
    status = "no compile" if result is None else ("ok" if result.ok else "failed")
    lines = [f"purpose: {purpose}", f"status: {status}"]
    if result is not None:
        lines.append(f"duration_s: {result.duration_s:.1f}")
        if result.log_excerpt:
            lines += ["", "error excerpt:", result.log_excerpt]
    (d / "attempt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name, content in (extra or {}).items():
        (d / name).write_text(content, encoding="utf-8")
    return d
