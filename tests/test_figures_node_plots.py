"""Per-node plots and the critic, through the scripted model server and real subprocess runs of real node dirs."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from figures_support import local_sandbox, node_from_dir, run_node

from agents.figures.critic import NOT_INSPECTED
from agents.figures.node_plots import plot_node
from agents.llm import LLM, Ledger, read_ledger
from agents.settings import Settings
from agents.testing import RecordedRequest, ScriptedServer, json_reply, text

GOOD_SCRIPT = """```python
import matplotlib.pyplot as plt
from shoal_figstyle import apply_style, load_results, save_figure

apply_style()
curve = load_results(".")["learning_curve"]
fig, ax = plt.subplots()
ax.plot(curve["epoch"], curve["train_loss"], label="train")
ax.plot(curve["epoch"], curve["val_loss"], label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("log loss")
ax.set_title("Learning curve")
ax.legend()
save_figure(fig, "plot_learning_curve")
```"""

BUGGY_SCRIPT = "```python\nfrom shoal_figstyle import load_results\nload_results('.')['no_such_file']['x']\n```"
FOREIGN_SCRIPT = GOOD_SCRIPT.replace(
    'curve = load_results(".")', 'open("stdout.txt").read()\ncurve = load_results(".")'
)
VALID = {"valid_for_claim": True, "readability": 4, "issues": ["legend is small"], "suggested_fix": "larger legend"}
INVALID = {
    "valid_for_claim": False,
    "readability": 2,
    "issues": ["plots loss, claim is accuracy"],
    "suggested_fix": "x",
}


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    return run_node(tmp_path / "run", local_sandbox(), "n1", lr=0.3)


def make_llm(settings: Settings, tmp_path: Path) -> LLM:
    return LLM(settings, Ledger(tmp_path / "llm_calls.jsonl"), context={"stage": "figures"})


def test_node_plot_ok_with_text_only_critic(
    scripted_llm: ScriptedServer, llm_settings: Settings, node_dir: Path, tmp_path: Path
) -> None:
    scripted_llm.script("figures/node_plot", text(GOOD_SCRIPT))
    scripted_llm.script("figures/critic_text", json_reply(VALID))
    node = node_from_dir(node_dir, plan="logistic regression with lr 0.3")
    out = plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings)
    assert out.status == node.plots_status == "ok"
    assert node.plots == ["plot_learning_curve.png"]
    assert (node_dir / "plot_learning_curve.png").stat().st_size > 5000
    assert node.llm_calls == out.llm_calls == 2
    assert NOT_INSPECTED in node.plot_critique and "legend is small" in node.plot_critique
    prompt = scripted_llm.requests_for("figures/node_plot")[0].messages[-1]["content"]
    assert (
        "results['learning_curve']['val_loss']: list of 30 numbers" in prompt
    )  # the model is told what was saved, not given the data
    critic = scripted_llm.requests_for("figures/critic_text")[0].messages[-1]["content"]
    assert "load_results" in critic and "image_url" not in json.dumps(
        scripted_llm.requests_for("figures/critic_text")[0].body
    )
    assert {r.prompt for r in read_ledger(tmp_path / "llm_calls.jsonl")} == {"figures/node_plot", "figures/critic_text"}


def test_failing_script_is_fixed_with_the_traceback(
    scripted_llm: ScriptedServer, llm_settings: Settings, node_dir: Path, tmp_path: Path
) -> None:
    scripted_llm.script("figures/node_plot", text(BUGGY_SCRIPT))
    scripted_llm.script("figures/fix_plot", text(GOOD_SCRIPT))
    scripted_llm.script("figures/critic_text", json_reply(VALID))
    node = node_from_dir(node_dir)
    out = plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings)
    assert (out.status, out.attempts) == ("ok", 2)
    fix_prompt = scripted_llm.requests_for("figures/fix_plot")[0].messages[-1]["content"]
    assert "KeyError" in fix_prompt and "no_such_file" in fix_prompt


def test_plots_that_keep_failing_leave_a_good_node_with_plots_failed(
    scripted_llm: ScriptedServer, llm_settings: Settings, node_dir: Path, tmp_path: Path
) -> None:
    scripted_llm.script("figures/node_plot", text(FOREIGN_SCRIPT))
    scripted_llm.script("figures/fix_plot", text("I cannot do that."))
    node = node_from_dir(node_dir)
    score = node.metric.score
    out = plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings)
    assert out.status == node.plots_status == "failed"
    assert node.is_good and node.metric.score == score and node.plots == []
    assert "Plotting failed after 2 attempt(s)" in node.plot_critique
    assert "foreign_data" in scripted_llm.requests_for("figures/fix_plot")[0].messages[-1]["content"]
    assert not list(node_dir.glob("plot_*.png"))  # the rejected figure was removed


def test_critic_judging_plots_invalid_marks_them_invalid_only(
    scripted_llm: ScriptedServer, llm_settings: Settings, node_dir: Path, tmp_path: Path
) -> None:
    scripted_llm.script("figures/node_plot", text(GOOD_SCRIPT))
    scripted_llm.script("figures/critic_text", json_reply(INVALID))
    node = node_from_dir(node_dir)
    plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings)
    assert node.plots_status == "invalid" and node.is_good
    assert "NOT valid" in node.plot_critique and "plots loss, claim is accuracy" in node.plot_critique


def test_vision_critic_sends_the_png_as_a_data_url(
    scripted_llm: ScriptedServer, llm_settings: Settings, node_dir: Path, tmp_path: Path
) -> None:
    llm_settings.models.vlm.supports_images = True
    seen: list[RecordedRequest] = []

    def answer(req: RecordedRequest) -> object:
        seen.append(req)
        return json_reply(VALID)

    scripted_llm.script("figures/node_plot", text(GOOD_SCRIPT))
    scripted_llm.script("figures/critic_vision", answer)
    node = node_from_dir(node_dir)
    plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings)
    assert node.plots_status == "ok" and NOT_INSPECTED not in node.plot_critique
    parts = seen[0].messages[-1]["content"]
    images = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
    assert len(images) == 1 and images[0].startswith("data:image/png;base64,")
    sent = base64.b64decode(images[0].split(",", 1)[1])
    assert sent == (node_dir / "plot_learning_curve.png").read_bytes()
    assert any(p.get("type") == "text" and "Judge the attached figure" in p["text"] for p in parts)


def test_node_without_results_or_not_good_gets_none(llm_settings: Settings, node_dir: Path, tmp_path: Path) -> None:
    node = node_from_dir(node_dir, is_buggy=True)
    assert plot_node(node, node_dir, make_llm(llm_settings, tmp_path), local_sandbox(), llm_settings).status == "none"
    assert node.plots_status == "none"


def test_plot_feedback_for_the_coder(node_dir: Path) -> None:
    from agents.figures.node_plots import plot_feedback

    node = node_from_dir(node_dir)
    assert plot_feedback(node) == ""
    node.plots_status, node.plot_critique = "invalid", "Figure NOT valid for its claim."
    assert plot_feedback(node).startswith("The plots of this experiment were judged invalid")
    node.plots_status, node.plot_critique = "failed", "Plotting failed after 2 attempt(s): KeyError"
    assert "KeyError" in plot_feedback(node) and "save_results" in plot_feedback(node)


@pytest.mark.embedded
@pytest.mark.timeout(1800)
def test_embedded_model_node_plot_ends_in_a_defined_state(node_dir: Path, tmp_path: Path) -> None:
    """The real embedded model writes a node's plot script: up to two calls of ~400 tokens in and ~300 out (slow:
    loads the 1.1 GB model; a call took 5.5 min here with three other model servers on 2 cores)."""
    from agents.settings import load_settings

    settings = load_settings(None, ["figures.node_critic=false"], workspace=tmp_path / "ws")
    node = node_from_dir(node_dir, plan="logistic regression by gradient descent with learning rate 0.3")
    out = plot_node(node, node_dir, make_llm(settings, tmp_path), local_sandbox(), settings)
    assert node.plots_status in ("ok", "failed") and node.is_good
    if out.status == "ok":
        assert node.plots and all((node_dir / p).stat().st_size > 1000 for p in node.plots)
        assert not [f for f in out.lint if f.severity == "error"]
    else:
        assert node.plot_critique.startswith("Plotting failed") and not node.plots


def test_the_critique_schema_bounds_what_a_small_model_writes() -> None:
    """The schema sent as response_format is the embedded server's grammar: without length limits the 1.5B model's
    critique ran to the token cap three times in a row (demo, 8 December 2026), and the figure went uncriticised."""
    from agents.figures.critic import FigureCritique
    from agents.llm.structured import response_format_for

    schema = response_format_for(FigureCritique)["json_schema"]["schema"]
    issues = schema["properties"]["issues"]
    assert issues["maxItems"] == 5 and issues["items"]["maxLength"] == 300
    assert schema["properties"]["suggested_fix"]["maxLength"] == 500
