"""Run (or resume) the scripted pipeline in a child process, so tests can SIGKILL it mid-stage.

python tests/pipeline_driver.py RUN_DIR BASE_URL WORKSPACE CACHE (start|resume)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_support import FakeServer, pipeline_settings

from agents.ideation.inputs import topic_from_text
from agents.llm import LLM, Ledger
from agents.pipeline.runner import drive
from agents.pipeline.stages import StageContext, make_stage_fns, save_topic
from agents.rundir import RunDir, open_run

INPUTS = {"topic": "momentum", "num_ideas": 1, "idea_name": None, "exp_stages": [1, 4], "approve": [],
          "max_revisions": 1, "revision_round": 0}  # fmt: skip


def main() -> int:
    run_path, base_url, workspace, cache, mode = sys.argv[1:6]
    settings = pipeline_settings(FakeServer(base_url), workspace, cache)
    if mode == "start":
        path = Path(run_path)
        path.mkdir(parents=True)
        run = RunDir(path)
        run.write_settings(settings)
        save_topic(run, topic_from_text("Does momentum speed up gradient descent on least squares?"))
    else:
        run = open_run(Path(run_path))
    llm = LLM(settings, Ledger(run.ledger_path))
    out = drive(run, make_stage_fns(StageContext(run=run, settings=settings, llm=llm)),
                dict(INPUTS) if mode == "start" else None)  # type: ignore[arg-type]  # fmt: skip
    print(out.status)
    return 0 if out.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
