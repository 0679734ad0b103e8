"""Shared builders for the ideation tests: idea JSON as a model would write it, and settings variants."""

from __future__ import annotations

from typing import Any

from agents.settings import Settings


def idea_json(title: str, hypothesis: str, abstract: str | None = None, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or title.lower().replace(" ", "_")[:30],
        "title": title,
        "hypothesis": hypothesis,
        "related_work": "Differs from prior work by testing on small models.",
        "abstract": abstract or hypothesis,
        "experiments": ["Train a baseline and the variant on the same data for 3 seeds.", "Ablate the new part."],
        "risks": ["The effect may be too small to measure."],
        "resources": {"device": "cpu", "datasets": ["sklearn digits"], "minutes": 20},
        "interestingness": {"value": 7, "why": "a common practical question"},
        "feasibility": {"value": 8, "why": "runs on a laptop CPU"},
        "novelty": {"value": 6, "why": "not tested at this scale"},
    }


WARMUP = idea_json(
    "Depth-scaled learning-rate warmup",
    "Setting the learning-rate warmup length proportional to network depth lowers the final validation loss of "
    "small character-level transformer language models.",
)
WARMUP_PARAPHRASE = idea_json(
    "Warmup length proportional to the number of layers",
    "A learning-rate warmup whose length grows with the number of transformer layers reduces validation loss in "
    "small character-level language models.",
    name="layer_proportional_warmup",
)
LABEL_SMOOTHING = idea_json(
    "Label smoothing for calibration of small CNNs",
    "Label smoothing reduces over-confidence and improves expected calibration error of small convolutional "
    "networks trained on the sklearn digits dataset.",
)


def with_ideation(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"ideation": settings.ideation.model_copy(update=changes)})


def with_literature(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"literature": settings.literature.model_copy(update=changes)})
