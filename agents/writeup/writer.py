"""``write_paper``: the writeup stage from a run directory to ``paper/paper.pdf``.

Order: context -> citations (bounded rounds) -> sections -> integrity rounds (problems sent back to the writer,
then deterministic enforcement) -> compile with bounded repairs from the log -> one chktex round -> page limit
(move extra floats to the appendix, then bounded shortening rounds). Every compile is kept in
``paper/attempts/NN/``; ``paper/report.json`` records what happened.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

from pydantic import BaseModel, Field

from agents.errors import ShoalError
from agents.literature.base import LiteratureBackend
from agents.llm import LLM
from agents.rundir import RunDir
from agents.settings import Settings
from agents.writeup import compile as tex
from agents.writeup import page_fit, tex_safety
from agents.writeup.citations import (
    CitationOutcome,
    Reference,
    cited_keys,
    gather_citations,
    resolve_citations,
    write_bib,
)
from agents.writeup.claims import check_claims, remove_fragments
from agents.writeup.context import WriterContext, build_context
from agents.writeup.floats import figure_float, search_table
from agents.writeup.integrity import Issue, check_paper, drop_caption_sentences, drop_sentences_with
from agents.writeup.latex_templates import PaperDoc, SectionDoc, get_layout, render_paper
from agents.writeup.plaintext import plain_text, unbalanced
from agents.writeup.provenance import how_obtained, write_findings
from agents.writeup.sections import ABSTRACT, APPENDIX, BODY_SECTIONS, revise_section, write_section

log = logging.getLogger(__name__)

CLAIM_KINDS = ("comparison", "significance", "prior-work", "contribution", "label-line", "caption-copy")


class WriteupReport(BaseModel):
    layout: str
    page_limit: int
    pages_total: int | None = None
    pages_body: int | None = None
    within_limit: bool | None = None
    compile_attempts: int = 0
    latex_repairs: int = 0
    chktex_warnings: int = 0
    shorten_rounds: int = 0
    moved_to_appendix: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    citation_queries: list[str] = Field(default_factory=list)
    removed_citations: list[str] = Field(default_factory=list)
    integrity_issues_sent_back: list[str] = Field(default_factory=list)
    integrity_dropped: list[str] = Field(default_factory=list)
    removed_claims: list[str] = Field(default_factory=list, description="claims still unsupported after repair")
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    model_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    pdf: str | None = None


class PaperWriter:
    """The state of one writeup: the document, the references, the report; each step is a method."""

    def __init__(self, run: RunDir, llm: LLM, settings: Settings, literature: LiteratureBackend) -> None:
        self.run, self.llm, self.settings, self.literature = run, llm.bind(stage="writeup"), settings, literature
        self.cfg = settings.writeup
        self.layout = get_layout(self.cfg.layout)
        self.report = WriteupReport(layout=self.layout.name, page_limit=self.layout.page_limit)
        self.paper_dir = run.paper_dir
        self.paper_dir.mkdir(parents=True, exist_ok=True)
        self.figures_dir = run.paper_figures_dir
        self.refs: list[Reference] = []
        self.ctx: WriterContext
        self.doc: PaperDoc

    # -- drafting -----------------------------------------------------------------------------------------------

    def draft(self) -> None:
        self.ctx = build_context(self.run)
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        for fig in self.ctx.figures:
            shutil.copy2(fig.source, self.figures_dir / fig.file)
        cites: CitationOutcome = gather_citations(
            self.llm, self.literature, self.ctx, rounds=self.cfg.citation_rounds, max_refs=self.cfg.max_references
        )
        self.refs = cites.references
        self.report.citation_queries = cites.queries
        self.report.notes += cites.errors
        (self.paper_dir / "references.bib").write_text(write_bib(self.refs), encoding="utf-8")
        pages, scale = self.layout.page_limit, self.cfg.length_scale
        body = [write_section(self.llm, self.ctx, self.refs, spec, pages, scale) for spec in BODY_SECTIONS]
        abstract = write_section(self.llm, self.ctx, self.refs, ABSTRACT, pages, scale)
        appendix = write_section(self.llm, self.ctx, self.refs, APPENDIX, pages, scale)
        results = next(s for s in body if s.name == "results")
        results.body = self._with_key(results.body)
        results.floats = [t.tex for t in self.ctx.tables] + [
            figure_float(f.file, f.caption, f.label, twocolumn=self.layout.twocolumn) for f in self.ctx.figures
        ]
        appendix.floats = [
            how_obtained(self.ctx),
            search_table([(s.stage, s.name, s.nodes, s.good, s.buggy) for s in self.ctx.stages]),
            *([self.ctx.seed_table.tex] if self.ctx.seed_table is not None else []),
        ]
        self.doc = PaperDoc(
            title=self.ctx.idea.title,
            author=self.cfg.author,
            abstract="",
            sections=body,
            appendix=[appendix],
        )
        self._abstract = abstract

    def sections(self) -> list[SectionDoc]:
        return [self._abstract, *self.doc.all_sections()]

    def _with_key(self, body: str) -> str:
        """The results body, starting with the key sentences generated from the data (the model writes around
        them; a revision that drops them gets them back)."""
        key = self.ctx.key_sentences
        return body if not key or key in body else f"{key}\n\n{body}"

    def _replace(self, new: SectionDoc) -> None:
        if new.name == "results":
            new = new.model_copy(update={"body": self._with_key(new.body)})
        if new.name == "abstract":
            self._abstract = new
            return
        for group in (self.doc.sections, self.doc.appendix):
            for i, s in enumerate(group):
                if s.name == new.name:
                    group[i] = new

    def _get(self, name: str) -> SectionDoc | None:
        return next((s for s in self.sections() if s.name == name), None)

    def revise_for(self, requests: list[str]) -> None:
        self.report.notes.append(f"revision round for {len(requests)} reviewer request(s)")
        problems = [f"A reviewer asked: {r}" for r in requests[:8]]
        for sec in list(self.doc.sections):
            self._replace(
                revise_section(
                    self.llm, sec, "writeup/revise", self.refs, problems=problems, key_results=self.ctx.key_results
                )
            )

    # -- integrity ----------------------------------------------------------------------------------------------

    def _issues(self) -> list[Issue]:
        keys = {r.key for r in self.refs}
        claims = check_claims(
            self.sections(), self.ctx.comparison, [f.caption for f in self.ctx.figures], self.ctx.key_sentences
        )
        return check_paper(self.sections(), self.ctx.facts, keys, self.figures_dir) + claims

    def integrity(self) -> None:
        """Send problems back to the section writers (bounded rounds), then enforce what is left."""
        self.report.notes += tex_safety.send_back(self.sections, self._revise, self._replace, self.cfg.integrity_rounds)
        for _ in range(self.cfg.integrity_rounds):
            issues = [i for i in self._issues() if i.kind in ("number", "placeholder", "citation", *CLAIM_KINDS)]
            if not issues:
                break
            self.report.integrity_issues_sent_back += [f"{i.section}: {i.detail}" for i in issues]
            by_section: dict[str, list[str]] = {}
            for i in issues:
                by_section.setdefault(i.section, []).append(i.detail)
            for name, problems in by_section.items():
                sec = self._get(name)
                if sec is not None:
                    self._replace(
                        revise_section(
                            self.llm, sec, "writeup/revise", self.refs, problems=problems,
                            key_results=self.ctx.key_results,
                        )
                    )  # fmt: skip
        self.enforce()

    def enforce(self) -> None:
        """Deterministic last resort: unknown citations removed, sentences with unverified numbers or placeholders
        dropped, stray \\includegraphics removed, unreferenced figures referenced."""
        keys = {r.key for r in self.refs}
        for sec in self.sections():
            body, removed = resolve_citations(sec.body, keys)
            self.report.removed_citations += removed
            body = re.sub(r"^.*\\includegraphics.*$", "", body, flags=re.M)
            if body != sec.body:
                self._replace(sec.model_copy(update={"body": body}))
        issues = self._issues()
        for name in {i.section for i in issues if i.kind in CLAIM_KINDS}:
            target = self._get(name)
            found = [i for i in issues if i.section == name and i.kind in CLAIM_KINDS]
            if target is not None:
                self.report.removed_claims += [f"{name}: {i.detail}" for i in found]
                body = remove_fragments(target.body, [i.token for i in found])
                self._replace(target.model_copy(update={"body": body}))
        issues = self._issues()
        for name in {i.section for i in issues if i.kind in ("number", "placeholder")}:
            target = self._get(name)
            tokens = [i.token for i in issues if i.section == name and i.kind in ("number", "placeholder")]
            if target is None:
                continue
            self.report.integrity_dropped += [f"{name}: {t}" for t in tokens]
            body = drop_sentences_with(target.body, tokens)
            self._replace(target.model_copy(update={"body": body}))
        for name in {i.section for i in issues if i.kind == "caption"}:
            target = self._get(name)
            tokens = [i.token for i in issues if i.section == name and i.kind == "caption"]
            if target is not None:
                self.report.integrity_dropped += [f"{name} (figure caption): {t}" for t in tokens]
                floats = [drop_caption_sentences(fl, tokens) for fl in target.floats]
                self._replace(target.model_copy(update={"floats": floats}))
        results = self._get("results")
        for i in issues:
            if i.kind == "figure" and i.token.startswith("fig:") and results is not None:
                fig = next((f for f in self.ctx.figures if f.label == i.token), None)
                if fig is not None:  # a reference, never a copy of the caption in the body text
                    extra = f"\n\nFigure~\\ref{{{fig.label}}} shows further results."
                    results = results.model_copy(update={"body": results.body + extra})
                    self._replace(results)

    # -- building -----------------------------------------------------------------------------------------------

    def _revise(self, sec: SectionDoc, problems: list[str]) -> SectionDoc:
        return revise_section(
            self.llm, sec, "writeup/revise", self.refs, problems=problems, key_results=self.ctx.key_results
        )

    def render(self) -> str:
        self.report.notes += tex_safety.remove_left(self.sections(), self._replace)  # nothing unsafe reaches TeX
        self.doc.abstract = self._abstract.body
        text = "\n".join(s.body for s in self.sections())
        self.doc.cite_keys = [k for k in cited_keys(text) if k in {r.key for r in self.refs}]
        source = render_paper(self.layout, self.doc)
        (self.paper_dir / "paper.tex").write_text(source, encoding="utf-8")
        return source

    def build(self, purpose: str) -> tex.CompileResult:
        """Render and compile, repairing LaTeX errors from the log (at most ``max_compile_repairs`` model calls).
        A section the model could not repair is reduced to plain text; an error that cannot be traced to one
        section reduces the sections with unbalanced braces, math or environments, and then every section, to
        plain text. Bounded: each failed build spends a repair or reduces at least one more section.
        Raises TexUnavailable (sources written) or ShoalError (the template itself does not build)."""
        repairs_left = self.cfg.max_compile_repairs
        plain: set[str] = set()
        while True:
            source = self.render()
            missing = tex.tex_missing()
            if missing:
                tex.keep_attempt(self.paper_dir, purpose, None)
                raise tex.TexUnavailable(f"{missing}\nThe LaTeX sources are in {self.paper_dir / 'paper.tex'}.")
            res = tex.compile_tex(self.paper_dir, timeout_s=self.cfg.compile_timeout_s)
            self.report.compile_attempts += 1
            tex.keep_attempt(self.paper_dir, purpose, res)
            if res.ok:
                return res
            sec = self._failing_section(source, res)
            if sec is not None and sec.name not in plain and repairs_left > 0:
                repairs_left -= 1
                self.report.latex_repairs += 1
                purpose = f"repair of {sec.name} after a LaTeX error"
                self._replace(
                    revise_section(self.llm, sec, "writeup/fix_latex", self.refs, log_excerpt=res.log_excerpt)
                )
                self.enforce()
                continue
            if sec is not None and sec.name not in plain:
                targets = [sec]
            else:
                rest = [s for s in self.sections() if s.name not in plain]
                targets = [s for s in rest if unbalanced(s.body)] or rest
            if not targets:
                raise ShoalError(
                    f"LaTeX failed to build the paper even with every section as plain text "
                    f"({self.report.compile_attempts} attempts); see {self.paper_dir / 'build.log'}"
                )
            names = ", ".join(s.name for s in targets)
            purpose = f"{names} reduced to plain text after a LaTeX error the model did not repair"
            self.report.notes.append(purpose)
            for s in targets:
                plain.add(s.name)
                self._replace(s.model_copy(update={"body": plain_text(s.body)}))

    def _failing_section(self, source: str, res: tex.CompileResult) -> SectionDoc | None:
        name = _section_of_error(source, res.error_line)
        if name is None:  # e.g. "\begin{itemize} on input line 97 ended by \end{document}"
            m = re.search(r"on input line (\d+)", res.log_excerpt)
            name = _section_of_error(source, int(m.group(1))) if m else None
        return self._get(name) if name else None

    def chktex_round(self, res: tex.CompileResult) -> tex.CompileResult:
        """Feed chktex's warnings back once; keep the version before it when the revision breaks the build."""
        tex_path = self.paper_dir / "paper.tex"
        warnings = tex.run_chktex(tex_path)
        source = tex_path.read_text(encoding="utf-8")
        by_section: dict[str, list[str]] = {}
        for w in warnings:
            name = _section_of_error(source, w.line)
            if name:
                by_section.setdefault(name, []).append(f"chktex: {w.message}: {w.text}")
        self.report.chktex_warnings = sum(len(v) for v in by_section.values())
        if not by_section:
            return res
        saved = [s.model_copy() for s in self.sections()]
        for name, problems in by_section.items():
            sec = self._get(name)
            if sec is not None:
                self._replace(revise_section(self.llm, sec, "writeup/revise", self.refs, problems=problems[:8]))
        self.enforce()
        try:
            return self.build("after chktex warnings")
        except tex.TexUnavailable:
            raise
        except ShoalError:
            log.warning("the chktex revision broke the build; keeping the version before it")
            for s in saved:
                self._replace(s)
            return self.build("restored version before chktex revision")


