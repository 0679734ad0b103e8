"""Final aggregation end to end: a small real journal (real experiment programs run as subprocesses), the scripted
model for plan, script, fixes and critic, real plotting runs, lint, and the figures/ contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from figures_support import build_journal, local_sandbox
from ideation_helpers import idea_json

from agents.figures.aggregate import aggregate_figures
from agents.figures.lint import read_probe
from agents.llm import LLM, Ledger, read_ledger
from agents.rundir import RunDir, create_run
from agents.settings import Settings
from agents.testing import ScriptedServer, json_reply, malformed_json, text

PLAN = {
    "figures": [
        {
            "name": "fig_learning_curves",
            "description": "validation loss per epoch of the draft, tuned and improved models",
            "nodes": ["draft1", "tune1", "improve1"],
            "caption": "Validation loss during training.",
        },
        {
            "name": "Accuracy by method",
            "description": "final validation accuracy per experiment with seed error bars",
            "nodes": ["draft1", "tune1", "improve1", "ablate1", "not-a-node"],
            "caption": "Final validation accuracy; error bars are standard errors over seeds.",
        },
    ]
}

SCRIPT = """```python
import json
import matplotlib.pyplot as plt
from shoal_figstyle import PALETTE, apply_style, load_metrics, load_results, save_figure

apply_style()
NODES = json.load(open("data/nodes.json"))
LABEL = {n["id"]: n["label"] for n in NODES}
COLOR = {n["id"]: PALETTE[i % len(PALETTE)] for i, n in enumerate(NODES)}

fig, ax = plt.subplots()
for nid in ["draft1", "tune1", "improve1"]:
    c = load_results("data/" + nid)["learning_curve"]
    ax.plot(c["epoch"], c["val_loss"], label=LABEL[nid], color=COLOR[nid])
ax.set_xlabel("epoch")
ax.set_ylabel("validation loss")
ax.set_title("Learning curves")
ax.legend(loc="upper right")
save_figure(fig, "fig_learning_curves", pdf=True)

fig, ax = plt.subplots()
ids = ["draft1", "tune1", "improve1", "ablate1"]
acc = [load_metrics("data/" + i)[0] for i in ids]
ax.bar(range(len(ids)), [m["values"]["blobs"] for m in acc],
       yerr=[m.get("std_err", {}).get("blobs", 0.0) for m in acc], color=[COLOR[i] for i in ids], capsize=4)
ax.set_xticks(range(len(ids)), [LABEL[i] for i in ids], rotation=20, ha="right")
YLABEL
ax.set_xlabel("experiment")
ax.set_title("Validation accuracy")
save_figure(fig, "fig_accuracy_by_method", pdf=True)
```"""
VALID = {"valid_for_claim": True, "readability": 4, "issues": [], "suggested_fix": ""}


@pytest.fixture(scope="module")
def journal_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real journal for the module (seven real experiment runs, ~4 s); each test copies it."""
    import shutil

    from agents.settings import load_settings

    root = tmp_path_factory.mktemp("journal")
    run = create_run(load_settings(None, [], workspace=root / "ws"), "figures e2e")
    build_journal(run.path, local_sandbox())
    idea = idea_json("Learning-rate sensitivity of logistic regression", "Smaller learning rates converge slower.")
    run.write_ideas({"ideas": [idea]})
    run.choose_idea(run.ideas()[0][0].name)
    return Path(shutil.copytree(run.path, root / "template"))


def copy_run(journal_run: Path, tmp_path: Path) -> RunDir:
    import shutil

    return RunDir(Path(shutil.copytree(journal_run, tmp_path / "run")))


