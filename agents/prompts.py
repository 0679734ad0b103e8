"""Prompt templates: Jinja files under ``templates/prompts/``, rendered with StrictUndefined.

The prompt *name* is the template path without the ``.md.j2`` suffix (``coder/draft`` is
``templates/prompts/coder/draft.md.j2``); it is sent with every model call and recorded in the ledger.

A template may define ``{% block system %}`` and ``{% block user %}``; then each block becomes one message.
A template without blocks is a single user message. Shared pieces live in ``templates/prompts/_partials/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from agents.errors import ShoalError


def templates_root() -> Path:
    """The ``templates/`` folder: the repository's in a checkout, ``agents/_templates`` in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "templates", here / "_templates"):
        if (candidate / "prompts").is_dir():
            return candidate
    raise ShoalError(f"Shoal's templates folder is missing (looked in {here.parent / 'templates'}); reinstall Shoal")


@lru_cache(maxsize=4)
def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def prompt_environment() -> jinja2.Environment:
    return _environment(templates_root() / "prompts")


def prompt_exists(name: str) -> bool:
    return (templates_root() / "prompts" / f"{name}.md.j2").is_file()


def render_messages(name: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Render prompt ``name`` into chat messages (system and/or user)."""
    env = prompt_environment()
    try:
        template = env.get_template(f"{name}.md.j2")
    except jinja2.TemplateNotFound as exc:
        raise ShoalError(f"prompt template {name!r} not found under {templates_root() / 'prompts'}") from exc
    ctx = template.new_context(dict(variables or {}))
    messages: list[dict[str, Any]] = []
    if "system" in template.blocks or "user" in template.blocks:
        for block in ("system", "user"):
            if block in template.blocks:
                text = "".join(template.blocks[block](ctx)).strip()
                if text:
                    messages.append({"role": block, "content": text})
    else:
        messages.append({"role": "user", "content": template.render(**(variables or {})).strip()})
    return messages


def render_text(name: str, variables: dict[str, Any] | None = None) -> str:
    """Render a template (any folder under templates/prompts) to plain text."""
    template = prompt_environment().get_template(f"{name}.md.j2")
    return template.render(**(variables or {})).strip()
