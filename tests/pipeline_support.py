"""Scripted answers for every prompt of the whole pipeline, and small settings, for the end-to-end tests.

Answers are ``always`` replies (dynamic where they must read the request: node ids, parent code), so a resumed
run can ask again; an unscripted prompt still fails the test.
"""

from __future__ import annotations

import re
from typing import Any

from exp_support import Coder, proposals, review_ok, tie_last
from ideation_helpers import WARMUP

from agents.settings import Settings, load_settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, text, tool_calls

NODE_PLOT = """```python
import matplotlib.pyplot as plt
from shoal_figstyle import apply_style, load_results, save_figure

apply_style()
curve = load_results(".")["loss_curve"]
fig, ax = plt.subplots()
ax.plot(curve["step"], curve["train_mse"], label="train")
ax.set_xlabel("step")
ax.set_ylabel("training MSE")
ax.set_title("Training curve")
save_figure(fig, "plot_loss_curve")
```"""

AGG_SCRIPT = """```python
import json
import matplotlib.pyplot as plt
from shoal_figstyle import PALETTE, apply_style, load_results, save_figure

apply_style()
NODES = [n for n in json.load(open("data/nodes.json")) if n["kind"] != "seed"]
fig, ax = plt.subplots()
for i, n in enumerate(NODES[:4]):
    c = load_results("data/" + n["id"])["loss_curve"]
    ax.plot(c["step"], c["train_mse"], label=n["label"], color=PALETTE[i % len(PALETTE)])
ax.set_xlabel("step")
ax.set_ylabel("training MSE")
ax.set_title("Training curves")
ax.legend(loc="upper right")
save_figure(fig, "fig_training_curves", pdf=True)
```"""

CRITIQUE = {"valid_for_claim": True, "readability": 4, "issues": [], "suggested_fix": ""}

SECTIONS = {
    "writeup/abstract": "We study momentum for gradient descent on a small least-squares problem and report the "
    "results of an automated search over implementations, hyperparameters and ablations.",
    "writeup/introduction": "Gradient descent with momentum is a standard optimizer. We ask whether momentum "
    "speeds up training on a small synthetic regression problem.",
    "writeup/related_work": "Momentum methods have a long history in optimization.",
    "writeup/method": "We minimise the mean squared error $\\frac{1}{n}\\lVert Xw - y\\rVert^2$ by gradient descent "
    "with a velocity term $v \\leftarrow \\mu v + \\nabla$.",
    "writeup/experimental_setup": "Synthetic data with 200 examples and 5 features; the metric is the final training "
    "mean squared error.",
    "writeup/results": "The results table summarizes the best run of each stage of the search.",
    "writeup/discussion": "The problem is small and synthetic, so the findings need confirmation on real data.",
    "writeup/conclusion": "Momentum is worth tuning even on small problems.",
    "writeup/appendix": "All runs use full-batch gradient descent.",
    "writeup/revise": "The results table summarizes the best run of each stage of the search.",
    "writeup/shorten": "The results table summarizes the search.",
}

REVIEW = {
    "summary": "A small study of momentum.",
    "strengths": ["clear"],
    "weaknesses": ["synthetic data only"],
    "questions": ["Which seeds?"],
    "limitations": [],
    "ethical_concerns": False,
    "ethical_note": "",
    "originality": 2, "quality": 2, "clarity": 3, "significance": 2,
    "soundness": 2, "presentation": 3, "contribution": 2,
    "overall": 4, "confidence": 3, "decision": "Reject",
}  # fmt: skip
META = {
    "summary": "Thin evaluation.",
    "strengths": ["clear"],
    "weaknesses": ["one dataset"],
    "revision_requests": ["State the number of seeds in the results section."],
    "overall": 4,
    "decision": "Reject",
}


def agg_plan(req: RecordedRequest) -> Reply:
    user = " ".join(str(m.get("content", "")) for m in req.messages if m.get("role") == "user")
    ids = re.findall(r"id=(\w+)", user)
    return json_reply(
        {
            "figures": [
                {
                    "name": "fig_training_curves",
                    "description": "training MSE per step of the best runs",
                    "nodes": ids[:4],
                    "caption": "Training curves of the best run of each stage.",
                }
            ]
        }
    )


def script_pipeline(server: ScriptedServer) -> None:
    """Every prompt the pipeline sends, answered."""
    replies: dict[str, Any] = {
        # ideation (tool calls: the scripted endpoint supports tools)
        "ideation/agent": tool_calls([{"name": "finalize_idea", "arguments": {"idea": WARMUP}}]),
        "ideation/reflect": json_reply({"critique": "Specific and cheap.", "done": True}),
        "ideation/finalize": json_reply(WARMUP),
        # experiments
        "feedback/review": review_ok,
        "experiments/proposals": proposals,
        "experiments/tie_break": tie_last,
        "experiments/stage_judge": json_reply({"complete": True, "reason": "enough"}),
        # figures
        "figures/node_plot": text(NODE_PLOT),
        "figures/fix_plot": text(NODE_PLOT),
        "figures/critic_text": json_reply(CRITIQUE),
        "figures/aggregate_plan": agg_plan,
        "figures/aggregate_script": text(AGG_SCRIPT),
        # writeup
        "writeup/cite_queries": json_reply({"queries": ["momentum gradient descent"], "done": True}),
        "writeup/cite_pick": json_reply({"picks": []}),
        **{name: text(body) for name, body in SECTIONS.items()},
        # review
        "reviewer/review": json_reply(REVIEW),
        "reviewer/reflect": json_reply({"assessment": "fine", "revise": False, "revised": None}),
        "reviewer/meta": json_reply(META),
    }
    Coder(buggy_drafts=1).install(server)
    for name, reply in replies.items():
        server.always(name, reply)


class FakeServer:
    """Just the base URL of a scripted server running in another process."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url


def pipeline_settings(server: ScriptedServer | FakeServer, workspace: str, cache: str, *extra: str) -> Settings:
    """Every role on the scripted server; a small search; no network for literature."""
    from agents.settings import ROLES

    overrides = [f"models.{r}.base_url={server.base_url}" for r in ROLES]
    overrides += [f'models.{r}.model="scripted-model"' for r in ROLES]
    overrides += [
        "llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.request_timeout_s=2.0",
        "literature.semantic_scholar=false",
        "search.num_drafts=1", "search.stage_iters=[3, 2, 2, 2]", "search.num_seeds=2", "search.debug_prob=1.0",
        "sandbox.backend=local", "sandbox.timeout_s=60",
        "ideation.num_ideas=1", "ideation.reflections=1",
        "review.num_reviews=1", "review.num_reflections=1",
        *extra,
    ]  # fmt: skip
    return load_settings(None, overrides, workspace=workspace, cache_dir=cache)
