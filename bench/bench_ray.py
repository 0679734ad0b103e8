"""Benchmark of the Ray executor on a real Ray cluster on this machine (a head and two one-CPU worker nodes).

    python bench/bench_ray.py [--nodes 6] [--sleep 2] [--json]

Each node is a fixed program (``time.sleep(SLEEP)``) in its own directory, run through ``RayExecutor.run`` (the
call the experiment manager makes): packed, sent, run in the worker's local sandbox, packed back, unpacked.

- parallel efficiency: T(1 worker busy) / (2 * T(2 workers busy)) over ``--nodes`` nodes; the 1-worker figure
  runs the nodes one after another, the 2-worker figure two at a time (goal >= 0.85);
- Ray's per-node overhead: wall time per node minus the time the sandbox ran the program on the worker, in ms
  (scheduling, transfer, packing, unpacking), against the local sandbox running the same program here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.sandbox import make_sandbox  # noqa: E402
from agents.scale.ray_executor import RayExecutor  # noqa: E402
from agents.settings import SandboxSettings, Settings  # noqa: E402
from agents.testing.ray_cluster import ray_cluster  # noqa: E402


def _dirs(root: Path, n: int, sleep: float, tag: str) -> list[Path]:
    out = []
    for i in range(n):
        d = root / f"{tag}{i}"
        d.mkdir(parents=True)
        (d / "code.py").write_text(f"import time\ntime.sleep({sleep})\nprint('done')\n")
        out.append(d)
    return out


def _batch(ex: Any, dirs: list[Path], parallel: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        results = list(pool.map(lambda d: ex.run(d, ["python", "code.py"], timeout_s=60), dirs))
    wall = time.perf_counter() - t0
    bad = [r.stderr for r in results if r.exit_code != 0]
    if bad:
        raise SystemExit(f"a benchmark node failed: {bad[0][:300]}")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=6)
    ap.add_argument("--sleep", type=float, default=2.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sandbox = SandboxSettings(backend="local", timeout_s=60)
    settings = Settings(executor="ray", sandbox=sandbox)
    out: dict[str, Any] = {"nodes": args.nodes, "sleep_s": args.sleep}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        local = make_sandbox(sandbox)
        t_local = _batch(local, _dirs(root, args.nodes, args.sleep, "local"), 1)
        with ray_cluster(workers=2, cpus_per_worker=1) as cluster:
            settings.ray.address = cluster.address
            ex = RayExecutor(settings)
            _batch(ex, _dirs(root, 2, 0.0, "warm"), 2)  # start a Ray worker process on each node first
            ex.run_seconds = 0.0
            t1 = _batch(ex, _dirs(root, args.nodes, args.sleep, "one"), 1)
            ran1 = ex.run_seconds
            t2 = _batch(ex, _dirs(root, args.nodes, args.sleep, "two"), 2)
            out["bytes_per_node"] = round((ex.bytes_sent + ex.bytes_received) / (args.nodes * 2 + 2))
    out["local_s_per_node"] = round(t_local / args.nodes, 3)
    out["ray_1_worker_s"] = round(t1, 2)
    out["ray_2_workers_s"] = round(t2, 2)
    out["parallel_efficiency"] = round(t1 / (2 * t2), 3)
    out["ray_overhead_ms_per_node"] = round((t1 - ran1) / args.nodes * 1000, 1)
    out["ray_vs_local_ms_per_node"] = round((t1 - t_local) / args.nodes * 1000, 1)
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{args.nodes} nodes of a fixed {args.sleep:g} s program")
    print(f"local sandbox, one at a time:   {out['local_s_per_node']:.3f} s per node")
    print(f"Ray, 1 worker busy:              {t1:.2f} s")
    print(f"Ray, 2 workers busy:             {t2:.2f} s")
    print(f"parallel efficiency (goal >= 0.85): {out['parallel_efficiency']:.3f}")
    print(f"Ray overhead per node (wall - sandbox run on the worker): {out['ray_overhead_ms_per_node']:.1f} ms")
    print(f"Ray vs the local sandbox per node: {out['ray_vs_local_ms_per_node']:+.1f} ms")
    print(f"bytes sent + received per node: {out['bytes_per_node']:,}")


if __name__ == "__main__":
    main()
