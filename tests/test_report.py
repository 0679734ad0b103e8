"""The HTML report: rendered from a real run directory and loaded in headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from ideation_helpers import idea_json

from agents.experiments.journal import ExecResult, Journal, Metric, MetricValue, Node
from agents.llm.ledger import CallRecord, Ledger
from agents.report import write_report
from agents.rundir import RunDir, create_run
from agents.settings import load_settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _make_run(tmp_path: Path) -> tuple[RunDir, Node]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = create_run(load_settings(None, workspace=tmp_path / "ws"), "report test")
    journal = Journal()
    draft = journal.add(
        Node(stage=1, kind="draft", status="done", plan="fit a line", code="print('<!--<script></script><b>x</b>&')",
             metric=MetricValue(metrics=[Metric(name="mse", direction="minimize", values={"toy": 0.25})]),
             exec=ExecResult(exit_code=0, stdout_tail="mse 0.25"), plots=["fit.png"], plots_status="ok")
    )  # fmt: skip
    journal.add(Node(stage=1, kind="debug", parent=draft.id, status="done", is_buggy=True, bug_reason="NameError"))
    journal.save(run.file("journal.json"))
    node_dir = run.subdir(f"nodes/{draft.id}")
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    fig.savefig(node_dir / "fit.png")
    plt.close(fig)
    (node_dir / "stdout.txt").write_text("epoch 1 mse 0.25\n")
    run.write_ideas({"ideas": [idea_json("Lines <are> fun", "Lines fit.", name="lines")]})
    run.choose_idea("lines")
    ledger = Ledger(run.ledger_path)
    ledger.record(CallRecord(prompt="coder/draft", role="coder", model="m", endpoint="e", tokens_in=100,
                             tokens_out=50, cost_usd=0.01, outcome="ok", context={"stage": "experiments"}))  # fmt: skip
    return run, draft


def test_report_contents_are_escaped_and_complete(tmp_path: Path) -> None:
    run, _ = _make_run(tmp_path)
    html = write_report(run).read_text()
    assert "Lines &lt;are&gt; fun" in html
    assert "<b>x</b>" not in html.split('id="report-data"')[0]
    # the embedded JSON can neither close its script tag nor switch the parser's script states
    payload = html.split('id="report-data" type="application/json">')[1].split("</script>")[0]
    assert "\\u003c!--\\u003cscript\\u003e\\u003c/script\\u003e" in payload and not set("<>&") & set(payload)
    assert json.loads(payload)["nodes"][0]["code"].startswith("print('<!--<script></script><b>x</b>&')")
    assert "experiments" in html and "0.0100" in html
    assert str(tmp_path) not in html  # relative links only: the run dir stays movable


def test_report_for_an_empty_run(tmp_path: Path) -> None:
    run = create_run(load_settings(None, workspace=tmp_path / "ws"), "empty")
    html = write_report(run).read_text()
    assert "No experiments recorded yet" in html


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium not installed (scripts/setup.sh installs it)")
def test_report_renders_and_opens_a_node_in_chromium(tmp_path: Path) -> None:
    """Loads the report in headless Chromium (about 2 s) and opens a node through the page's own script."""
    run, draft = _make_run(tmp_path)
    report = write_report(run)
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000", "--dump-dom",
        f"{report.as_uri()}#node={draft.id}",
    ]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    assert f"Node {draft.id} · draft · stage 1" in dom  # the node panel was opened by the page script
    assert "fit a line" in dom and "epoch 1 mse 0.25" in dom
    assert f'src="nodes/{draft.id}/fit.png"' in dom
    assert "Stage 1 · initial implementation" in dom
