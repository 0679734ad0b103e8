"""What of a program runs (agents/evolve/reach.py), and the novelty gate treating a new function that nothing
calls as a copy of its parent: the model is told why, and asked again."""

from __future__ import annotations

import json
from pathlib import Path

from agents.evolve import evolve
from agents.evolve.reach import running_code, top_level_names
from agents.testing import ScriptedServer, text
from tests.evolve_support import INITIAL, hash_embed, settings_for, write_task

PROGRAM = '''"""Task."""
import numpy as np


# EVOLVE-BLOCK-START
def build():
    """Three points."""
    return helper(np.arange(3))


def helper(xs):
    return float(xs.sum())
# EVOLVE-BLOCK-END


def main():
    return build()
'''
ROOTS = top_level_names(PROGRAM)


def test_a_new_function_nothing_calls_does_not_change_the_running_code() -> None:
    dead = PROGRAM.replace("def helper(xs):", "def anneal(xs):\n    return xs * 2\n\n\ndef helper(xs):")
    assert running_code(dead, ROOTS) == (running_code(PROGRAM, ROOTS)[0], ["anneal"])


def test_comments_docstrings_and_layout_do_not_count_but_a_call_does() -> None:
    cosmetic = PROGRAM.replace('    """Three points."""\n', "    # three points\n\n")
    assert running_code(cosmetic, ROOTS)[0] == running_code(PROGRAM, ROOTS)[0]
    called = PROGRAM.replace("def helper(xs):", "def anneal(xs):\n    return xs * 2\n\n\ndef helper(xs):").replace(
        "helper(np.arange(3))", "helper(anneal(np.arange(3)))"
    )
    assert running_code(called, ROOTS) != running_code(PROGRAM, ROOTS)
    assert running_code(called, ROOTS)[1] == []


def test_the_interface_counts_even_when_only_the_evaluator_calls_it() -> None:
    # no fixed code names `build`: it is still what runs, because the initial program defines it
    alone = PROGRAM.split("\n\ndef main")[0] + "\n"
    changed = alone.replace("np.arange(3)", "np.arange(4)")
    roots = top_level_names(alone)
    assert running_code(changed, roots)[0] != running_code(alone, roots)[0]


def test_a_change_that_only_adds_an_uncalled_function_is_asked_again_with_the_reason(tmp_path: Path) -> None:
    dead = "PLAN: anneal\n```python\ndef value():\n    base = 1\n    return base\n\n\ndef anneal():\n    return 99\n```"
    better = "PLAN: more\n```python\ndef value():\n    base = 6\n    return base\n```"
    with ScriptedServer() as server:
        server.script("evolve/rewrite", text(dead), text(better))
        settings = settings_for(
            server, tmp_path, "evolve.max_samples=1", "evolve.operators={rewrite = 1.0}", "evolve.max_resamples=1"
        )
        prog, ev = write_task(tmp_path, INITIAL)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        asks = server.requests_for("evolve/rewrite")
    assert len(asks) == 2
    assert "`anneal` is never called" in asks[1].messages[-1]["content"]
    samples = [json.loads(x) for x in (run.evolve_dir / "samples.jsonl").read_text().splitlines() if x.strip()]
    assert samples[0]["resamples"] == 1 and samples[0]["correct"] is True
    assert outcome.stats["best"] == 6.0 and outcome.stats["evaluated"] == 1
