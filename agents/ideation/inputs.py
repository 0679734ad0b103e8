"""What the user gives ideation: a topic (a sentence or a workshop-style Markdown file) and optional seed ideas.

Topic files follow the AI-Scientist workshop layout (``# Title: ...``, ``## Keywords``, ``## TL;DR``,
``## Abstract``); any other Markdown is taken whole as the abstract, its first heading (or line) as the title.
Seed ideas are a JSON list, or ``{"ideas": [...]}``, of objects with at least a title; keys are matched without
regard to case, so AI-Scientist's ``seed_ideas.json`` (``Name``, ``Title``, ``Experiment``) is read as is.
Every problem is one ``UserInputError`` that names the file and the fix.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.errors import UserInputError
from agents.textfile import read_user_text

MAX_TOPIC_CHARS = 4000  # the embedded model loses track in long prompts


class Topic(BaseModel):
    title: str
    keywords: list[str] = Field(default_factory=list)
    tldr: str = ""
    abstract: str = ""
    data: str = Field(default="", description="the user's goal and data card (``--data``), bounded")

    def text(self) -> str:
        """The topic as one compact block for prompts and embeddings."""
        parts = [self.title]
        if self.keywords:
            parts.append("Keywords: " + ", ".join(self.keywords))
        if self.tldr:
            parts.append("TL;DR: " + self.tldr)
        if self.abstract and self.abstract != self.title:
            parts.append(self.abstract)
        text = "\n".join(parts)[: MAX_TOPIC_CHARS - len(self.data) - 1 if self.data else MAX_TOPIC_CHARS]
        return text + "\n" + self.data if self.data else text


class SeedIdea(BaseModel):
    name: str
    title: str
    summary: str = ""


def topic_from_text(text: str) -> Topic:
    text = " ".join(text.split())
    if not text:
        raise UserInputError('the topic is empty; pass --topic "a sentence" or --topic-file topic.md')
    title = text if len(text) <= 120 else text[:117].rsplit(" ", 1)[0] + "..."
    return Topic(title=title, abstract=text)


def _sections(markdown: str) -> tuple[str, dict[str, str]]:
    title = ""
    sections: dict[str, list[str]] = {}
    current = "_body"
    for line in markdown.splitlines():
        m = re.match(r"^\s{0,3}#{1,6}\s*(.*?)\s*#*\s*$", line)
        if m:
            heading = m.group(1)
            low = heading.lower()
            if low.startswith("title:"):
                title = heading.split(":", 1)[1].strip()
                current = "_body"
            elif not title and line.lstrip().startswith("# "):
                title = heading
                current = "_body"
            else:
                current = re.sub(r"[^a-z]", "", low) or "_body"
            continue
        sections.setdefault(current, []).append(line)
    return title, {k: "\n".join(v).strip() for k, v in sections.items()}


def topic_from_markdown(markdown: str, source: str = "topic file") -> Topic:
    markdown = re.sub(r"\A\ufeff?---[ \t]*\n.*?\n---[ \t]*(?:\n|\Z)", "", markdown, count=1, flags=re.S)  # data keys
    title, sections = _sections(markdown)
    keywords_raw = sections.get("keywords", "")
    keywords = [k.strip(" -*\t") for k in re.split(r"[,\n;]", keywords_raw) if k.strip(" -*\t")]
    tldr = " ".join(sections.get("tldr", "").split())
    abstract = " ".join(sections.get("abstract", "").split())
    if not abstract:
        abstract = " ".join(" ".join(v for k, v in sections.items() if k not in {"keywords", "tldr"}).split())
    if not title:
        first = next((ln.strip() for ln in markdown.splitlines() if ln.strip()), "")
        title = first[:120]
    if not (title or abstract):
        raise UserInputError(f"{source} is empty; write a title and an abstract (see docs/ideation.md)")
    return Topic(title=title or abstract[:120], keywords=keywords, tldr=tldr, abstract=abstract)


def load_topic(topic: str | None, topic_file: Path | None) -> Topic:
    """The topic from ``--topic`` or ``--topic-file`` (exactly one)."""
    if topic is not None and topic_file is not None:
        raise UserInputError("give either --topic or --topic-file, not both")
    if topic_file is not None:
        text = read_user_text(topic_file, "topic file")
        if not text.strip():
            raise UserInputError(f"topic file {topic_file} is empty; write a title and an abstract")
        return topic_from_markdown(text, f"topic file {topic_file}")
    if topic is None:
        raise UserInputError('no topic: pass --topic "a sentence" or --topic-file topic.md')
    return topic_from_text(topic)


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower().replace(" ", "_"): v for k, v in obj.items()}


def load_seed_ideas(path: Path) -> list[SeedIdea]:
    """Seed ideas from a JSON file; a malformed file is one clear ``UserInputError``."""
    try:
        data = json.loads(read_user_text(path, "seed ideas file"))
    except json.JSONDecodeError as exc:
        raise UserInputError(
            f"seed ideas file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    items = data.get("ideas") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise UserInputError(f'seed ideas file {path}: expected a JSON list of ideas or {{"ideas": [...]}}')
    seeds: list[SeedIdea] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise UserInputError(f"seed ideas file {path}: item {i} is not a JSON object")
        obj = _lower_keys(item)
        title = str(obj.get("title") or "").strip()
        if not title:
            raise UserInputError(f'seed ideas file {path}: item {i} has no "title"')
        summary = next((str(obj[k]) for k in ("hypothesis", "abstract", "experiment", "description") if obj.get(k)), "")
        name = re.sub(r"[^a-z0-9_]+", "_", str(obj.get("name") or title).lower()).strip("_")[:60] or f"seed_{i}"
        seeds.append(SeedIdea(name=name, title=title, summary=" ".join(summary.split())[:600]))
    return seeds
