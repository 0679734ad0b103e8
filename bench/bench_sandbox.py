"""Sandbox overhead per run: `python -c pass` in the local sandbox vs a plain subprocess of the same interpreter.

    python bench/bench_sandbox.py [--runs 20] [--import-runs 5] [--json]

Prints the median (and min) wall time of each way of running it, interleaved round by round, the overhead in
milliseconds and the ratio to plain. "plain" runs the experiment environment's python (the one the sandbox runs),
so the difference is the sandbox alone: bubblewrap, the uid drop, the per-run cgroups, the supervisor. The row
with Shoal's own interpreter is the baseline the sandbox was measured against before it had its own environment.

"full" is how every run after a sandbox's first one starts: its bwrap was started ahead, in its cgroups, while
the run before it went on (agents/sandbox/prestart.py); the bench waits for that, outside the timing, as the
seconds between real nodes do. "cold start" is a sandbox's first run (nothing started ahead).

A second table times a program that does what every real node does first, `import numpy, scipy.stats, pandas`,
plain and in the full sandbox (``--import-runs``, 0 to skip): the start-up cost of a real node, page cache
included (a sandbox that evicts the environment's files from the cache shows here, not in `pass`).

Last, the time of the check for links and special files every run ends with (agents/sandbox/leftovers.py) on a
node directory of 18 and of 5,018 files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agents.sandbox import Isolation, LocalSandbox, probe_isolation
from agents.sandbox.pyenv import env_path
from agents.settings import SandboxSettings


def _time_interleaved(
    modes: dict[str, Callable[[], None]], runs: int, settle: Callable[[], None]
) -> dict[str, list[float]]:
    """Each round runs every mode once, so load from other users of the machine hits all modes alike;
    ``settle`` runs between two timings (outside them) so no mode's background work lands in another's."""
    for fn in modes.values():
        fn()  # warm-up (page cache, isolation probe)
        settle()
    times: dict[str, list[float]] = {label: [] for label in modes}
    for _ in range(runs):
        for label, fn in modes.items():
            t0 = time.perf_counter()
            fn()
            times[label].append((time.perf_counter() - t0) * 1000)
            settle()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--import-runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    settings = SandboxSettings(backend="local")
    workdir = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    workdir.chmod(0o755)
    python = str(env_path(settings.python_env) / "bin" / "python")

    def plain(code: str = "pass") -> None:
        subprocess.run([python, "-c", code], cwd=workdir, capture_output=True, timeout=60, check=True)

    def plain_shoal() -> None:
        subprocess.run([sys.executable, "-c", "pass"], cwd=workdir, capture_output=True, timeout=60, check=True)

    modes = {"plain subprocess": plain, "plain, Shoal's interpreter (old baseline)": plain_shoal}
    best = probe_isolation(settings.network, settings.uid)
    no_cgroup = best.model_copy(update={"cgroup": None})
    weak = Isolation(prefix=[], network_isolated=False, pid_namespace=False, ids=best.ids)
    boxes: list[LocalSandbox] = []
    for label, iso, ahead in (
        (f"sandbox, full ({best.mode}, cgroup {best.cgroup})", best, True),
        (f"sandbox, full, cold start ({best.mode}, cgroup {best.cgroup})", best, False),
        (f"sandbox, {best.mode} without cgroups (watcher)", no_cgroup, True),
        ("sandbox, weakest (no namespaces: subreaper)", weak, True),
    ):
        box = LocalSandbox(settings.model_copy(update={"allow_weak": True}), isolation=iso, start_ahead=ahead)
        boxes.append(box)

        def run(box: LocalSandbox = box) -> None:
            res = box.run(workdir, ["python", "-c", "pass"])
            assert res.ok, res.stderr

        modes.setdefault(label, run)

    def settle() -> None:
        for box in boxes:
            box.wait_ready()

    results = _summary(_time_interleaved(modes, args.runs, settle), "plain subprocess")
    imports: dict[str, dict[str, float]] = {}
    if args.import_runs:
        label, full = f"sandbox, full ({best.mode}, cgroup {best.cgroup})", boxes[0]
        code = "import numpy, scipy.stats, pandas"

        def sandboxed() -> None:
            res = full.run(workdir, ["python", "-c", code])
            assert res.ok, res.stderr

        heavy = {"plain subprocess": lambda: plain(code), label: sandboxed}
        imports = _summary(_time_interleaved(heavy, args.import_runs, settle), "plain subprocess")
    for box in boxes:
        box.close()
    scrubs = _scrub_times()
    if args.json:
        print(json.dumps({"runs": args.runs, "results": results, "imports": imports, "scrub_ms": scrubs}, indent=2))
        return
    _print(f"{args.runs} runs of `python -c pass` (median wall time)", results)
    if imports:
        _print(f"{args.import_runs} runs of `python -c 'import numpy, scipy.stats, pandas'`", imports)
    print("leftovers.scrub after each run (part of the sandbox rows above), median of 20:")
    for files, ms in scrubs.items():
        print(f"  a node directory of {files:>5} files: {ms:.2f} ms")


def _scrub_times() -> dict[int, float]:
    """Median milliseconds of one ``leftovers.scrub`` over a node-like directory of 18 and of 5,018 files."""
    from agents.sandbox.leftovers import scrub

    out: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for name in ("code.py", "shoal_helper.py", "seed.txt", "metrics.json", "stdout.txt", "stderr.txt", "a.png"):
            (d / name).write_text("x")
        (d / "results").mkdir()
        made = 0
        for extra in (11, 5000):
            for _ in range(extra):
                made += 1
                (d / "results" / f"r{made}.json").write_text("{}")
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                scrub(d)
                times.append((time.perf_counter() - t0) * 1e3)
            out[7 + made] = round(statistics.median(times), 3)
    return out


def _summary(times: dict[str, list[float]], base_label: str) -> dict[str, dict[str, float]]:
    results = {
        label: {"median_ms": round(statistics.median(t), 2), "min_ms": round(min(t), 2)} for label, t in times.items()
    }
    base = results[base_label]["median_ms"]
    for row in results.values():
        row["overhead_ms"] = round(row["median_ms"] - base, 2)
        row["ratio_to_plain"] = round(row["median_ms"] / base, 2)
    return results


def _print(title: str, results: dict[str, dict[str, float]]) -> None:
    print(title)
    for label, row in results.items():
        print(
            f"  {label:<58} median {row['median_ms']:7.1f} ms (min {row['min_ms']:7.1f})"
            f"   overhead {row['overhead_ms']:+7.1f} ms"
            f"   x{row['ratio_to_plain']:.2f}"
        )


if __name__ == "__main__":
    main()
