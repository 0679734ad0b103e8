"""The run directory: the one module that knows where every artefact of a run lives.

``workspace/<YYYYmmdd-HHMMSS>-<slug>/`` holds every artefact of one run. Paths inside it are relative, so a run
directory can be moved or copied to another machine and still be read and resumed. No other module spells a
file name of the run: stages ask ``RunDir`` for paths, and for the typed readers and writers below
(``tests/test_run_contract.py`` fails on a run-file literal anywhere else in ``agents/`` or ``reviewer/``).

Layout::

    config.resolved.toml  run.json  events.jsonl  llm_calls.jsonl  checkpoints.sqlite  pipeline/<markers>
    topic.json  ideas.json  ideas/<name>.md  chosen_idea.json  idea.md  baseline.py
    journal.json  nodes/<id>/...
    figures/*.png|pdf  figures/captions.json
    paper/paper.tex|pdf  paper/report.json  paper/findings.json
    reviews/round-<n>/  review.json  review.md  report.html

The chosen idea is decided once, by the choice step (``choose_idea``): it is validated against ``ideas.json``
and written to ``chosen_idea.json`` (and ``idea.md`` for people). Every later stage reads ``chosen_idea()``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agents import runlock
from agents.errors import UserInputError
from agents.settings import Settings

if TYPE_CHECKING:
    from agents.experiments.journal import Journal
    from agents.ideation.inputs import Topic
    from agents.ideation.schema import Idea

_SLUG = re.compile(r"[^a-z0-9]+")

CONFIG = "config.resolved.toml"


def slugify(text: str, max_len: int = 40) -> str:
    slug = _SLUG.sub("-", text.lower()).strip("-")
    return (slug[:max_len].rstrip("-")) or "run"


class RunDir:
    """Paths of one run, and the typed readers and writers every stage uses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._events_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """A path inside the run (for files not named below; prefer the named accessors)."""
        return self.path / name

    def subdir(self, name: str) -> Path:
        p = self.path / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- bookkeeping ----------------------------------------------------------------------------------------------

    @property
    def ledger_path(self) -> Path:
        return self.path / "llm_calls.jsonl"

    @property
    def events_path(self) -> Path:
        return self.path / "events.jsonl"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "checkpoints.sqlite"

    @property
    def info_path(self) -> Path:
        """``run.json``: the pipeline's inputs and status (``agents.pipeline.runner``)."""
        return self.path / "run.json"

    def marker(self, name: str) -> Path:
        """A pipeline marker file (a finished writing or review round)."""
        return self.subdir("pipeline") / name

    def write_settings(self, settings: Settings) -> None:
        self.config_path.write_text(settings.to_toml(), encoding="utf-8")

    def event(self, kind: str, **data: Any) -> None:
        """Append one progress event to ``events.jsonl``."""
        line = json.dumps({"ts": time.time(), "event": kind, **data}, default=str)
        with self._events_lock, self.events_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    # -- topic and ideas ------------------------------------------------------------------------------------------

    @property
    def topic_path(self) -> Path:
        return self.path / "topic.json"

    def write_topic(self, topic: Topic) -> None:
        self.topic_path.write_text(topic.model_dump_json(indent=1), encoding="utf-8")

    def topic(self) -> Topic:
        from agents.ideation.inputs import Topic

        if not self.topic_path.is_file():
            raise UserInputError(f"{self.path} has no topic; start the run with `shoal run --topic ...`")
        return Topic.model_validate_json(self.topic_path.read_text(encoding="utf-8"))

    @property
    def ideas_path(self) -> Path:
        return self.path / "ideas.json"

    def idea_page(self, name: str) -> Path:
        """``ideas/<name>.md``: one idea, for people."""
        return self.subdir("ideas") / f"{name}.md"

    @property
    def idea_md_path(self) -> Path:
        """``idea.md``: the chosen idea, for people."""
        return self.path / "idea.md"

    @property
    def chosen_idea_path(self) -> Path:
        return self.path / "chosen_idea.json"

    def has_ideas(self) -> bool:
        return self.ideas_path.is_file()

    def ideas(self) -> tuple[list[Idea], str | None]:
        """The run's ideas and ideation's suggested name; a missing or broken file is a ``UserInputError``."""
        from agents.ideation.schema import Idea

        try:
            data = json.loads(self.ideas_path.read_text(encoding="utf-8"))
            ideas = [Idea.model_validate(i) for i in data["ideas"]]
        except FileNotFoundError:
            raise UserInputError(f"{self.path} has no ideas.json; run `shoal ideas --topic ...` first") from None
        except (OSError, ValueError, KeyError, TypeError, ValidationError) as exc:
            raise UserInputError(f"{self.ideas_path} cannot be read as ideas: {exc}") from None
        suggested = data.get("chosen") if isinstance(data.get("chosen"), str) else None
        return ideas, suggested

    def write_ideas(self, payload: dict[str, Any]) -> Path:
        """Write ``ideas.json`` (``{"ideas": [...], "chosen": name, ...}``, see ``agents.ideation.output``)."""
        self.ideas_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return self.ideas_path

    def idea(self, name: str) -> Idea:
        """The idea called ``name``; a name that is not in ``ideas.json`` is a ``UserInputError`` listing them."""
        ideas, _ = self.ideas()
        for idea in ideas:
            if idea.name == name:
                return idea
        names = ", ".join(i.name for i in ideas) or "(none)"
        raise UserInputError(f"no idea named {name!r} in {self.ideas_path}; the ideas are: {names}")

    def choose_idea(self, name: str) -> Idea:
        """Record the chosen idea (the choice step's job). Validated against the ideas; once the experiments have
        started the choice is fixed, and choosing another idea is an error that changes nothing."""
        from agents.ideation.output import idea_markdown

        idea = self.idea(name)
        current = self.chosen_idea_name()
        if current is not None and current != name and self.journal_path.is_file():
            raise UserInputError(f"{self.path} already runs the idea {current!r}; start a new run to try {name!r}")
        tmp = self.chosen_idea_path.with_suffix(".tmp")
        tmp.write_text(idea.model_dump_json(indent=1), encoding="utf-8")
        tmp.replace(self.chosen_idea_path)
        self.idea_md_path.write_text(idea_markdown(idea), encoding="utf-8")
        return idea

    def chosen_idea_name(self) -> str | None:
        if not self.chosen_idea_path.is_file():
            return None
        return self.chosen_idea().name

    def chosen_idea(self) -> Idea:
        """The idea this run is about (written by ``choose_idea``)."""
        from agents.ideation.schema import Idea

        if not self.chosen_idea_path.is_file():
            raise UserInputError(
                f"{self.path} has no chosen idea; choose one with `shoal run ... --idea NAME` or "
                "`shoal experiments --idea RUN/ideas.json#NAME`"
            )
        try:
            return Idea.model_validate_json(self.chosen_idea_path.read_text(encoding="utf-8"))
        except ValidationError as exc:
            raise UserInputError(f"{self.chosen_idea_path} is not a valid idea: {exc}") from None

    # -- experiments ----------------------------------------------------------------------------------------------

    @property
    def baseline_path(self) -> Path:
        """Template mode: the user's starting program (``--code-to-use``)."""
        return self.path / "baseline.py"

    def baseline_code(self) -> str | None:
        return self.baseline_path.read_text(encoding="utf-8") if self.baseline_path.is_file() else None

    @property
    def journal_path(self) -> Path:
        return self.path / "journal.json"

    def has_journal(self) -> bool:
        return self.journal_path.is_file()

    def journal(self) -> Journal:
        """The experiment journal (an empty one when the search has not started)."""
        from agents.experiments.journal import Journal

        return Journal.load(self.journal_path)

    @property
    def nodes_dir(self) -> Path:
        return self.path / "nodes"

    def node_dir(self, node_id: str) -> Path:
        """``nodes/<id>/`` (not created)."""
        return self.nodes_dir / node_id

    def node_rel(self, node_id: str, rel: str = "") -> str:
        """A node file's path relative to the run directory (for links in the report)."""
        return f"nodes/{node_id}/{rel}" if rel else f"nodes/{node_id}"

    # -- figures, paper, review, report ---------------------------------------------------------------------------

    @property
    def figures_dir(self) -> Path:
        return self.path / "figures"

    @property
    def captions_path(self) -> Path:
        return self.figures_dir / "captions.json"

    def figure_rel(self, file: str) -> str:
        return f"figures/{file}"

    @property
    def paper_dir(self) -> Path:
        return self.path / "paper"

    @property
    def paper_figures_dir(self) -> Path:
        """``paper/figures/``: the figures the LaTeX sources include (not created)."""
        return self.paper_dir / "figures"

    @property
    def paper_pdf(self) -> Path:
        return self.paper_dir / "paper.pdf"

    @property
    def paper_pdf_rel(self) -> str:
        return "paper/paper.pdf"

    @property
    def writeup_report_path(self) -> Path:
        """``paper/report.json``: the writing stage's own record (``agents.writeup.WriteupReport``)."""
        return self.paper_dir / "report.json"

    @property
    def writeup_findings_path(self) -> Path:
        return self.paper_dir / "findings.json"

    def write_writeup_findings(self, findings: dict[str, Any]) -> Path:
        """The pre-compile checks' findings (numbers, claims, lint): what was repaired or removed, and why."""
        self.paper_dir.mkdir(parents=True, exist_ok=True)
        self.writeup_findings_path.write_text(json.dumps(findings, indent=1, ensure_ascii=False), encoding="utf-8")
        return self.writeup_findings_path

    def writeup_findings(self) -> dict[str, Any]:
        """The findings of the last writing round (``{}`` before one); what the reviewer is given."""
        data = _read_json(self.writeup_findings_path)
        return data if isinstance(data, dict) else {}

    def review_round_dir(self, rnd: int) -> Path:
        return self.subdir(f"reviews/round-{rnd}")

    @property
    def review_json(self) -> Path:
        """The latest round's review (copied to the top of the run directory)."""
        return self.path / "review.json"

    @property
    def review_md(self) -> Path:
        return self.path / "review.md"

    @property
    def report_html(self) -> Path:
        return self.path / "report.html"

    def read_json(self, path: Path) -> Any:
        """A JSON file of this run, or None when it is missing or unreadable."""
        return _read_json(path)

    @property
    def data_task_path(self) -> Path:
        """The user's data task (data directory, goal, metric, held-out rule); the data is never copied here."""
        return self.path / "data_task.json"

    @property
    def data_card_path(self) -> Path:
        return self.path / "data_card.json"

    @property
    def evolve_dir(self) -> Path:
        """Evolve mode's folder: initial program, evaluator, programs/, programs.jsonl, samples.jsonl."""
        return self.path / "evolve"

    @property
    def is_evolve(self) -> bool:
        return (self.evolve_dir / "initial.py").is_file()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def create_run(settings: Settings, title: str, now: datetime | None = None) -> RunDir:
    """Make a new run directory under the workspace and write the resolved settings into it."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    root = settings.workspace
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create the workspace {root}: {exc}; pass --workspace DIR") from exc
    base = f"{stamp}-{slugify(title)}"
    path = root / base
    n = 1
    while path.exists():
        n += 1
        path = root / f"{base}-{n}"
    path.mkdir(parents=True)
    runlock.hold(path)
    run = RunDir(path)
    run.write_settings(settings)
    return run


def is_run(path: Path) -> bool:
    return (path / CONFIG).is_file()


def open_run(path: Path, *, exclusive: bool = True) -> RunDir:
    """An existing run directory, held for this process (``agents.runlock``) and its node folders scrubbed.
    ``exclusive=False`` (a command that only reads, such as ``report``) opens a run another process holds."""
    if not path.is_dir():
        raise UserInputError(f"run directory {path} does not exist; `shoal runs` lists the runs in the workspace")
    if not is_run(path):
        raise UserInputError(f"{path} is not a Shoal run directory (no {CONFIG})")
    run = RunDir(path)
    try:
        held = runlock.hold(path)
    except OSError as exc:  # a read-only copy of a run, say: it can be read, not worked in
        if exclusive:
            raise UserInputError(f"cannot work in {path}: {exc.strerror or exc}; Shoal writes into its runs") from None
        return run
    if held:
        from agents.sandbox.leftovers import scrub_nodes

        scrub_nodes(run.nodes_dir)
    elif exclusive:
        raise UserInputError(
            f"{path} is in use by another Shoal process (pid {runlock.holder(path)}); wait for it to finish or stop "
            "it, then run this again"
        )
    return run
