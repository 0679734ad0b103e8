"""User data end to end: ``shoal experiments --data DIR --goal ...`` with the scripted model and the real
sandbox (the data mounted read-only, held-out rows scored by Shoal), the prompts the coder sees, bad inputs
stopped before any model call, and the data bench."""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import data_support as D
import exp_support as S
import pytest
import typer
from typer.testing import CliRunner

from agents.cli.experiments_cmd import experiments
from agents.experiments.journal import Journal
from agents.settings import ROLES
from agents.testing import RecordedRequest, Reply, ScriptedServer, text

app = typer.Typer()
app.command("experiments")(experiments)
app.command("noop")(lambda: None)


@pytest.fixture
def cli_env(scripted_llm: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for role in ROLES:
        monkeypatch.setenv(f"SHOAL_MODELS__{role.upper()}__BASE_URL", scripted_llm.base_url)
        monkeypatch.setenv(f"SHOAL_MODELS__{role.upper()}__MODEL", "scripted-model")
    monkeypatch.setenv("SHOAL_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.setenv("SHOAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SHOAL_SANDBOX__BACKEND", "local")
    monkeypatch.setenv("SHOAL_SEARCH__NUM_DRAFTS", "1")
    monkeypatch.setenv("SHOAL_SEARCH__NUM_SEEDS", "1")
    monkeypatch.setenv("SHOAL_SEARCH__DEBUG_PROB", "1.0")
    monkeypatch.setenv("SHOAL_SEARCH__STAGE_ITERS", "[3, 1, 1, 1]")
    monkeypatch.delenv("SHOAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    D.write_dataset("diabetes", tmp_path / "diabetes")
    return tmp_path


def script_node_plots(scripted_llm: ScriptedServer) -> None:
    """`shoal experiments` makes per-node plots like `shoal run` (one stage entry for both)."""
    from pipeline_support import CRITIQUE, NODE_PLOT

    scripted_llm.always("figures/node_plot", S.text(NODE_PLOT))
    scripted_llm.always("figures/fix_plot", S.text(NODE_PLOT))
    scripted_llm.always("figures/critic_text", S.json_reply(CRITIQUE))


ARGS = ["experiments", "--data", "diabetes", "--goal", "predict disease progression", "--metric", "rmse",
        "--target", "target", "--holdout", "0.2", "--stages", "1"]  # fmt: skip


def test_search_on_user_data_is_scored_by_shoal(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    coder = D.DataCoder("regression", fake=0.0)  # the program claims a perfect validation RMSE of 0
    coder.install(scripted_llm)
    scripted_llm.always("feedback/review", S.review_ok)
    script_node_plots(scripted_llm)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    (run,) = (cli_env / "ws").iterdir()
    j = Journal.load(run / "journal.json")
    assert [n.kind for n in j.nodes] == ["draft", "debug", "seed"]
    draft, fixed, _ = j.nodes
    assert draft.is_buggy and "train_labels" in draft.bug_reason
    best = j.best_node()
    assert best is not None and best.id == fixed.id
    primary = best.metric.primary
    assert primary is not None and primary.name == "rmse" and primary.direction == "minimize"
    assert 40 < primary.values["held-out"] < 80  # Shoal's score, not the program's claimed 0.0
    assert best.metric.metrics[1].name == "val_rmse" and best.metric.metrics[1].values["default"] == 0.0
    # the data is never copied into the run directory; the task and the card are
    assert not list(run.rglob("diabetes.csv")) and not list(run.rglob("labels.csv"))
    assert json.loads((run / "data_task.json").read_text())["metric"] == "rmse"
    assert json.loads((run / "data_card.json").read_text())["files"][0]["rows"] == 442
    assert json.loads((run / "ideas.json").read_text())["ideas"][0]["name"] == "predict_disease_progression"
    prompt = coder.prompts[0]
    assert "diabetes.csv (" in prompt and "/data/diabetes.csv (the rows not held out)" in prompt
    assert "save_predictions" in prompt and "numpy only" not in prompt and "Make small synthetic" not in prompt
    assert "sklearn" in prompt and "under 60 lines" not in prompt
    print(prompt)


def test_the_review_cannot_overturn_a_held_out_score(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    """The embedded model's review called a correct program "broken"; with held-out rows the score is Shoal's own,
    so the review's doubt stays in the critique and the node stays good."""
    D.DataCoder("regression", fake=0.0).install(scripted_llm)
    doubt = {"is_buggy": True, "bug_reason": "constant output", "summary": "broken?", "critique": "check the split"}
    scripted_llm.always("feedback/review", lambda req: S.json_reply(doubt))
    script_node_plots(scripted_llm)
    result = CliRunner().invoke(app, ARGS)
    assert result.exit_code == 0, result.output
    (run,) = (cli_env / "ws").iterdir()
    j = Journal.load(run / "journal.json")
    best = j.best_node()
    assert best is not None and not best.is_buggy and best.critique == "check the split"
    assert all(not n.bug_reason.startswith("review:") for n in j.nodes)


def test_a_spreadsheet_export_end_to_end(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    """A ';'-separated cp1252 table with decimal commas: the card tells the coder how to read it, a program that
    reads it that way runs in the sandbox on both parts, and Shoal scores it on the decimal-comma labels."""
    rows = list(csv.reader((cli_env / "diabetes" / "diabetes.csv").open()))
    export = cli_env / "export"
    export.mkdir()
    lines = [";".join(rows[0]).replace("target", "progrès")]
    lines += [";".join(v.replace(".", ",") for v in row) for row in rows[1:]]
    (export / "diabetes.csv").write_bytes("\r\n".join(lines).encode("cp1252"))
    seen: list[str] = []

    def draft(req: RecordedRequest) -> Reply:
        prompt = S.last_user(req)
        seen.append(prompt)
        m = re.search(r"read it with pandas\.read_csv\(path, (.*)\)", prompt)
        args = m.group(1) if m else ""
        code = (
            "import os\nimport pandas as pd\nfrom sklearn.linear_model import Ridge\n"
            "from shoal_helper import data_dir, test_file, save_predictions\n"
            f"train = pd.read_csv(os.path.join(data_dir(), 'diabetes.csv'), {args})\n"
            "X, y = train.drop(columns=['progrès']), train['progrès']\n"
            f"X_test = pd.read_csv(test_file(), {args})\n"
            "save_predictions(Ridge(alpha=0.01).fit(X, y).predict(X_test))\n"
        )
        return text(S.fenced(code, "ridge"))

    scripted_llm.always("coder/draft", draft)
    scripted_llm.always("feedback/review", S.review_ok)
    script_node_plots(scripted_llm)
    args = ["experiments", "--data", "export", "--goal", "predict progression", "--metric", "rmse",
            "--target", "progrès", "--holdout", "0.2", "--stages", "1"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "sep=';', encoding='cp1252', decimal=','" in seen[0]
    (run,) = (cli_env / "ws").iterdir()
    first = Journal.load(run / "journal.json").nodes[0]
    assert not first.is_buggy, first.bug_reason
    assert first.metric.primary is not None and 40 < first.metric.primary.values["held-out"] < 80


def test_a_program_cannot_read_the_held_out_labels(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    """A program that goes looking for the labels finds neither them nor the user's full table (its own name holds
    the rows not held out), and cannot write."""
    snoop = (
        "import os, glob\nfrom shoal_helper import data_dir, test_file, save_predictions, log_metric\n"
        "seen = sorted(glob.glob('/data/**', recursive=True) + glob.glob('/heldout/**', recursive=True))\n"
        "print('SEEN', seen)\n"
        "print('ROWS', sum(1 for _ in open('/data/diabetes.csv')) - 1)\n"
        "try:\n    open('/data/x.txt', 'w').write('x')\n    print('WROTE')\n"
        "except OSError:\n    print('READONLY')\n"
        "rows = sum(1 for _ in open(test_file())) - 1\nsave_predictions([150.0] * rows)\n"
    )

    def draft(req: RecordedRequest) -> Reply:
        return text(S.fenced(snoop, "look around"))

    scripted_llm.always("coder/draft", draft)
    scripted_llm.always("feedback/review", S.review_ok)
    script_node_plots(scripted_llm)
    result = CliRunner().invoke(app, [*ARGS[:-2], "--stages", "1"])
    assert result.exit_code == 0, result.output
    (run,) = (cli_env / "ws").iterdir()
    out = (run / "nodes" / Journal.load(run / "journal.json").nodes[0].id / "stdout.txt").read_text()
    assert "/data/diabetes.csv" in out and "/heldout/test.csv" in out and "READONLY" in out
    assert "labels" not in out and "train.csv" not in out
    rows = int(out.split("ROWS ")[1].split()[0])
    assert 300 < rows < 442  # the training part under the table's own name, not the whole table


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "missing_dir"], "does not exist"),
        (["--data", "empty"], "holds no files"),
        (["--data", "diabetes", "--metric", "wobble", "--target", "target", "--holdout", "0.2"], "unknown metric"),
        (["--data", "diabetes", "--metric", "rmse", "--target", "price", "--holdout", "0.2"], "--target 'price'"),
        (["--data", "diabetes", "--metric", "accuracy", "--target", "target", "--holdout", "0.2"], "scores classes"),
        (["--data", "broken"], "cannot read"),
    ],
)
def test_bad_inputs_stop_before_any_model_call(
    cli_env: Path, scripted_llm: ScriptedServer, extra: list[str], message: str
) -> None:
    (cli_env / "empty").mkdir()
    (cli_env / "broken").mkdir()
    (cli_env / "broken" / "x.npy").write_bytes(b"garbage")
    result = CliRunner().invoke(app, ["experiments", "--goal", "g", *extra])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert scripted_llm.requests == [] and not (cli_env / "ws").exists()


def test_bench_runs_with_the_scripted_coder(capsys: pytest.CaptureFixture[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_data

    result = bench_data.main(["--scripted", "--dataset", "diabetes", "--stages", "1-2"])
    assert result["search_status"] == "complete" and result["nodes_written"] >= 3
    assert 0 < result["valid_program_rate"] < 1  # the scripted coder's first draft is buggy
    assert result["best_held_out"] is not None and 40 < result["baseline_held_out"] < 80
    out = capsys.readouterr().out
    assert "valid-program rate:" in out and "plain baseline rmse:" in out


@pytest.mark.slow
def test_whole_pipeline_on_user_data(scripted_llm: ScriptedServer, tmp_path: Path) -> None:
    """Slow (~1-2 min): topic + data -> ideas -> 4 stages scored on held-out rows -> figures -> paper -> review."""
    from pipeline_support import pipeline_settings, script_pipeline

    from agents.data.session import check_data, save_data
    from agents.data.task import make_task
    from agents.ideation.inputs import topic_from_text
    from agents.llm import LLM, Ledger
    from agents.pipeline.runner import drive
    from agents.pipeline.stages import StageContext, make_stage_fns, save_topic
    from agents.rundir import create_run

    script_pipeline(scripted_llm)
    D.DataCoder("regression").install(scripted_llm)
    settings = pipeline_settings(scripted_llm, str(tmp_path / "ws"), str(tmp_path / "cache"))
    D.write_dataset("diabetes", tmp_path / "diabetes")
    task = make_task(data=tmp_path / "diabetes", goal="predict disease progression", metric="rmse",
                     target="target", holdout=0.2)  # fmt: skip
    session = check_data(task, settings)
    assert session is not None
    topic = topic_from_text("Simple models for diabetes progression")
    topic.data = session.topic_text()
    run = create_run(settings, topic.title)
    save_topic(run, topic)
    save_data(run, session)
    llm = LLM(settings, Ledger(run.ledger_path))
    inputs = {"topic": topic.title, "num_ideas": 1, "idea_name": None, "exp_stages": [1, 4], "approve": [],
              "max_revisions": 0, "revision_round": 0}  # fmt: skip
    outcome = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)), inputs)  # type: ignore[arg-type]
    assert outcome.status == "done", outcome
    assert "diabetes.csv (" in scripted_llm.requests_for("ideation/agent")[0].messages[-1]["content"]
    journal = Journal.load(run.file("journal.json"))
    best = journal.best_node()
    assert best is not None and best.metric.primary is not None
    assert best.metric.primary.name == "rmse" and "held-out" in best.metric.primary.values
    tex = "\n".join(p.read_text() for p in run.path.glob("paper/*.tex"))
    table = tex[tex.index(r"\label{tab:results}") :].split(r"\end{table}")[0]
    # the results table leads with Shoal's held-out metric (the programs' own val_rmse comes after)
    assert r"Method & rmse (held-out) $\downarrow$ & val\_rmse (default)" in table
    assert (
        "Goal: predict disease progression" in scripted_llm.requests_for("writeup/results")[0].messages[-1]["content"]
    )


def test_template_directory_on_user_data(cli_env: Path, scripted_llm: ScriptedServer) -> None:
    """The user's own two-file project is the first node; it reads /data and is scored on the held-out rows."""
    project = cli_env / "project"
    project.mkdir()
    (project / "main.py").write_text(
        "import csv, os\nfrom model import mean_of\nfrom shoal_helper import data_dir, test_file, save_predictions\n"
        "rows = list(csv.DictReader(open(os.path.join(data_dir(), 'diabetes.csv'))))\n"
        "guess = mean_of([float(r['target']) for r in rows])\n"
        "n = sum(1 for _ in open(test_file())) - 1\nsave_predictions([guess] * n)\n"
    )
    (project / "model.py").write_text("def mean_of(values):\n    return sum(values) / len(values)\n")
    scripted_llm.always("feedback/review", S.review_ok)
    script_node_plots(scripted_llm)
    result = CliRunner().invoke(app, [*ARGS, "--code-to-use", str(project)])
    assert result.exit_code == 0, result.output
    (run,) = (cli_env / "ws").iterdir()
    first = Journal.load(run / "journal.json").nodes[0]
    assert first.model == "user" and not first.is_buggy, first.bug_reason
    assert first.metric.primary is not None and 60 < first.metric.primary.values["held-out"] < 100  # a mean guess
    assert (run / "nodes" / first.id / "model.py").is_file()
