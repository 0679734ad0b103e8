"""The coder's pieces: answer parsing, SEARCH/REPLACE patches, novelty, the helper module, node execution, and the
coder against the scripted model server (patch fallback, edit-mode switch, duplicate regeneration)."""

from __future__ import annotations

import json
from pathlib import Path

import exp_support as S
import pytest

from agents.experiments import shoal_helper
from agents.experiments.coder import Coder
from agents.experiments.executor import execute
from agents.experiments.journal import Journal, Node
from agents.experiments.novelty import NoveltyFilter, normalize_code
from agents.experiments.patches import (
    Edit,
    PatchError,
    apply_edits,
    extract_code,
    extract_plan,
    parse_edits,
    syntax_error,
)
from agents.experiments.policy import Action
from agents.llm import LLM, Ledger, read_ledger
from agents.settings import Settings
from agents.testing import ScriptedServer, text

# -- parsing --------------------------------------------------------------------------------------------------------


def test_extract_code_prefers_the_longest_python_block() -> None:
    answer = "PLAN: fit it\n```python\nx = 1\n```\nand\n```python\nimport numpy\nprint(2)\n```\n```bash\nls -la -R\n```"
    assert extract_code(answer) == "import numpy\nprint(2)\n"
    assert extract_plan(answer) == "fit it"
    assert extract_code("```\nimport os\n```") == "import os\n"
    assert extract_code("Here you go:\nimport numpy as np\nprint(np.pi)") == "import numpy as np\nprint(np.pi)\n"
    assert extract_code("I cannot help with that.") is None
    assert extract_code("```python\nimport os\nprint(1)") == "import os\nprint(1)\n"  # unterminated fence


def test_patch_exact_whitespace_and_indent_tolerant() -> None:
    code = "def f(x):\n    y = x + 1   \n    return y\n\nprint(f(1))\n"
    assert apply_edits(code, [Edit("print(f(1))", "print(f(2))")]).endswith("print(f(2))\n")
    # trailing-whitespace tolerant
    out = apply_edits(code, [Edit("    y = x + 1\n    return y", "    y = x + 2\n    return y")])
    assert "y = x + 2" in out and "x + 1" not in out
    # indentation-insensitive: the replacement is re-indented to the program's indentation
    out = apply_edits(code, [Edit("y = x + 1\nreturn y", "y = x * 3\nreturn y")])
    assert "    y = x * 3\n    return y\n" in out
    compile(out, "x", "exec")


def test_patch_failures_are_reported() -> None:
    code = "a = 1\nb = 2\na = 1\n"
    with pytest.raises(PatchError, match="not found"):
        apply_edits(code, [Edit("c = 3", "c = 4")])
    with pytest.raises(PatchError, match="2 times"):
        apply_edits(code, [Edit("a = 1", "a = 5")])
    with pytest.raises(PatchError, match="placeholder"):
        apply_edits(code, [Edit("...", "a = 5")])
    with pytest.raises(PatchError, match="no SEARCH/REPLACE"):
        apply_edits(code, [])


def test_parse_several_edits_even_inside_fences() -> None:
    answer = (
        "PLAN: two edits\n```python\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n```\n"
        "<<<<<<< SEARCH\nb = 2\n=======\nb = 3\n>>>>>>> REPLACE\n"
    )
    edits = parse_edits(answer)
    assert edits == [Edit("a = 1\n", "a = 2\n"), Edit("b = 2\n", "b = 3\n")]
    assert apply_edits("a = 1\nb = 2\n", edits) == "a = 2\nb = 3\n"


def test_syntax_error() -> None:
    assert syntax_error("x = 1\n") is None
    assert syntax_error("def f(:\n").startswith("SyntaxError")


# -- novelty --------------------------------------------------------------------------------------------------------


def test_novelty_with_the_real_embedder() -> None:
    f = NoveltyFilter(0.99)
    base = S.program()
    f.add("a", base)
    other = (
        "import numpy as np\nfrom shoal_helper import log_metric\nrng = np.random.default_rng(0)\n"
        "X = rng.normal(size=(100, 3)); y = X.sum(1)\nw = np.linalg.lstsq(X, y, rcond=None)[0]\n"
        "log_metric('mse', float(np.mean((X @ w - y) ** 2)), direction='minimize')\n"
    )
    dup, _, sim = f.is_duplicate(other)
    assert not dup and sim < 0.99
    dup, who, sim = f.is_duplicate("# a comment\n" + base.replace("lr = 0.01", "lr   =  0.01"))
    assert dup and who == "a" and sim == 1.0
    # an edit is a duplicate for drafts (embedding) but not for improvements (threshold 1.0: copies only)
    edited = S.program(steps=60)
    assert f.is_duplicate(edited)[0]
    assert not f.is_duplicate(edited, 1.0)[0]
    assert normalize_code("x  =  1  # c\n\n# only comment\n  y = 2") == "x = 1 # c\n  y = 2"


