"""Of /sys a run sees the CPU topology alone, read-only: enough for lscpu and joblib's core count, whose warning
(with a traceback's lines) was in the output of every HistGradientBoosting fit before 7 December 2026."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.sandbox import LocalSandbox
from agents.settings import SandboxSettings


@pytest.fixture
def box_and_node() -> Iterator[tuple[LocalSandbox, Path]]:
    box = LocalSandbox(SandboxSettings(backend="local", timeout_s=60.0))
    if not box.isolation.bwrap:
        pytest.skip("bubblewrap does not run here (see `shoal doctor`): see docs/sandbox.md")
    d = Path(tempfile.mkdtemp(prefix="shoal-sys-test-"))
    d.chmod(0o755)
    yield box, d
    shutil.rmtree(d, ignore_errors=True)


def _run(box: LocalSandbox, node: Path, code: str) -> tuple[str, str, bool]:
    (node / "code.py").write_text(textwrap.dedent(code))
    res = box.run(node, ["python", "code.py"])
    return res.stdout, res.stderr, res.ok


def test_only_the_cpu_topology_and_read_only(box_and_node: tuple[LocalSandbox, Path]) -> None:
    out, err, ok = _run(
        *box_and_node,
        """
        import os
        print(os.listdir("/sys"), os.listdir("/sys/devices"), os.listdir("/sys/devices/system"))
        try:
            open("/sys/devices/system/cpu/online", "w").write("0")
        except OSError as exc:
            print("refused", exc.errno)
        """,
    )
    assert ok, err
    assert "['devices'] ['system'] ['cpu']" in out and "refused 30" in out  # EROFS


def test_joblib_counts_physical_cores_without_a_warning(box_and_node: tuple[LocalSandbox, Path]) -> None:
    out, err, ok = _run(
        *box_and_node,
        """
        from joblib import cpu_count
        from sklearn.datasets import load_breast_cancer
        from sklearn.ensemble import HistGradientBoostingClassifier
        X, y = load_breast_cancer(return_X_y=True)
        HistGradientBoostingClassifier(max_iter=5).fit(X, y)
        print("physical", cpu_count(only_physical_cores=True))
        """,
    )
    assert ok and "physical" in out, err
    assert int(out.split()[-1]) >= 1 and err == "", err