@pytest.mark.slow
def test_aggregation_end_to_end(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """Two rounds of a real plotting script in the sandbox, lint and critique on a real journal (~10 s)."""
    run = copy_run(journal_run, tmp_path)
    scripted_llm.script("figures/aggregate_plan", json_reply(PLAN))
    scripted_llm.script("figures/aggregate_script", text(SCRIPT.replace("YLABEL", "")))  # no y label: a warning
    scripted_llm.script("figures/fix_plot", text(SCRIPT.replace("YLABEL", 'ax.set_ylabel("validation accuracy")')))
    scripted_llm.always("figures/critic_text", json_reply(VALID))
    llm = LLM(llm_settings, Ledger(run.ledger_path))
    captions = aggregate_figures(run, llm, local_sandbox(), llm_settings)

    names = [f.name for f in captions.figures]
    assert names == ["fig_learning_curves", "fig_accuracy_by_method"]
    figs = run.path / "figures"
    for name in names:
        assert (figs / f"{name}.png").stat().st_size > 5000
        assert (figs / f"{name}.pdf").read_bytes()[:5] == b"%PDF-"
    data = json.loads((figs / "captions.json").read_text())
    first = data["figures"][0]
    assert set(first) >= {"name", "png", "pdf", "caption", "label", "nodes", "lint", "critique"}
    assert first["label"] == "fig:learning_curves" and first["caption"] == "Validation loss during training."
    assert data["figures"][1]["nodes"] == ["draft1", "tune1", "improve1", "ablate1"]  # unknown id dropped
    assert all(not f["lint"] for f in data["figures"])  # the fixed round is clean
    # the fix request carried the lint finding; the unchanged learning-curve image was not critiqued twice
    assert "missing_axis_label" in scripted_llm.requests_for("figures/fix_plot")[0].messages[-1]["content"]
    assert len(scripted_llm.requests_for("figures/critic_text")) == 3
    assert (figs / "work" / "aggregate_round1.py").is_file() and (figs / "work" / "aggregate_round2.py").is_file()
    # error bars from the seed std_err really were drawn
    metas, reads = read_probe(figs / "work")
    assert any(ax["errorbars"] for ax in metas["fig_accuracy_by_method.png"]["axes"])
    assert reads is not None and all(r.startswith("data/") for r in reads)
    calls = read_ledger(run.ledger_path)
    assert len(calls) == 6 and all(c.context.get("stage") == "figures" for c in calls)


@pytest.mark.slow
def test_fallback_figures_when_the_model_never_writes_a_working_script(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """Two failing rounds, then the deterministic script, all real sandbox runs (~7 s)."""
    run = copy_run(journal_run, tmp_path)
    llm_settings.figures.aggregate_rounds = 2
    scripted_llm.script("figures/aggregate_plan", json_reply(PLAN))
    scripted_llm.script("figures/aggregate_script", text("```python\nraise SystemExit('no figures today')\n```"))
    scripted_llm.script("figures/fix_plot", text("Sorry, I can't help with plotting."))
    captions = aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings)
    names = {f.name for f in captions.figures}
    assert names == {"fig_metric_comparison", "fig_learning_curves"}
    assert all("deterministic" in f.critique for f in captions.figures)
    metas, _ = read_probe(run.path / "figures" / "work")
    assert any(ax["errorbars"] for ax in metas["fig_metric_comparison.png"]["axes"])


@pytest.mark.slow
def test_unusable_plan_falls_back(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """The deterministic figure script runs for real in the sandbox (~5 s)."""
    run = copy_run(journal_run, tmp_path)
    scripted_llm.script("figures/aggregate_plan", *[malformed_json()] * (llm_settings.llm.max_repairs + 1))
    captions = aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings)
    assert len(captions.figures) == 2


def test_run_without_good_nodes_is_a_clear_user_error(llm_settings: Settings, tmp_path: Path) -> None:
    from agents.errors import UserInputError

    run = create_run(llm_settings, "empty")
    with pytest.raises(UserInputError, match="no good experiment node"):
        aggregate_figures(run, LLM(llm_settings), local_sandbox(), llm_settings)


@pytest.mark.slow
def test_resume_keeps_complete_figures_without_model_calls(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """Makes the figures twice with real sandbox runs (~10 s)."""
    run = copy_run(journal_run, tmp_path)
    scripted_llm.script("figures/aggregate_plan", malformed_json(), malformed_json(), malformed_json())
    first = aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings)
    again = aggregate_figures(
        run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings, force=False
    )
    assert again == first and len(scripted_llm.requests) == 3  # no new call
    (run.path / "figures" / first.figures[0].pdf).unlink()  # incomplete output is made again
    scripted_llm.script("figures/aggregate_plan", malformed_json(), malformed_json(), malformed_json())
    aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings, force=False)
    assert (run.path / "figures" / first.figures[0].pdf).is_file()


@pytest.mark.slow
def test_missing_seed_error_bars_are_asked_for(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """Two rounds of a real plotting script in the sandbox (~8 s)."""
    run = copy_run(journal_run, tmp_path)
    good = SCRIPT.replace("YLABEL", 'ax.set_ylabel("validation accuracy")')
    no_bars = good.replace('yerr=[m.get("std_err", {}).get("blobs", 0.0) for m in acc], ', "")
    assert no_bars != good
    scripted_llm.script("figures/aggregate_plan", json_reply(PLAN))
    scripted_llm.script("figures/aggregate_script", text(no_bars))
    scripted_llm.script("figures/fix_plot", text(good))
    scripted_llm.always("figures/critic_text", json_reply(VALID))
    aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings)
    assert "seed standard errors" in scripted_llm.requests_for("figures/fix_plot")[0].messages[-1]["content"]
    metas, _ = read_probe(run.path / "figures" / "work")
    assert any(ax["errorbars"] for ax in metas["fig_accuracy_by_method.png"]["axes"])


@pytest.mark.slow
def test_a_model_that_only_copies_the_skeleton_still_gets_clean_figures(
    scripted_llm: ScriptedServer, llm_settings: Settings, journal_run: Path, tmp_path: Path
) -> None:
    """A weak model's likeliest answer, the prompt's skeleton verbatim, run for real in the sandbox (~6 s)."""
    from agents.figures.runner import extract_code
    from agents.testing import RecordedRequest, Reply

    def copy_skeleton(req: RecordedRequest) -> Reply:
        return text("```python\n" + extract_code(req.messages[-1]["content"]) + "\n```")

    run = copy_run(journal_run, tmp_path)
    scripted_llm.script("figures/aggregate_plan", json_reply(PLAN))
    scripted_llm.script("figures/aggregate_script", copy_skeleton)
    scripted_llm.always("figures/critic_text", json_reply(VALID))
    captions = aggregate_figures(run, LLM(llm_settings, Ledger(run.ledger_path)), local_sandbox(), llm_settings)
    assert [f.name for f in captions.figures] == ["fig_learning_curves", "fig_accuracy_by_method"]
    assert all(not [x for x in f.lint if x.severity != "info"] for f in captions.figures), captions
    metas, _ = read_probe(run.path / "figures" / "work")
    curves = metas["fig_learning_curves.png"]["axes"][0]
    assert curves["xlabel"] == "epoch" and len([s for s in curves["series"] if s["type"] == "line"]) == 3
    assert any(ax["errorbars"] for ax in metas["fig_accuracy_by_method.png"]["axes"])
