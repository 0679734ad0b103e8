"""Text from generated programs and models on the user's terminal: Rich markup is shown as written (an unmatched
closing tag such as ``[/data]`` in a node's last stderr line raised MarkupError in the live view) and escape
sequences lose their ESC."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agents.cli.experiments_cmd import _Progress
from agents.llm.ledger import Ledger
from agents.pipeline.progress import Progress
from agents.terminal import clean, plain

HOSTILE = "FileNotFoundError: [/data/train.csv] missing \x1b]0;owned\x07\x1b[2J[bold]x"


def _render(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=300, color_system=None).print(renderable)
    return out.getvalue()


def test_plain_keeps_markup_as_text_and_drops_control_characters() -> None:
    text = _render(plain(HOSTILE))
    assert "[/data/train.csv] missing" in text and "[bold]x" in text
    assert "\x1b]" not in text and "\x07" not in text and "\x1b[2J" not in text
    assert clean("a\tb\nc\x1b[31m") == "a\tb\nc[31m"


def test_live_views_render_a_hostile_node_line(tmp_path: Path) -> None:
    view = _Progress()
    view("node_done", {"id": "n1", "node_kind": "draft", "stage": 1, "is_buggy": True, "reason": HOSTILE})
    assert "[/data/train.csv]" in _render(view.render())
    quiet_out = io.StringIO()
    progress = Progress(Console(file=quiet_out, width=300), Ledger(tmp_path / "ledger.jsonl"), quiet=True)
    progress("node_start", node_kind="draft", id=HOSTILE)
    assert "[/data/train.csv]" in _render(progress.render())  # the running node's label
    progress("node_done", node_kind="draft", id=HOSTILE, is_buggy=True, reason=HOSTILE)
    assert "[/data/train.csv]" in quiet_out.getvalue() and "\x1b]0" not in quiet_out.getvalue()
