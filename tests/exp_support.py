"""Helpers for the experiment-manager tests: a tiny numpy experiment, scripted model answers, the real sandbox."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agents.sandbox import Sandbox, make_sandbox
from agents.settings import SandboxSettings, Settings
from agents.testing import RecordedRequest, Reply, ScriptedServer, json_reply, text

PROGRAM = """import os
import time
import numpy as np
from shoal_helper import log_metric, save_results, get_seed

with open("runs.log", "a") as fh:
    fh.write(str(os.getpid()) + "\\n")
time.sleep({sleep})
lr = {lr}
steps = {steps}
momentum = {momentum}
seed = get_seed()
rng = np.random.default_rng(seed)
X = rng.normal(size=(200, 5))
w_true = np.arange(1, 6, dtype=float)
y = X @ w_true + 0.5 * rng.normal(size=200)
w = np.zeros(5)
v = np.zeros(5)
losses = []
for step in range(steps):
    grad = 2 * X.T @ (X @ w - y) / len(y)
    v = momentum * v + grad
    w = w - lr * v
    losses.append(float(np.mean((X @ w - y) ** 2)))
save_results("loss_curve", {{"step": list(range(steps)), "train_mse": losses}})
log_metric("train_mse", losses[-1], dataset="synthetic", direction="minimize")
"""


def program(lr: float = 0.01, steps: int = 20, momentum: float = 0.5, sleep: float = 0.0, bug: bool = False) -> str:
    code = PROGRAM.format(lr=lr, steps=steps, momentum=momentum, sleep=sleep)
    if bug:
        code = code.replace("w = np.zeros(5)\n", "w = np.zeros(5)\nw = undefined_name\n")
    return code


def fenced(code: str, plan: str = "a plan") -> str:
    return f"PLAN: {plan}\n```python\n{code}```\n"


def patch(search: str, replace: str, plan: str = "an edit") -> str:
    return f"PLAN: {plan}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def last_user(req: RecordedRequest) -> str:
    users = [m.get("content", "") for m in req.messages if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def parent_code(req: RecordedRequest) -> str:
    m = re.search(r"Program:\n```python\n(.*?)```", last_user(req), re.S)
    return m.group(1) if m else ""


def number(code: str, name: str) -> float:
    m = re.search(rf"^{name} = ([0-9.e-]+)$", code, re.M)
    assert m, f"{name} not in program"
    return float(m.group(1))


class Coder:
    """Scripted coder: answers every coder prompt from the task the prompt states (deterministic)."""

    def __init__(self, sleep: float = 0.0, buggy_drafts: int = 1, fail_patch_for: tuple[str, ...] = ()) -> None:
        self.sleep = sleep
        self.buggy_drafts = buggy_drafts
        self.fail_patch_for = fail_patch_for
        self.drafts = 0

    def draft(self, req: RecordedRequest) -> Reply:
        self.drafts += 1
        bug = self.drafts <= self.buggy_drafts
        return text(fenced(program(sleep=self.sleep, bug=bug), "gradient descent on synthetic regression"))

    def _new_code(self, req: RecordedRequest) -> tuple[str, str]:
        """(new program, plan) for the task in the prompt."""
        user, code = last_user(req), parent_code(req)
        if "failed. Fix the bug" in user:
            return code.replace("w = undefined_name\n", ""), "remove the undefined name"
        m = re.search(r"to this setting: (\S+)=(\S+)\.\s", user)
        if m:
            name, val = m.group(1), m.group(2)
            return re.sub(rf"^{name} = .*$", f"{name} = {val}", code, flags=re.M), f"set {name}={val}"
        m = re.search(r"exactly this component: (.+?)\. Keep", user)
        if m:
            return re.sub(r"^momentum = .*$", "momentum = 0.0", code, flags=re.M), "no momentum"
        steps = int(number(code, "steps"))
        return re.sub(r"^steps = .*$", f"steps = {steps + 20}", code, flags=re.M), "train longer"

    def edit(self, req: RecordedRequest) -> Reply:
        code, plan = self._new_code(req)
        return text(fenced(code, plan))

    def patch(self, req: RecordedRequest) -> Reply:
        old, (new, plan) = parent_code(req), self._new_code(req)
        task = next((ln for ln in last_user(req).splitlines() if ln.startswith("Task:")), "")
        if any(k in task for k in self.fail_patch_for):
            return text(patch("this line is not in the program", "x = 1", plan))
        a, b = old.splitlines(), new.splitlines()
        if a == b:  # nothing to change (e.g. the component is already gone): touch the last line
            return text(patch(a[-1], a[-1] + "  # unchanged", plan))
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        if len(a) > len(b):  # a line was removed: replace it together with its predecessor
            return text(patch("\n".join(a[i - 1 : i + 1]), a[i - 1], plan))
        return text(patch(a[i], b[i], plan))

    def install(self, server: ScriptedServer) -> None:
        server.always("coder/draft", self.draft)
        server.always("coder/edit", self.edit)
        server.always("coder/patch", self.patch)


def review_ok(req: RecordedRequest) -> Reply:
    return json_reply({"is_buggy": False, "bug_reason": "", "summary": "ran fine", "critique": "train longer"})


def tie_last(req: RecordedRequest) -> Reply:
    return json_reply({"choice": re.findall(r"Run (\w+):", last_user(req))[-1], "reason": "the later run"})


def proposals(req: RecordedRequest) -> Reply:
    if "hyperparameter settings" in last_user(req):
        return json_reply({"proposals": ["lr=0.02", "steps=40"]})
    return json_reply({"proposals": ["no momentum"]})


def sandbox(timeout_s: float = 60.0) -> Sandbox:
    """The real local sandbox with small limits."""
    return make_sandbox(SandboxSettings(backend="local", timeout_s=timeout_s, memory_mb=1024, cpu_s=60))


def search_settings(llm_settings: Settings, **search: Any) -> Settings:
    """llm_settings with search fields replaced (validated)."""
    new = llm_settings.search.model_copy(update=search)
    type(new).model_validate(new.model_dump())
    return llm_settings.model_copy(update={"search": new})


IDEA = {
    "name": "momentum_gd",
    "title": "Momentum for least squares",
    "hypothesis": "Momentum speeds up gradient descent on linear regression.",
    "abstract": "We test momentum.",
    "experiments": ["compare momentum values", "vary learning rate"],
    "interestingness": {"value": 5, "why": "x"},
    "feasibility": {"value": 9, "why": "x"},
    "novelty": {"value": 2, "why": "x"},
}


def journal_dict(run_path: Path) -> dict:
    return json.loads((run_path / "journal.json").read_text())
