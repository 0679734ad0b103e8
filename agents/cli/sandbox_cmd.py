"""``shoal sandbox``: run one program exactly as a node runs, and check that the sandbox holds on this machine.

shoal sandbox run PROGRAM.py [--timeout S]   # a fresh node dir in the workspace; prints output and verdict
shoal sandbox check                          # the escape suite: one line per probe, BLOCKED or BREACH
shoal sandbox levels                         # what is isolated here, and how
shoal sandbox env [--build]                  # the experiment environment (with sandbox.extra_packages)
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


@sandbox_app.command("env")
def environment(
    ctx: typer.Context,
    build: Annotated[
        bool, typer.Option("--build", help="build it now (pip: the pinned list and sandbox.extra_packages)")
    ] = False,
) -> None:
    """The experiment environment generated code runs in: where it is, what it adds, whether it is built."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.sandbox import pyenv

    s = get_settings(ctx).sandbox
    path = pyenv.env_path(s.python_env, s.extra_packages)
    extras = ", ".join(s.extra_packages) or "none (sandbox.extra_packages)"
    console.print(f"environment: {escape(str(path))}\nextra packages: {escape(extras)}", highlight=False)
    if build:
        with cli_errors(), console.status("building the experiment environment (pip; minutes)"):
            console.print(escape(pyenv.ensure(path, s.extra_packages)), highlight=False)
    if not pyenv.is_built(path, s.extra_packages):
        console.print(f"status: [red]not built[/]: {escape(pyenv.missing_message(path, s.extra_packages))}")
        raise typer.Exit(1)
    console.print("status: [green]built[/] from the current list", highlight=False)
