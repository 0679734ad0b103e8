"""Fitting the paper to its page limit: the results' extra figures and tables go to an appendix first, then the
longest sections are shortened by the model, round by round, each round rebuilt and counted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agents.writeup import compile as tex
from agents.writeup.latex_templates import SectionDoc
from agents.writeup.sections import revise_section

if TYPE_CHECKING:
    from agents.writeup.writer import PaperWriter

log = logging.getLogger(__name__)


def shorten(w: PaperWriter, ratio: float) -> None:
    """Shorten the longest body sections, longest first, until the planned cut removes ``1 - ratio`` of the
    body's words (with a margin); each is cut by at most half in one round."""
    secs = sorted(w.doc.sections, key=lambda s: -len(s.body.split()))
    total = sum(len(s.body.split()) for s in secs)
    to_cut = int(total * (1 - ratio * 0.9))
    for sec in secs:
        if to_cut <= 0:
            break
        n = len(sec.body.split())
        target = max(40, n - to_cut, n // 2)
        if target >= n:
            continue
        w._replace(revise_section(w.llm, sec, "writeup/shorten", w.refs, words=target))
        to_cut -= n - len((w._get(sec.name) or sec).body.split())


def fit_pages(w: PaperWriter, res: tex.CompileResult) -> tex.CompileResult:
    """Keep the body within the layout's page limit: move the results' extra floats to an appendix, then
    shorten the longest sections, at most ``max_shorten_rounds`` times; the report records pages and rounds."""
    assert res.pdf is not None
    pages = tex.count_pages(res.pdf)
    limit = w.layout.page_limit
    if pages.body > limit:
        results = w._get("results")
        first_fig = next((f for f in results.floats if "begin{figure" in f), None) if results else None
        keep = [f for i, f in enumerate(results.floats) if i == 0 or f is first_fig] if results else []
        if results is not None and len(results.floats) > len(keep):
            move = [f for f in results.floats if not any(f is k for k in keep)]
            w._replace(results.model_copy(update={"floats": keep}))
            w.doc.appendix.insert(
                0,
                SectionDoc(
                    name="appendix_results",
                    title="Additional Results",
                    body="This section holds the figures and tables that did not fit the page limit.",
                    floats=move,
                ),
            )
            w.report.moved_to_appendix = [m.split("label{")[1].split("}")[0] for m in move if "label{" in m]
            res = w.build("floats moved to the appendix for the page limit")
            pages = tex.count_pages(res.pdf) if res.pdf else pages
    while pages.body > limit and w.report.shorten_rounds < w.cfg.max_shorten_rounds:
        w.report.shorten_rounds += 1
        shorten(w, limit / pages.body)
        w.enforce()
        res = w.build(f"shortening round {w.report.shorten_rounds}")
        assert res.pdf is not None
        pages = tex.count_pages(res.pdf)
    w.report.pages_total, w.report.pages_body = pages.total, pages.body
    w.report.within_limit = pages.body <= limit
    if not w.report.within_limit:
        log.warning("the paper's body has %d pages, over the %d-page limit", pages.body, limit)
    return res
