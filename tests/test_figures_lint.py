"""Figure lint: every finding fires on a figure built to have the flaw and stays silent on a good figure.

The figures are drawn by real matplotlib scripts run as real subprocesses under the figure probe."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from figures_support import local_sandbox
from PIL import Image

from agents.figures.lint import Finding, lint_figures, lint_pixels
from agents.figures.runner import run_plot_script
from agents.settings import FiguresSettings

HEAD = """
import json
import numpy as np
import matplotlib.pyplot as plt
x = np.arange(1, 21)
"""

GOOD = """
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.plot(x, 1 / x, label="train")
ax.plot(x, 1.2 / x + 0.05, label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.set_title("Learning curve")
ax.legend(loc="upper right")
fig.tight_layout()
fig.savefig("fig.png")
"""

BAD: dict[str, str] = {
    "blank_image": "fig = plt.figure(); fig.savefig('fig.png')",
    "no_data": "fig, ax = plt.subplots(); ax.set_title('t'); ax.set_xlabel('a'); ax.set_ylabel('b'); "
    "fig.savefig('fig.png')",
    "missing_axis_label": GOOD.replace('ax.set_xlabel("epoch")', ""),
    "missing_title": GOOD.replace('ax.set_title("Learning curve")', ""),
    "small_font": GOOD.replace("figsize=(5, 3.4)", "figsize=(22, 14)"),
    "missing_legend": GOOD.replace('ax.legend(loc="upper right")', ""),
    "legend_covers_data": GOOD.replace('loc="upper right"', 'loc="lower left"'),
    "nonfinite_data": GOOD.replace("ax.plot(x, 1 / x,", "ax.plot(x, np.where(x > 15, np.nan, 1 / x),"),
    "too_many_subplots": """
fig, axes = plt.subplots(4, 4, figsize=(6, 6))
for i, ax in enumerate(axes.flat):
    ax.plot(x, x ** (i / 8))
    ax.set_title(f"p={i}", fontsize=7); ax.set_xlabel("x", fontsize=7); ax.set_ylabel("y", fontsize=7)
    ax.tick_params(labelsize=7)
fig.savefig("fig.png")
""",
    "empty_axes": GOOD.replace(
        "fig, ax = plt.subplots(figsize=(5, 3.4))", "fig, (ax, ax2) = plt.subplots(1, 2, figsize=(6, 3))"
    ),
    "duplicate_figure": GOOD + "\nfig.savefig('fig_copy.png', dpi=150)\n",
    "foreign_data": "json.load(open('secret.json'))\n" + GOOD,
    "clipped_text": GOOD.replace("fig.tight_layout()", ""),
}


def draw(tmp_path: Path, body: str, name: str = "case") -> tuple[Path, dict[str, list[Finding]]]:
    workdir = tmp_path / name
    workdir.mkdir()
    (workdir / "secret.json").write_text("{}")
    (workdir / "plot.py").write_text(HEAD + textwrap.dedent(body))
    run = run_plot_script(local_sandbox(), workdir, "plot.py", timeout_s=60)
    assert run.ok, run.error
    return workdir, lint_figures(workdir, run.pngs, FiguresSettings())


def codes(report: dict[str, list[Finding]]) -> set[str]:
    return {f.code for findings in report.values() for f in findings}


def test_good_figure_is_clean(tmp_path: Path) -> None:
    _, report = draw(tmp_path, GOOD)
    assert list(report) == ["fig.png"]
    assert report["fig.png"] == []


@pytest.mark.parametrize("code", sorted(BAD))
def test_each_finding_fires_on_its_bad_figure(tmp_path: Path, code: str) -> None:
    _, report = draw(tmp_path, BAD[code])
    assert code in codes(report), report
    finding = next(f for fs in report.values() for f in fs if f.code == code)
    assert finding.message and finding.severity in ("error", "warning", "info")


def test_severities(tmp_path: Path) -> None:
    _, blank = draw(tmp_path, BAD["blank_image"], "blank")
    assert {f.code: f.severity for f in blank["fig.png"]}["blank_image"] == "error"
    _, partial_nan = draw(tmp_path, BAD["nonfinite_data"], "nan")
    assert {f.code: f.severity for f in partial_nan["fig.png"]}["nonfinite_data"] == "warning"
    _, tiny = draw(tmp_path, BAD["small_font"], "tiny")
    assert {f.code: f.severity for f in tiny["fig.png"]}["small_font"] == "error"  # 10 pt printed at 31%


def test_different_figures_are_not_duplicates(tmp_path: Path) -> None:
    body = GOOD + "\nax.cla(); ax.bar(['a', 'b', 'c'], [3, 1, 2]); ax.set_xlabel('m'); ax.set_ylabel('v')\n"
    _, report = draw(
        tmp_path, body.replace('fig.savefig("fig.png")', "fig.savefig('one.png')") + "fig.savefig('two.png')"
    )
    assert "duplicate_figure" not in codes(report)


def test_a_figure_saved_again_after_it_was_closed_is_still_inspected(tmp_path: Path) -> None:
    """The demo's plot script of 7 December 2026 saved one figure under three names through save_figure, which
    closes it: the probe could not inspect the second and third ('FigureCanvasBase' has no get_renderer), so the
    lint missed that the three PNGs were one figure."""
    body = GOOD + "\nplt.close(fig)\nfig.savefig('again.png')\nfig.savefig('and_again.png')\n"
    _, report = draw(tmp_path, body)
    assert set(report) == {"fig.png", "again.png", "and_again.png"}
    assert "duplicate_figure" in codes(report)
    assert not any(f.code == "no_metadata" for fs in report.values() for f in fs), report


def test_image_without_metadata_and_unreadable_png(tmp_path: Path) -> None:
    Image.new("RGB", (200, 100), "white").save(tmp_path / "plain.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    report = lint_figures(tmp_path, ["plain.png", "broken.png"], FiguresSettings())
    assert {f.code for f in report["plain.png"]} == {"blank_image", "no_metadata"}
    assert "unreadable_image" in {f.code for f in report["broken.png"]}
    assert lint_pixels(tmp_path / "broken.png")[0].severity == "error"
