"""Benchmark ideation: model calls and tokens per finished idea, and seconds per idea on the embedded model.

    .venv/bin/python bench/bench_ideation.py [--num-ideas 5] [--json]               # scripted model
    .venv/bin/python bench/bench_ideation.py --embedded [--num-ideas 1] [--json]    # the real embedded model

- scripted (default): the whole loop through the real ``openai`` client against the scripted server, in both
  protocols (tool calls, JSON actions). Each idea searches, reads one abstract, finalizes, and reflects twice
  (improve, then done); one idea is first proposed as a paraphrase of an earlier one, which the novelty judge
  rejects, so the figures include a regeneration. Literature is the Semantic Scholar replay of the recorded
  answers in ../shared/data when present, else none. Figures: calls, tokens in/out per finished idea (token counts
  are the scripted server's chars/4 estimate of the real prompts), and calls by prompt.
- ``--embedded``: Qwen2.5-Coder-1.5B on CPU (JSON actions, offline, a local library of two real PDFs when
  ../shared/data is present), ``ideation.max_steps=3``, ``ideation.reflections=1``. Figures: seconds, calls and
  tokens per finished idea, and the share of attempts that produced a schema-valid idea.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agents.ideation import generate_ideas, load_topic
from agents.literature import make_literature
from agents.llm import LLM, Ledger, read_ledger
from agents.settings import ROLES, Settings, load_settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, tool_calls
from agents.testing.shared_data import shared_data_dir

SHARED = shared_data_dir()
TOPIC = "Training tricks for small neural networks on a CPU"
TURING_ID = "2d5673caa9e6af3a7b82a43f19ee920992db07ad"

HYPOTHESES = [
    (
        "Depth-scaled learning-rate warmup",
        "Warmup length proportional to depth lowers validation loss of small character-level transformers.",
    ),
    (
        "Label smoothing for calibration of small CNNs",
        "Label smoothing improves expected calibration error of small CNNs on sklearn digits.",
    ),
    (
        "Early stopping on gradient noise",
        "Stopping when the gradient noise scale plateaus saves 30% of epochs without hurting accuracy of small MLPs.",
    ),
    (
        "Sparse input dropout for tabular data",
        "Dropping whole input features during training improves robustness "
        "of gradient-boosted trees to missing values.",
    ),
    (
        "Mixup for tiny time-series classifiers",
        "Mixup between series of the same class improves accuracy of 1-D CNNs on small UCR datasets.",
    ),
]
PARAPHRASE = (
    "Warmup that grows with the number of layers",
    "A learning-rate warmup whose length grows with the "
    "number of transformer layers reduces validation loss in small character-level language models.",
)


def idea(title: str, hypothesis: str) -> dict[str, Any]:
    return {
        "name": title.lower().replace(" ", "_")[:40],
        "title": title,
        "hypothesis": hypothesis,
        "related_work": "Prior work studies this at large scale only.",
        "abstract": hypothesis + " We test it with three seeds on CPU-sized models.",
        "experiments": ["Baseline versus the variant, three seeds.", "Ablate the new component."],
        "risks": ["The effect may be within noise."],
        "resources": {"device": "cpu", "datasets": ["sklearn digits"], "minutes": 20},
        "interestingness": {"value": 7, "why": "practical"},
        "feasibility": {"value": 8, "why": "runs on a laptop"},
        "novelty": {"value": 6, "why": "untested at this scale"},
    }


def judge(request: RecordedRequest) -> Reply:
    prompt = request.messages[-1]["content"]
    new_part = prompt.split("New idea:", 1)[-1].split("\n\n", 1)[0]
    same = PARAPHRASE[0] in new_part
    return json_reply({"same": same, "reason": "same method and question" if same else "different method"})


def script(server: ScriptedServer, mode: str, n: int, has_s2: bool) -> None:
    queue: list[dict[str, Any]] = []
    for k in range(n):
        drafts = [idea(*HYPOTHESES[k % len(HYPOTHESES)])]
        if k == 2:
            drafts.insert(0, idea(*PARAPHRASE))
        for d in drafts:
            queue.append(d)
    agent: list[Reply] = []
    for d in queue:
        if mode == "tools":
            if has_s2:
                agent.append(tool_calls([{"name": "search_literature", "arguments": {"query": "turing"}}]))
                agent.append(tool_calls([{"name": "read_abstract", "arguments": {"paper_id": TURING_ID}}]))
            agent.append(tool_calls([{"name": "finalize_idea", "arguments": {"idea": d}}]))
        else:
            if has_s2:
                agent.append(json_reply({"thought": "prior work", "action": "search_literature", "query": "turing"}))
                agent.append(json_reply({"thought": "read", "action": "read_abstract", "paper_id": TURING_ID}))
            agent.append(json_reply({"thought": "done", "action": "finalize_idea", "idea": d}))
        server.script("ideation/reflect", json_reply({"critique": "Make it specific.", "done": False, "idea": d}))
        server.script("ideation/reflect", json_reply({"critique": "Good.", "done": True}))
    server.script("ideation/agent", *agent)
    server.always("ideation/judge_novelty", judge)


def scripted_settings(server: ScriptedServer, tmp: Path, mode: str, api_url: str | None) -> Settings:
    overrides = [f"models.{r}.base_url={server.base_url}" for r in ROLES]
    overrides += [f"ideation.tool_mode={mode}", "ideation.reflections=2", "llm.backoff_base_s=0"]
    if api_url:
        overrides += [f'literature.api_url="{api_url}"', "literature.min_interval_s=0", "literature.backoff_base_s=0"]
    else:
        overrides += ["literature.semantic_scholar=false"]
    return load_settings(None, overrides, workspace=tmp / "ws", cache_dir=tmp / "cache")


def figures(ledger: Path, n_ideas: int, seconds: float, attempts: int) -> dict[str, Any]:
    records = [r for r in read_ledger(ledger) if r.outcome in ("ok", "truncated")]
    per = max(n_ideas, 1)
    return {
        "finished_ideas": n_ideas,
        "attempts": attempts,
        "calls_per_idea": round(len(records) / per, 2),
        "tokens_in_per_idea": round(sum(r.tokens_in for r in records) / per, 1),
        "tokens_out_per_idea": round(sum(r.tokens_out for r in records) / per, 1),
        "seconds_per_idea": round(seconds / per, 2),
        "calls_by_prompt": dict(Counter(r.prompt for r in records)),
    }


def run_scripted(n: int) -> dict[str, Any]:
    from agents.testing.s2_replay import S2Replay

    out: dict[str, Any] = {}
    s2_dir = SHARED / "semantic_scholar"
    for mode in ("tools", "json"):
        with tempfile.TemporaryDirectory() as tmp_s, ScriptedServer() as server:
            tmp = Path(tmp_s)
            replay = S2Replay(s2_dir).start() if s2_dir.is_dir() else None
            try:
                if replay is not None:
                    replay.empty_for_unrecorded_searches = True
                settings = scripted_settings(server, tmp, mode, replay.api_url if replay else None)
                script(server, mode, n, replay is not None)
                llm = LLM(settings, Ledger(tmp / "llm_calls.jsonl"))
                start = time.monotonic()
                result = generate_ideas(
                    load_topic(TOPIC, None), llm, make_literature(settings, tmp), settings, num_ideas=n
                )
                seconds = time.monotonic() - start
                server.check()
            finally:
                if replay is not None:
                    replay.stop()
            attempts = len(result.ideas) + len(result.rejected) + result.failed_attempts
            out[mode] = figures(tmp / "llm_calls.jsonl", len(result.ideas), seconds, attempts)
            out[mode]["literature"] = "s2 replay" if replay is not None else "none"
    return out


def run_embedded(n: int) -> dict[str, Any]:
    from agents.localmodel.server import get_shared_server, stop_shared_servers
    from agents.localmodel.weights import ensure_model_file

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        overrides = ["literature.semantic_scholar=false", "ideation.max_steps=3", "ideation.reflections=1"]
        pdfs = [
            SHARED / "pdfs" / "ai_scientist_fewshot" / "attention.pdf",
            SHARED / "pdfs" / "ai_scientist_generated" / "rl_lr_adaptation.pdf",
        ]
        if all(p.is_file() for p in pdfs):
            (tmp / "lib").mkdir()
            for p in pdfs:
                shutil.copy(p, tmp / "lib" / p.name)
            overrides.append(f'literature.local_library="{tmp / "lib"}"')
        settings = load_settings(None, overrides, workspace=tmp / "ws")
        ensure_model_file(settings.cache_dir)
        llm = LLM(settings, Ledger(tmp / "llm_calls.jsonl"))
        get_shared_server(settings).start()  # load the model before the clock starts
        start = time.monotonic()
        try:
            result = generate_ideas(
                load_topic(TOPIC, None), llm, make_literature(settings, tmp / "cache"), settings, num_ideas=n
            )
        finally:
            seconds = time.monotonic() - start
            stop_shared_servers()
        attempts = len(result.ideas) + len(result.rejected) + result.failed_attempts
        figs = figures(tmp / "llm_calls.jsonl", len(result.ideas), seconds, attempts)
        figs["valid_idea_share"] = round((len(result.ideas) + len(result.rejected)) / max(attempts, 1), 2)
        figs["steps"] = [i.steps for i in result.ideas]
        figs["titles"] = [i.title for i in result.ideas]
        return {"embedded": figs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedded", action="store_true", help="run the real embedded model instead")
    parser.add_argument("--num-ideas", type=int, default=None, help="default 5 scripted, 1 embedded")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    n = args.num_ideas or (1 if args.embedded else 5)
    data = run_embedded(n) if args.embedded else run_scripted(n)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    console = Console()
    table = Table(title=f"ideation ({'embedded model' if args.embedded else 'scripted model'}, {n} ideas asked)")
    keys = [k for k in next(iter(data.values())) if k not in ("calls_by_prompt", "titles")]
    table.add_column("mode")
    for k in keys:
        table.add_column(k.replace("_", " "), justify="right")
    for mode, figs in data.items():
        table.add_row(mode, *[str(figs[k]) for k in keys])
    console.print(table)
    for mode, figs in data.items():
        console.print(f"{mode}: calls by prompt {figs['calls_by_prompt']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