# -- helper and executor (real sandbox) --------------------------------------------------------------------------


def _node(code: str, **kw: object) -> Node:
    return Node(stage=1, kind="draft", code=code, **kw)


def test_helper_and_execute_a_good_program(tmp_path: Path) -> None:
    code = S.program() + (
        "import matplotlib.pyplot as plt\nplt.plot(losses)\nplt.savefig('curve.png')\n"
        "log_metric('train_mse', 0.5, dataset='other', direction='minimize', std_err=0.1)\n"
        "log_metric('steps', steps)\n"
    )
    node = _node(code, seed=4)
    execute(S.sandbox(), tmp_path, node, 60)
    d = tmp_path / "nodes" / node.id
    assert not node.is_buggy, node.exec
    assert (d / "shoal_helper.py").read_text() == Path(shoal_helper.__file__).read_text()
    data = json.loads((d / "metrics.json").read_text())
    assert [m["name"] for m in data["metrics"]] == ["train_mse", "steps"]
    assert data["metrics"][0]["values"].keys() == {"synthetic", "other"}
    assert data["metrics"][0]["std_err"] == {"other": 0.1}
    assert node.metric.primary.name == "train_mse" and node.metric.primary.direction == "minimize"
    curve = json.loads((d / "results" / "loss_curve.json").read_text())
    assert len(curve["train_mse"]) == 20
    assert node.plots == ["curve.png"] and node.plots_status == "ok"
    assert "metric train_mse[synthetic]" in (d / "stdout.txt").read_text()
    seeded = _node(S.program())
    execute(S.sandbox(), tmp_path, seeded, 60)
    assert seeded.metric.score != node.metric.score  # seed 0 vs seed 4: different data


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("import numpy\nraise ValueError('bad shape')\n", "ValueError: bad shape"),
        ("print('no metrics here')\n", "no metrics.json"),
        ("def f(:\n", "SyntaxError"),
        ("import time\ntime.sleep(30)\n", "timed out"),
        (
            "from shoal_helper import log_metric\nlog_metric('m', float('nan'))\n",
            "not a finite number",
        ),
        ("", "held no program"),
    ],
)
def test_execute_buggy_programs(tmp_path: Path, code: str, reason: str) -> None:
    node = _node(code)
    execute(S.sandbox(timeout_s=3), tmp_path, node, 3)
    assert node.is_buggy and reason in node.bug_reason, node.bug_reason
    assert node.metric.score is None


# -- coder with the scripted model -------------------------------------------------------------------------------


def _coder(settings: Settings, tmp_path: Path, journal: Journal, novelty: NoveltyFilter | None = None) -> Coder:
    return Coder(LLM(settings, Ledger(tmp_path / "llm_calls.jsonl")), settings, journal, novelty)


def _journal_with_parent() -> tuple[Journal, Node]:
    j = Journal(idea=S.IDEA)
    parent = j.add(_node(S.program(), status="done"))
    return j, parent


def test_patch_applies_and_is_counted(scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path) -> None:
    j, parent = _journal_with_parent()
    scripted_llm.script("coder/patch", text(S.patch("steps = 20", "steps = 50", "train longer")))
    prop = _coder(llm_settings, tmp_path, j).write(Action("improve", 3, parent=parent.id), "scripted-model", "n1")
    assert prop.edit == "patch" and prop.calls == 1 and prop.plan == "train longer"
    assert "steps = 50" in prop.code and prop.code.replace("steps = 50", "steps = 20") == parent.code
    st = j.coder_stats["scripted-model"]
    assert (st.patch_attempts, st.patches_applied, st.programs, st.valid_programs) == (1, 1, 1, 1)
    prompt = S.last_user(scripted_llm.requests_for("coder/patch")[0])
    assert "Momentum for least squares" in prompt and "steps = 20" in prompt and "improve the program" in prompt
    assert [r.context["node"] for r in read_ledger(tmp_path / "llm_calls.jsonl")] == ["n1"]


