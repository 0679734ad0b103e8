"""An idea made from the user's goal and data card, for ``shoal experiments --data DIR --goal ...`` without an
idea file: deterministic, no model call."""

from __future__ import annotations

from agents.data.session import DataSession
from agents.ideation.schema import Idea, Resources, Score


def idea_from_goal(session: DataSession) -> Idea:
    t = session.task
    card = session.card
    tables = ", ".join(f.path for f in (card.tables() if card else [])[:3]) or (card.root if card else "the data")
    metric = f"{t.metric} ({'higher' if t.higher_is_better else 'lower'} is better)" if t.metric else "the goal"
    scoring = " on held-out rows scored by Shoal" if t.held_out else ""
    target = f" the column {t.target}" if t.target else ""
    goal = t.goal or f"predict{target or ' the target'} from {tables}"
    return Idea(
        name=goal,
        title=goal[:1].upper() + goal[1:],
        hypothesis=f"A model fitted to {tables} can {goal} better than a plain linear baseline, measured by {metric}.",
        abstract=f"Goal: {goal}. Data: {tables}. Metric: {metric}{scoring}.",
        experiments=[
            f"fit a simple baseline model to predict{target or ' the target'} and measure {metric}",
            "try stronger models and feature preprocessing, keeping what improves the metric",
            "ablate the components of the best model",
        ],
        resources=Resources(device="cpu", datasets=[tables]),
        interestingness=Score(value=5, why="the user's own goal"),
        feasibility=Score(value=8, why="the data is at hand"),
        novelty=Score(value=3, why="an applied study on the user's data"),
        topic=goal,
    )
