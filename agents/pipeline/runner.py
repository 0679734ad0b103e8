"""Run or resume the pipeline graph of one run directory, recording status and progress events.

``run.json`` in the run directory holds the inputs and the status (running, done, stopped, failed,
awaiting-approval) for ``shoal runs``; ``events.jsonl`` gets one line per stage start and end.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import Command
from pydantic import BaseModel, Field, ValidationError

from agents.errors import BudgetExceeded, ConfigError, UserInputError
from agents.pipeline.graph import StageFns, compile_graph
from agents.pipeline.state import PipelineState
from agents.rundir import RunDir

log = logging.getLogger(__name__)

THREAD: RunnableConfig = {"configurable": {"thread_id": "main"}}
Status = Literal["running", "done", "stopped", "failed", "awaiting-approval", "interrupted"]


class RunInfo(BaseModel):
    """``run.json``: what the run was asked to do and where it stands."""

    topic: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    status: Status = "running"
    stage: str = ""
    message: str = ""
    started_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)


def read_info(run: RunDir) -> RunInfo | None:
    path = run.info_path
    if not path.is_file():
        return None
    try:
        return RunInfo.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, UnicodeDecodeError) as exc:
        first = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(f"{path} is damaged ({first}); restore it from a backup or start a new run") from exc


def write_info(run: RunDir, info: RunInfo) -> None:
    info.updated_at = time.time()
    tmp = run.info_path.with_suffix(".tmp")
    tmp.write_text(info.model_dump_json(indent=1), encoding="utf-8")
    tmp.replace(run.info_path)


def not_a_pipeline_run(run: RunDir) -> str:
    """What to do with a run that `shoal run` did not start (so `shoal resume` has no graph to continue)."""
    if run.has_journal():
        return (
            f"{run.path} was started by `shoal experiments`; continue its search with "
            f"`shoal experiments --resume {run.path}` (add --stages to choose how far)"
        )
    if run.has_ideas():
        return (
            f"{run.path} holds ideas from `shoal ideas`, with nothing to resume; run one with "
            f"`shoal experiments --idea {run.path}/ideas.json#NAME` (names: `shoal ideas --show {run.path}`)"
        )
    return f"{run.path} has no run.json: it was not started by `shoal run`, so there is nothing to resume"


class PipelineOutcome(BaseModel):
    status: Status
    done: list[str]
    pending_question: dict[str, Any] | None = None


def drive(
    run: RunDir,
    stages: StageFns,
    inputs: PipelineState | None,
    *,
    approval_answer: str | None = None,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
) -> PipelineOutcome:
    """Start (``inputs`` given) or resume (``inputs`` None) the graph and run it to the end or to an interrupt.

    BudgetExceeded and KeyboardInterrupt propagate after ``run.json`` records the stop, so the CLI can print the
    resume command; everything finished so far is on disk and in the checkpoint.
    """
    info = read_info(run)
    if info is None:
        if inputs is None:
            raise UserInputError(not_a_pipeline_run(run))
        info = RunInfo(topic=inputs.get("topic", ""), inputs=dict(inputs))
    graph, conn = compile_graph(stages, run.checkpoint_path)
    try:
        snapshot = graph.get_state(THREAD)
        if inputs is not None and snapshot.values:
            raise UserInputError(f"{run.path} was already started; use `shoal resume {run.path}`")
        payload: Any
        waiting = any(t.interrupts for t in snapshot.tasks)
        if approval_answer and not waiting and snapshot.values:
            # not at the approval pause (e.g. `shoal run --idea` named no idea and the choice failed): the answer
            # replaces the requested idea, and the choice step runs again with it
            graph.update_state(THREAD, {"idea_name": approval_answer})
            payload = None
        elif approval_answer is not None:
            payload = Command(resume=approval_answer)
        elif inputs is not None:
            payload = {**inputs, "done": []}
        else:
            payload = None
        info.status = "running"
        write_info(run, info)

        def emit(kind: str, **data: Any) -> None:
            run.event(kind, **data)
            if on_event is not None:
                on_event(kind, data)

        try:
            for update in graph.stream(payload, THREAD, stream_mode="updates"):
                for node, values in update.items():
                    if node == "__interrupt__":
                        continue
                    info.stage = node
                    write_info(run, info)
                    emit("stage_finished", stage=node, keys=sorted((values or {}).keys()))
        except BudgetExceeded as exc:
            info.status, info.message = "stopped", str(exc)
            write_info(run, info)
            emit("run_stopped", reason="budget", message=str(exc))
            raise
        except KeyboardInterrupt:
            info.status, info.message = "interrupted", "stopped by the user"
            write_info(run, info)
            emit("run_stopped", reason="interrupted")
            raise
        except Exception as exc:
            info.status, info.message = "failed", f"{type(exc).__name__}: {exc}"
            write_info(run, info)
            emit("run_failed", error=info.message)
            raise
        snapshot = graph.get_state(THREAD)
        done = list(snapshot.values.get("done", []))
        if snapshot.next:
            question = snapshot.tasks[0].interrupts[0].value if snapshot.tasks and snapshot.tasks[0].interrupts else {}
            info.status, info.message = "awaiting-approval", json.dumps(question, default=str)
            write_info(run, info)
            emit("awaiting_approval", question=question)
            return PipelineOutcome(status="awaiting-approval", done=done, pending_question=question)
        info.status, info.message = "done", ""
        write_info(run, info)
        emit("run_finished")
        return PipelineOutcome(status="done", done=done)
    finally:
        conn.close()
