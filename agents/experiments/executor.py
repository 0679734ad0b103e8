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
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from agents.experiments import shoal_helper
from agents.experiments.journal import ExecResult, MetricValue, Node
from agents.experiments.patches import syntax_error
from agents.experiments.program import entry_point, is_bundle, write_bundle
from agents.sandbox.base import SandboxRunner
from agents.sandbox.leftovers import MAX_METRICS_BYTES, write_own

if TYPE_CHECKING:
    from agents.data.session import DataSession

log = logging.getLogger(__name__)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TAIL_CHARS = 4000


def node_dir(run_path: Path, node_id: str) -> Path:
    from agents.rundir import RunDir

    return RunDir(run_path).node_dir(node_id)


def prepare(run_path: Path, node: Node) -> Path:
    """A fresh node dir (a re-run after a crash starts clean) with the program's files, the helper, seed.txt.

    A one-file program is ``code.py``; a multi-file program (``agents.experiments.program``) is written file by
    file, with ``code.py`` holding the whole bundle for reading.
    """
    d = node_dir(run_path, node.id)
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    if is_bundle(node.code) and syntax_error(node.code) is None:
        write_bundle(node.code, d)
    if not (d / "code.py").is_file():
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
    if path.stat().st_size > MAX_METRICS_BYTES:
        return None, (
            f"metrics.json is {path.stat().st_size / 2**20:.0f} MiB (more than {MAX_METRICS_BYTES >> 20} MiB): log "
            "summary numbers with log_metric and save raw arrays under results/"
        )
    try:
        mv = MetricValue.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        return None, f"metrics.json is invalid: {str(exc).splitlines()[0][:200]}"
    if mv.score is None:
        return None, "metrics.json has no finite value for the first metric"
    return mv, ""


def _starts_with(path: Path, magic: bytes) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(magic)) == magic


def collect_plots(d: Path) -> tuple[list[str], Literal["none", "ok", "failed", "invalid"]]:
    pngs = sorted(p for p in d.rglob("*.png") if p.is_file())
    if not pngs:
        return [], "none"
    ok = [p for p in pngs if _starts_with(p, PNG_MAGIC)]
    rel = [str(p.relative_to(d)) for p in ok]
    return rel, "ok" if len(ok) == len(pngs) else "invalid"


def execute(
    sandbox: SandboxRunner, run_path: Path, node: Node, timeout_s: float, data: DataSession | None = None
) -> None:
    """Run ``node`` and fill its exec result, metrics, plots and bug verdict (not its status).

    With ``data`` the node gets the user's data read-only (mounts and environment) and, under held-out scoring,
    its primary metric is Shoal's score of its predictions, not anything it wrote itself.
    """
    d = prepare(run_path, node)
    node.metric, node.plots, node.plots_status = MetricValue(), [], "none"
    bad = syntax_error(node.code) if node.code.strip() else "the coder's answer held no program"
    if bad:
        (d / "stderr.txt").write_text(bad + "\n", encoding="utf-8")
        node.exec = ExecResult(exit_code=None, error=bad)
        node.is_buggy, node.bug_reason = True, bad
        return
    env = {"EXPERIMENT_SEED": str(node.seed or 0), **(data.env() if data else {})}
    argv = ["python", entry_point(node.code)]
    if data is not None and data.mounts():
        res = sandbox.run(d, argv, timeout_s=timeout_s, env=env, mounts=data.mounts())
    else:
        res = sandbox.run(d, argv, timeout_s=timeout_s, env=env)
    write_own(d / "stdout.txt", res.stdout)
    write_own(d / "stderr.txt", res.stderr)
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
    metric, why = score_node(d, data)
    if metric is None:
        node.is_buggy, node.bug_reason = True, why
        return
    node.metric = metric
    node.is_buggy, node.bug_reason = False, ""


def score_node(d: Path, data: DataSession | None) -> tuple[MetricValue | None, str]:
    """The node's metrics: its own, or with a data task the user's metric first (Shoal's score when held out)."""
    own, why = read_metrics(d)
    if data is None or data.task.metric is None:
        return own, why
    rest = [m for m in (own.metrics if own else []) if m.name != data.task.metric]
    if data.scored_by_shoal:
        official, why = data.evaluate(d)
        if official is None:
            return None, why
        return MetricValue(metrics=[official, *rest]), ""
    if own is None:
        return None, why
    wanted = next((m for m in own.metrics if m.name == data.task.metric and m.values), None)
    if wanted is None:
        name = data.task.metric
        return None, f"the goal's metric is {name!r}: report it with log_metric({name!r}, value)"
    wanted = wanted.model_copy(update={"direction": data.task.direction})
    return MetricValue(metrics=[wanted, *rest]), ""
