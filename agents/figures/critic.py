"""The figure critic: one structured model call per figure (or per node's set of plots).

With a vision model (``llm.supports_images("vlm")``; the embedded model is not one) the PNGs themselves are sent,
as data URLs through the ``openai`` client, with the figure's intended content and the lint findings
(prompt ``figures/critic_vision``). Without one, the ``feedback`` role judges the plotting script, a summary of
the data and the lint (``figures/critic_text``), and the critique says that images were not inspected.

A critic that cannot answer (no valid structured answer, endpoint down after retries) is recorded as such and
changes nothing: a figure is only marked invalid on a critique that says so. Budget exhaustion propagates.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field

from agents.errors import ModelCallError, StructuredOutputError
from agents.figures.lint import Finding, format_findings
from agents.llm import LLM

log = logging.getLogger(__name__)

VISION_PROMPT = "figures/critic_vision"
TEXT_PROMPT = "figures/critic_text"
NOT_INSPECTED = "images not inspected (no vision model): text-only critique of the script, data and lint"


class FigureCritique(BaseModel):
    """The critic's structured answer."""

    valid_for_claim: bool = Field(description="the figure shows data that can support its claim")
    readability: int = Field(ge=1, le=5, description="1 unreadable .. 5 ready for a paper")
    # bounded, as every string a small model writes: the embedded model's critique ran to the token cap three
    # times in a row in the demo of 8 December 2026 (a length limit in the schema is one in its grammar too)
    issues: list[Annotated[str, Field(max_length=300)]] = Field(
        default_factory=list, max_length=5, description="concrete problems"
    )
    suggested_fix: str = Field(default="", max_length=500, description="how to fix the plotting script")


class CritiqueResult(BaseModel):
    """A critique with where it came from; ``critique`` is None when the critic gave no usable answer."""

    images_inspected: bool
    critique: FigureCritique | None = None
    failure: str = ""
    calls: int = 0

    @property
    def invalid(self) -> bool:
        return self.critique is not None and not self.critique.valid_for_claim

    def as_text(self) -> str:
        """The critique as one short paragraph, for ``node.critique``, captions.json and the coder's prompts."""
        head = "" if self.images_inspected else f"({NOT_INSPECTED}) "
        c = self.critique
        if c is None:
            return f"{head}critic gave no answer: {self.failure}".strip()
        verdict = "valid for its claim" if c.valid_for_claim else "NOT valid for its claim"
        issues = "; ".join(i.strip() for i in c.issues if i.strip())
        parts = [f"{head}Figure {verdict}; readability {c.readability}/5."]
        if issues:
            parts.append(f"Issues: {issues}.")
        if c.suggested_fix.strip():
            parts.append(f"Fix: {c.suggested_fix.strip()}")
        return " ".join(parts)


def critique_figures(
    llm: LLM,
    pngs: list[Path],
    *,
    context: str,
    script: str,
    data_summary: str,
    lint: list[Finding],
    max_images: int = 4,
) -> CritiqueResult:
    """Critique ``pngs`` (one figure, or a node's plots together) in one model call."""
    vision = llm.supports_images("vlm")
    lint_text = format_findings(lint)
    try:
        if vision:
            critique = llm.structured(
                "vlm",
                VISION_PROMPT,
                FigureCritique,
                {"context": context, "lint": lint_text, "count": min(len(pngs), max_images)},
                images=list(pngs[:max_images]),
            )
        else:
            critique = llm.structured(
                "feedback",
                TEXT_PROMPT,
                FigureCritique,
                {"context": context, "lint": lint_text, "script": script[:6000], "data_summary": data_summary},
            )
    except (StructuredOutputError, ModelCallError) as exc:
        log.warning("figure critic gave no usable answer: %s", exc)
        return CritiqueResult(images_inspected=vision, failure=str(exc)[:300], calls=1)
    return CritiqueResult(images_inspected=vision, critique=critique, calls=1)
