"""``shoal sandbox``: run one program exactly as a node runs, and check that the sandbox holds on this machine.

shoal sandbox run PROGRAM.py [--timeout S]   # a fresh node dir in the workspace; prints output and verdict
shoal sandbox check                          # the escape suite: one line per probe, BLOCKED or BREACH
shoal sandbox levels                         # what is isolated here, and how
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

sandbox_app = typer.Typer(help="Run a program in the sandbox; check what the sandbox isolates.", no_args_is_help=True)


@sandbox_app.command("run")
def run_program(
    ctx: typer.Context,
    program: Annotated[Path, typer.Argument(help="a Python file, run as `python PROGRAM` in a fresh node directory")],
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0.1, help="seconds (default sandbox.timeout_s)")
    ] = None,
) -> None:
    """Run PROGRAM as a node runs (same isolation and limits); print its output and the verdict."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.errors import UserInputError
    from agents.sandbox import make_sandbox

    settings = get_settings(ctx)
    with cli_errors():
        if not program.is_file():
            raise UserInputError(f"{program} is not a file: pass the path of a Python program")
        node = settings.workspace.resolve() / "sandbox-runs" / time.strftime("%Y%m%d-%H%M%S")
        node.mkdir(parents=True, exist_ok=False)
        shutil.copyfile(program, node / program.name)
        sandbox = make_sandbox(settings.sandbox)
        res = sandbox.run(node, ["python", program.name], timeout_s=timeout)
    if res.stdout:
        console.print(escape(res.stdout.rstrip()), highlight=False)
    if res.stderr:
        console.print(escape(res.stderr.rstrip()), highlight=False, style="red")
    verdict = res.verdict or ("ok" if res.ok else f"failed: exit code {res.exit_code}")
    console.print(f"verdict: {escape(verdict)}  ({res.duration_s:.2f} s; node directory {escape(str(node))})")
    if not res.ok:
        raise typer.Exit(1)


@sandbox_app.command("check")
def check(ctx: typer.Context) -> None:
    """Run the escape suite against this machine's sandbox: one line per probe, BLOCKED or BREACH."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.sandbox import make_sandbox
    from agents.sandbox.probes import run_suite

    settings = get_settings(ctx)
    breaches = 0
    with cli_errors():
        make_sandbox(settings.sandbox.model_copy(update={"backend": "local"}))  # refuses below min_isolation
        workspace = settings.workspace.resolve()
        workspace.mkdir(parents=True, exist_ok=True)
        for outcome in run_suite(settings.sandbox, workspace=workspace):
            style = "green" if outcome.blocked else "bold red"
            console.print(f"[{style}]{escape(outcome.line())}[/]", highlight=False)
            breaches += not outcome.blocked
    if breaches:
        console.print(f"[bold red]{breaches} breach(es)[/]: see docs/sandbox.md")
        raise typer.Exit(1)
    console.print("[green]all probes blocked[/]")


@sandbox_app.command("levels")
def levels(ctx: typer.Context) -> None:
    """What the local sandbox isolates on this machine, piece by piece, and how."""
    from agents.cli.common import console, get_settings
    from agents.sandbox import LocalSandbox

    settings = get_settings(ctx)
    iso = LocalSandbox(settings.sandbox).isolation
    for piece in iso.pieces(network_requested=settings.sandbox.network):
        mark = "[green]ok  [/]" if piece.ok else "[red]MISSING[/]"
        fix = f"  (fix: {escape(piece.fix)})" if piece.fix else ""
        console.print(f"{mark} {piece.name:<10} {escape(piece.how)}{fix}", highlight=False)
