"""A live progress view for ``shoal run``: stage, nodes, best metric, model calls, tokens, spend, elapsed."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from agents.llm.ledger import Ledger
from agents.terminal import plain


class Progress:
    """Fed by stage events; renders a small table (or plain log lines in quiet mode)."""

    def __init__(self, console: Console, ledger: Ledger, quiet: bool = False) -> None:
        self.console = console
        self.ledger = ledger
        self.quiet = quiet
        self.start = time.monotonic()
        self.stage = "starting"
        self.nodes_done = 0
        self.nodes_buggy = 0
        self.current: list[str] = []
        self.best = ""
        self.last = ""
        self._live: Live | None = None

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._live = Live(self.render(), console=self.console, refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.update(self.render())
            self._live.__exit__(None, None, None)

    def __call__(self, kind: str, **data: Any) -> None:
        if kind == "stage_started":
            self.stage = str(data.get("stage", self.stage))
        elif kind == "stage_finished":
            self.stage = f"{data.get('stage')} done"
        elif kind == "node_start":
            self.current.append(f"{data.get('node_kind')} {data.get('id')}")
            self.current = self.current[-4:]
        elif kind == "node_done":
            self.nodes_done += 1
            self.nodes_buggy += bool(data.get("is_buggy"))
            label = f"{data.get('node_kind')} {data.get('id')}"
            self.current = [c for c in self.current if c != label]
            prog = data.get("progress") or {}
            if isinstance(prog, dict) and prog.get("best"):
                self.best = str(prog["best"])
        self.last = kind
        if self.quiet:
            self.console.log(plain(f"{kind} {data if data else ''}"), highlight=False)
        elif self._live is not None:
            self._live.update(self.render())

    def render(self) -> Table:
        t = self.ledger.totals()
        table = Table(show_header=False, box=None, padding=(0, 1))
        table.add_row("stage", plain(self.stage))
        table.add_row("nodes", f"{self.nodes_done} done, {self.nodes_buggy} buggy")
        if self.current:
            table.add_row("running", plain(", ".join(self.current)))
        table.add_row("best", plain(self.best or "-"))
        table.add_row("model", f"{t.calls} calls, {t.tokens_in:,} in / {t.tokens_out:,} out tokens, ${t.cost_usd:.4f}")
        table.add_row("elapsed", f"{time.monotonic() - self.start:,.0f} s")
        return table