def test_failed_patch_falls_back_to_a_rewrite_and_auto_mode_switches(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    j, parent = _journal_with_parent()
    coder = _coder(llm_settings, tmp_path, j)
    for _ in range(3):
        scripted_llm.script("coder/patch", text(S.patch("...", "lr = 0.5")))
        scripted_llm.script("coder/edit", text(S.fenced(S.program(lr=0.02), "lower lr")))
    for i in range(3):
        prop = coder.write(Action("tune", 2, parent=parent.id, tag="lr=0.02"), "scripted-model", f"n{i}")
        assert prop.edit == "patch_fallback" and prop.calls == 2 and "lr = 0.02" in prop.code
    st = j.coder_stats["scripted-model"]
    assert (st.patch_attempts, st.patches_applied) == (3, 0)
    assert not coder.use_patch("scripted-model", "tune")  # 0 of 3 applied: rewrites from now on
    scripted_llm.script("coder/edit", text(S.fenced(S.program(lr=0.03))))
    prop = coder.write(Action("tune", 2, parent=parent.id, tag="lr=0.03"), "scripted-model", "n9")
    assert prop.edit == "full" and prop.calls == 1
    assert "to this setting: lr=0.03" in S.last_user(scripted_llm.requests_for("coder/edit")[-1])


def test_duplicate_draft_is_regenerated_and_empty_answers_retried(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    j, parent = _journal_with_parent()
    novelty = NoveltyFilter(0.99)
    novelty.add(parent.id, parent.code)
    coder = _coder(llm_settings, tmp_path, j, novelty)
    different = (
        "import numpy as np\nfrom shoal_helper import log_metric\nlog_metric('m', float(np.linalg.norm(np.ones(3))))\n"
    )
    scripted_llm.script("coder/draft", text(S.fenced(parent.code)), text(S.fenced(different)))
    prop = coder.write(Action("draft", 1), "scripted-model", "d1")
    assert prop.code == different and prop.calls == 2 and prop.duplicate_of == parent.id
    assert "repeated an earlier one" in S.last_user(scripted_llm.requests_for("coder/draft")[1])
    assert j.coder_stats["scripted-model"].duplicates_rejected == 1
    scripted_llm.script("coder/draft", text("Sorry, I can't."), text("Still no code."))
    prop = coder.write(Action("draft", 1), "scripted-model", "d2")  # bounded: 1 + max_regenerations calls
    assert prop.problem == "the answer held no program" and prop.calls == 2 and prop.code == ""


def test_coder_salvages_answers_in_the_other_format(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    j, parent = _journal_with_parent()
    coder = _coder(llm_settings, tmp_path, j)
    # asked for edits, answered with the whole program: used as it is, no second call
    scripted_llm.script("coder/patch", text(S.fenced(S.program(steps=30), "longer")))
    prop = coder.write(Action("improve", 3, parent=parent.id), "scripted-model", "a")
    assert (prop.edit, prop.calls) == ("full", 1) and "steps = 30" in prop.code
    # a failed patch, then edits where a program was asked for: applied to the parent
    scripted_llm.script("coder/patch", text(S.patch("no such line", "x = 1")))
    scripted_llm.script("coder/edit", text("```python\n" + S.patch("steps = 20", "steps = 25") + "```"))
    prop = coder.write(Action("improve", 3, parent=parent.id), "scripted-model", "b")
    assert (prop.edit, prop.calls) == ("patch", 2) and "steps = 25" in prop.code
    # nothing usable twice: the regeneration asks for a whole program, not for edits again
    scripted_llm.script("coder/patch", text("PLAN: nothing"))
    scripted_llm.script("coder/edit", text("I am not sure."), text(S.fenced(S.program(steps=35))))
    prop = coder.write(Action("improve", 3, parent=parent.id), "scripted-model", "c")
    assert prop.calls == 3 and "steps = 35" in prop.code and not prop.problem
    assert extract_code("```\n" + S.patch("a", "b") + "```") is None


def test_a_draft_that_forgot_its_imports_runs(
    scripted_llm: ScriptedServer, llm_settings: Settings, tmp_path: Path
) -> None:
    """The small model's slip (np, log_metric used, never imported) is fixed before the run, visibly in the code."""
    forgot = "\n".join(line for line in S.program().splitlines() if not line.startswith(("import numpy", "from shoal")))
    assert "import numpy" not in forgot and "from shoal_helper" not in forgot
    scripted_llm.script("coder/draft", text(S.fenced(forgot + "\n", "plain gradient descent")))
    prop = _coder(llm_settings, tmp_path, Journal(idea=S.IDEA)).write(Action("draft", 1), "scripted-model", "n1")
    assert "import numpy as np  # added by Shoal" in prop.code and "save_results  # added by Shoal" in prop.code
    node = _node(prop.code)
    execute(S.sandbox(), tmp_path, node, 60)
    assert not node.is_buggy, node.exec
    assert node.metric.primary.name == "train_mse"
