"""Effective prompt throughput of the embedded model: one slot and serial calls (before) against
``llm.max_concurrency`` slots, calls in parallel and prompt-prefix reuse (after).

    python bench/bench_llm_parallel.py [--requests 8] [--slots 4] [--json]

Each request is what parallel experiment workers send: one long shared prefix (the coder's rules and the idea,
~700 tokens) and a short node-specific tail, answered with a few tokens (the figure is about prompts). Calls go
straight to the server (``openai`` client) from as many threads as the server has slots.
Effective prompt tokens/s = the prompt tokens the server reports, summed, divided by the wall time.
Rows: 1 slot serial (before), N slots in parallel with the shared prefix (after), N slots in parallel with
prompts that share nothing (what the prefix reuse contributes). Loads the model twice (~1 min on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.localmodel.server import EmbeddedServer  # noqa: E402
from agents.localmodel.weights import ensure_model_file  # noqa: E402
from agents.settings import EmbeddedModel, load_settings  # noqa: E402

RULES = (ROOT / "templates/prompts/coder/_rules.md.j2").read_text() + (
    ROOT / "templates/prompts/coder/_context.md.j2"
).read_text()


def _prompt(i: int, shared: bool) -> list[dict[str, str]]:
    head = RULES * 2 if shared else f"Request {i} of a batch with nothing in common.\n" + RULES[i * 37 :] * 2
    return [
        {"role": "system", "content": head[:6000]},
        {"role": "user", "content": f"Node {i}: propose one change to the learning rate, in one sentence."},
    ]


def _batch(base_url: str, n: int, parallel: int, shared: bool) -> tuple[float, int]:
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0, timeout=600)

    def one(i: int) -> int:
        r = client.chat.completions.create(model="embedded", messages=_prompt(i, shared), max_tokens=8)  # type: ignore[arg-type]
        return int(r.usage.prompt_tokens) if r.usage else 0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        tokens = sum(pool.map(one, range(n)))
    return time.perf_counter() - t0, tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--slots", type=int, default=4)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = load_settings(None, [])
    ensure_model_file(settings.cache_dir)
    rows: list[dict[str, Any]] = []
    for slots, shared in ((1, True), (args.slots, True), (args.slots, False)):
        with EmbeddedServer(EmbeddedModel(parallel=slots, n_ctx=4096), settings.cache_dir) as server:
            base = server.start()
            _batch(base, 1, 1, shared=False)  # warm up (first call pays one-off costs)
            wall, tokens = _batch(base, args.requests, slots, shared)
        rows.append(
            {
                "slots": slots,
                "shared_prefix": shared,
                "requests": args.requests,
                "prompt_tokens": tokens,
                "wall_s": round(wall, 2),
                "prompt_tokens_per_s": round(tokens / wall, 1),
            }
        )
        if not args.json:
            r = rows[-1]
            print(
                f"{slots} slot(s), {'shared prefix' if shared else 'no shared prefix'}: {tokens} prompt tokens "
                f"in {wall:.1f} s = {r['prompt_tokens_per_s']} tokens/s",
                flush=True,
            )
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"after / before: {rows[1]['prompt_tokens_per_s'] / rows[0]['prompt_tokens_per_s']:.2f}x")


if __name__ == "__main__":
    main()
