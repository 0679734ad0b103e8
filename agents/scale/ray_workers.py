"""Before a run sends programs to a Ray cluster: can every worker node that would take them run them?

A node needs Shoal installed (its code unpacks and runs each task) and the experiment environment built for the
run's sandbox settings (``sandbox.extra_packages`` included) with the isolation ``sandbox.min_isolation`` asks
for. Without the check, the first node's program reached a worker that had none of it and the run stopped there
with Ray's remote traceback, after the model had written the program. ``check_workers`` pins one small task to
each live node whose resources fit a node's task (no CPU reserved, so it does not queue behind running nodes),
which builds the worker's sandbox exactly as ``run_on_worker`` will, and turns every node's failure into one
ConfigError naming the node and what to do there. A node found able is not asked again in this process (for the
same sandbox settings). A node that joins later is not checked here: ``RayExecutor.run`` names it the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from agents.errors import ConfigError
from agents.sandbox import make_sandbox
from agents.sandbox.base import Sandbox
from agents.settings import RaySettings, SandboxSettings

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 120.0  # a worker process starts and builds its sandbox: seconds, minutes on a loaded machine

_CHECKED: set[tuple[str, str]] = set()  # (node id, sandbox settings as JSON) found able to run programs

_SANDBOXES: dict[str, Sandbox] = {}  # on a worker: its sandbox per settings, built once per worker process


def worker_sandbox(sandbox: str) -> Sandbox:
    """On a worker: the sandbox for these settings (JSON), as this machine builds it (ConfigError when it can't)."""
    box = _SANDBOXES.get(sandbox)
    if box is None:
        box = _SANDBOXES[sandbox] = make_sandbox(SandboxSettings.model_validate_json(sandbox))
    return box


def check_on_worker(sandbox: str) -> str | None:
    """The Ray task: None when this node can run programs under these sandbox settings, else why not."""
    try:
        worker_sandbox(sandbox)
    except ConfigError as exc:
        return str(exc)
    return None


def fits(resources: dict[str, float], ray_settings: RaySettings) -> bool:
    """The node has what each experiment task asks for (CPUs, GPUs, memory), so Ray may send programs there."""
    need = {"CPU": ray_settings.num_cpus, "GPU": ray_settings.num_gpus}
    if ray_settings.memory_mb:
        need["memory"] = ray_settings.memory_mb * 2**20
    return all(resources.get(k, 0.0) >= v for k, v in need.items() if v > 0)


def _where(node: dict[str, Any]) -> str:
    return f"{node.get('NodeManagerAddress', '?')} (node {str(node.get('NodeID', '?'))[:12]})"


def _first_line(exc: BaseException) -> str:
    """``Type: first line`` of what went wrong on the worker (a RayTaskError's cause, without Ray's traceback)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text.splitlines()[0][:300]}" if text else type(cause).__name__


def check_workers(ray: Any, ray_settings: RaySettings, sandbox: str, timeout_s: float = CHECK_TIMEOUT_S) -> int:
    """Raise ConfigError naming every live node (that fits a task) which cannot run experiment programs; else
    the number of nodes that fit a task (the ones that answered in time were found able)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n for n in ray.nodes() if n.get("Alive") and fits(n.get("Resources", {}), ray_settings)]
    todo = [n for n in nodes if (n["NodeID"], sandbox) not in _CHECKED]
    if not todo:
        return len(nodes)
    probe = ray.remote(check_on_worker)
    refs = {
        probe.options(
            num_cpus=0, max_retries=0, scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)
        ).remote(sandbox): n
        for n in todo
    }
    done, late = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
    problems = []
    for ref in done:
        node = refs[ref]
        try:
            why = ray.get(ref)
        except ray.exceptions.RayError as exc:  # Shoal missing or different there, or the worker died
            why = f"Shoal's code failed there ({_first_line(exc)}); install the same Shoal on every worker machine"
        if why is None:
            _CHECKED.add((node["NodeID"], sandbox))
        else:
            problems.append(f"  {_where(node)}: {why}")
    for ref in late:
        ray.cancel(ref, force=True)
        log.warning(
            "Ray node %s did not answer the experiment-environment check within %gs; programs sent there may fail",
            _where(refs[ref]),
            timeout_s,
        )
    if problems:
        raise ConfigError(
            f"{len(problems)} of {len(nodes)} Ray worker node(s) cannot run experiment programs:\n"
            + "\n".join(problems)
            + "\nOn each, with the same Shoal and sandbox settings: `shoal sandbox env --build` (and `shoal sandbox "
            "check`), or take the node out of the cluster; or set executor=local"
        )
    return len(nodes)
