"""Where the paper's numbers came from: the appendix paragraph on how the results were obtained, and the
findings file (``RunDir.writeup_findings``) with every number of the paper and its source, what was sent back
for repair and what was removed. The report shows the numbers table; the reviewer can be given the findings."""

from __future__ import annotations

from typing import Any

from agents.rundir import RunDir
from agents.writeup.context import WriterContext
from agents.writeup.facts import Fact
from agents.writeup.integrity import float_text, provenance
from agents.writeup.latex_templates import SectionDoc, tex_escape


def how_obtained(ctx: WriterContext) -> str:
    """A generated appendix paragraph (never model-written): how the results were obtained."""
    runs = sum(s.nodes for s in ctx.stages)
    names = ", ".join(tex_escape(s.name) for s in ctx.stages)
    text = (
        "\\paragraph{How the results were obtained.} "
        f"All results come from an automated tree search over experiment programs ({names}; {runs} runs in all, "
        "Table~\\ref{tab:search}). Every program ran in an isolated sandbox and recorded its own metrics; the "
        "tables are generated from those records, not written by hand. "
    )
    if ctx.seed_table is not None:
        text += (
            f"The best configuration of each stage was re-run with {ctx.seeds} seeds; the tables report the mean "
            "$\\pm$ standard error over the seeds, and Table~\\ref{tab:seeds} lists each seed's value. "
        )
    else:
        text += "Each configuration ran once; no standard errors are available. "
    text += "Every number in the text was checked against the recorded values before the paper was compiled."
    return text


def number_rows(sections: list[SectionDoc], facts: list[Fact]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for s in sections:
        rows += provenance(s.name, s.body, facts)
        for fl in s.floats:
            table = "\\begin{table" in fl
            where = f"{s.name} (table)" if table else f"{s.name} (figure caption)"
            rows += provenance(where, float_text(fl), facts, table=table)
    return rows


def write_findings(
    run: RunDir,
    sections: list[SectionDoc],
    facts: list[Fact],
    sent_back: list[str],
    removed: list[str],
    removed_citations: list[str],
    removed_claims: tuple[str, ...] | list[str] = (),
) -> None:
    findings: dict[str, Any] = {
        "numbers": number_rows(sections, facts),
        "sent_back": sent_back,
        "removed_numbers": removed,
        "removed_citations": removed_citations,
        "removed_claims": list(removed_claims),
    }
    run.write_writeup_findings(findings)
