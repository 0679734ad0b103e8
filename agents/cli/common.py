"""What every command shares: the resolved settings, the console, and turning ShoalErrors into clean exits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from agents.errors import BudgetExceeded, ShoalError
from agents.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CLIState:
    config: Path | None = None
    overrides: list[str] = field(default_factory=list)
    workspace: Path | None = None
    _settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            init = {"workspace": self.workspace} if self.workspace is not None else {}
            self._settings = load_settings(self.config, self.overrides, **init)
        return self._settings


def get_settings(ctx: typer.Context) -> Settings:
    """The resolved settings for this invocation (defaults < config file < SHOAL_ env < --set)."""
    state = ctx.find_root().obj
    if not isinstance(state, CLIState):
        state = CLIState()
        ctx.find_root().obj = state
    with cli_errors():
        return state.settings()


def setup_logging(verbose: int, quiet: bool) -> None:
    level = (
        logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    )
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore", "openai"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@contextmanager
def cli_errors() -> Iterator[None]:
    """Report a ShoalError as one clear message (no traceback) and exit non-zero."""
    try:
        yield
    except BudgetExceeded as exc:
        err_console.print(f"[bold yellow]budget:[/] {escape(str(exc))}")
        raise typer.Exit(3) from None
    except ShoalError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")  # messages may hold [brackets]
        raise typer.Exit(2) from None
