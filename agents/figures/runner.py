"""Run one plotting script in the sandbox under the figure probe and collect the PNGs it wrote.

The sandbox is injected: ``agents.sandbox.make_sandbox(settings.sandbox)``.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from agents.figures.lint import read_probe
from agents.figures.probe import META_FILE
from agents.sandbox import Sandbox

log = logging.getLogger(__name__)

PROBE_NAME = "_shoal_figprobe.py"
STYLE_NAME = "shoal_figstyle.py"
_HERE = Path(__file__).resolve().parent


@dataclass
class ScriptRun:
    ok: bool
    error: str = ""
    pngs: list[str] = field(default_factory=list)  # relative to the workdir, in save order
    duration_s: float = 0.0


def install_helpers(workdir: Path) -> None:
    """Copy the probe and the style helper next to the script."""
    shutil.copyfile(_HERE / "probe.py", workdir / PROBE_NAME)
    shutil.copyfile(_HERE / "figstyle.py", workdir / STYLE_NAME)


def _snapshot(workdir: Path) -> dict[str, float]:
    return {p.relative_to(workdir).as_posix(): p.stat().st_mtime_ns for p in workdir.rglob("*.png") if p.is_file()}


def run_plot_script(sandbox: Sandbox, workdir: Path, script: str, timeout_s: float) -> ScriptRun:
    """Run ``python script`` under the probe in ``workdir``; the PNGs it wrote (new or rewritten), in save order."""
    install_helpers(workdir)
    (workdir / META_FILE).unlink(missing_ok=True)
    before = _snapshot(workdir)
    res = sandbox.run(workdir, ["python", PROBE_NAME, script], timeout_s=timeout_s)
    metas, _ = read_probe(workdir)
    after = _snapshot(workdir)
    pngs = [p for p in metas if p in after]
    pngs += sorted(p for p, t in after.items() if before.get(p) != t and p not in pngs)
    error = ""
    if res.timed_out:
        error = f"the script ran past its {timeout_s:.0f} s limit"
    elif not res.ok:
        error = (res.stderr or res.stdout or f"exit code {res.exit_code}")[-3000:]
    elif not pngs:
        error = "the script ran but saved no PNG file"
    log.debug("plot script %s in %s: ok=%s pngs=%s", script, workdir, not error, pngs)
    return ScriptRun(ok=not error, error=error, pngs=pngs, duration_s=res.duration_s)


_FENCE = re.compile(r"```(?:python|py|Python)?[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(text: str) -> str:
    """The python script in a model's answer: the longest fenced block, else the whole text when it looks like
    code, else ""."""
    blocks = [b.strip() for b in _FENCE.findall(text) if b.strip()]
    if blocks:
        return max(blocks, key=len)
    open_fence = re.search(r"```(?:python|py)?[ \t]*\n(.*)$", text, re.DOTALL)  # cut off before the closing fence
    if open_fence:
        return open_fence.group(1).strip()
    stripped = text.strip()
    return stripped if re.search(r"^(import|from)\s+\w+", stripped, re.MULTILINE) else ""