def _section_of_error(source: str, line: int | None) -> str | None:
    from agents.writeup.latex_templates import section_at_line

    return section_at_line(source, line) if line else None


def write_paper(
    run: RunDir,
    llm: LLM,
    settings: Settings,
    literature: LiteratureBackend,
    *,
    revision_requests: list[str] | None = None,
) -> Path:
    """Write, check and compile the paper of ``run``; returns ``paper/paper.pdf``.

    ``revision_requests`` (a reviewer's, in a revision round) are sent to every body section's writer once,
    after the first draft and before the integrity checks."""
    start = time.monotonic()
    llm, meter = llm.metered()  # this stage's own calls, whatever else runs on the same ledger
    w = PaperWriter(run, llm, settings, literature)
    missing = tex.tex_missing()
    if missing:
        log.warning("%s The .tex sources will still be written.", missing)
    run.event("writeup_start", layout=w.layout.name)
    try:
        w.draft()
        if revision_requests:
            w.revise_for(revision_requests)
        w.integrity()
        res = w.build("first draft")
        if settings.writeup.chktex:
            res = w.chktex_round(res)
        res = page_fit.fit_pages(w, res)
        assert res.pdf is not None
        w.report.pdf = run.paper_pdf_rel
    finally:
        w.report.references = [r.key for r in w.refs]
        w.report.seconds = round(time.monotonic() - start, 1)
        used = meter.totals()
        w.report.model_calls, w.report.tokens_in, w.report.tokens_out = used.calls, used.tokens_in, used.tokens_out
        run.writeup_report_path.write_text(w.report.model_dump_json(indent=1), encoding="utf-8")
        if hasattr(w, "doc"):
            write_findings(run, w.sections(), w.ctx.facts, w.report.integrity_issues_sent_back,
                           w.report.integrity_dropped, w.report.removed_citations, w.report.removed_claims)  # fmt: skip
        run.event(
            "writeup_done",
            pdf=w.report.pdf,
            pages_body=w.report.pages_body,
            compile_attempts=w.report.compile_attempts,
            seconds=w.report.seconds,
        )
    return res.pdf
