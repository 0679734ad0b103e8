"""Running one node: prepare ``nodes/<id>/``, run ``python code.py`` in the sandbox, read what it wrote.

The sandbox is passed in (any object with the ``agents.sandbox.Sandbox.run`` signature). The verdict comes from
facts only: a SyntaxError (not run), a timeout or resource kill, a non-zero exit, or a missing / invalid
``metrics.json`` makes the node buggy, with the reason the debug step will see. The manager never asks a model
to read numbers.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from agents.experiments import shoal_helper
from agents.experiments.journal import ExecResult, MetricValue, Node
from agents.experiments.patches import syntax_error

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TAIL_CHARS = 4000


class RunResult(Protocol):
    exit_code: int | None
    timed_out: bool
    duration_s: float
    stdout: str
    stderr: str
    killed_reason: str | None


class SandboxLike(Protocol):
    def run(
        self, workdir: Path, argv: list[str], *, timeout_s: float | None = None, env: dict[str, str] | None = None
    ) -> Any: ...


def node_dir(run_path: Path, node_id: str) -> Path:
    return run_path / "nodes" / node_id


def prepare(run_path: Path, node: Node) -> Path:
    """A fresh node dir (a re-run after a crash starts clean) with code.py, the helper and seed.txt."""
    d = node_dir(run_path, node.id)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    (d / "code.py").write_text(node.code, encoding="utf-8")
    shutil.copyfile(Path(shoal_helper.__file__), d / "shoal_helper.py")
    (d / "seed.txt").write_text(str(node.seed or 0), encoding="utf-8")
    return d


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def read_metrics(d: Path) -> tuple[MetricValue | None, str]:
    """The node's metrics, or None and why they cannot be used."""
    path = d / "metrics.json"
    if not path.is_file():
        return None, "no metrics.json: the program must call log_metric(...) from shoal_helper"
    try:
        mv = MetricValue.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        return None, f"metrics.json is invalid: {str(exc).splitlines()[0][:200]}"
    if mv.score is None:
        return None, "metrics.json has no finite value for the first metric"
    return mv, ""


def collect_plots(d: Path) -> tuple[list[str], str]:
    pngs = sorted(p for p in d.rglob("*.png") if p.is_file())
    if not pngs:
        return [], "none"
    ok = [p for p in pngs if p.read_bytes()[:8] == PNG_MAGIC]
    rel = [str(p.relative_to(d)) for p in ok]
    return rel, "ok" if len(ok) == len(pngs) else "invalid"


def execute(sandbox: SandboxLike, run_path: Path, node: Node, timeout_s: float) -> None:
    """Run ``node`` and fill its exec result, metrics, plots and bug verdict (not its status)."""
    d = prepare(run_path, node)
    node.metric, node.plots, node.plots_status = MetricValue(), [], "none"
    bad = syntax_error(node.code) if node.code.strip() else "the coder's answer held no program"
    if bad:
        (d / "stderr.txt").write_text(bad + "\n", encoding="utf-8")
        node.exec = ExecResult(exit_code=None, error=bad)
        node.is_buggy, node.bug_reason = True, bad
        return
    env = {"EXPERIMENT_SEED": str(node.seed or 0)}
    res = sandbox.run(d, ["python", "code.py"], timeout_s=timeout_s, env=env)
    (d / "stdout.txt").write_text(res.stdout, encoding="utf-8")
    (d / "stderr.txt").write_text(res.stderr, encoding="utf-8")
    node.exec = ExecResult(
        exit_code=res.exit_code,
        timed_out=res.timed_out,
        duration_s=res.duration_s,
        stdout_tail=res.stdout[-TAIL_CHARS:],
        error=res.stderr[-TAIL_CHARS:] if (res.exit_code != 0 or res.timed_out) else "",
        killed_reason=res.killed_reason,
        verdict=getattr(res, "verdict", None),
    )
    node.plots, node.plots_status = collect_plots(d)
    if res.timed_out:
        node.is_buggy, node.bug_reason = True, f"timed out after {timeout_s:g}s: make the experiment smaller"
        return
    if res.exit_code != 0:
        why = _last_line(res.stderr) or f"exit code {res.exit_code}"
        if res.killed_reason:
            why = f"{getattr(res, 'verdict', None) or f'killed ({res.killed_reason} limit)'}: {why}"
        node.is_buggy, node.bug_reason = True, why
        return
    metric, why = read_metrics(d)
    if metric is None:
        node.is_buggy, node.bug_reason = True, why
        return
    node.metric = metric
    node.is_buggy, node.bug_reason = False, ""
