"""``shoal model``: the embedded local model's weights and server (the logic lives in ``agents.localmodel``)."""

from __future__ import annotations

import importlib.metadata
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

model_app = typer.Typer(
    help="The embedded local model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M): weights and server.",
    no_args_is_help=True,
)


def _xllamacpp_version() -> str:
    try:
        return importlib.metadata.version("xllamacpp")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@model_app.command("status")
def status(
    ctx: typer.Context,
    verify: Annotated[bool, typer.Option("--verify", help="hash the model file (about 1.1 GB) now")] = False,
) -> None:
    """Show whether the weight packages are installed and the model file is built and verified."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.localmodel.weights import weights_status

    settings = get_settings(ctx)
    with cli_errors():
        if verify:
            with console.status("hashing the model file..."):
                st = weights_status(settings.cache_dir, verify=True)
        else:
            st = weights_status(settings.cache_dir)
    ok, bad = "[green]ok[/]", "[red]no[/]"
    if st.verified:
        verified = f"{ok} (sha256, just now)" if st.hashed else f"{ok} (stamp)"
    elif st.present:
        verified = "[red]MISMATCH[/]" if st.hashed else "[yellow]not yet[/] (run with --verify or `shoal model serve`)"
    else:
        verified = bad
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    parts_mark = ok if not st.missing_parts else bad
    table.add_row("weight packages", f"{parts_mark} {st.parts_found}/{st.parts_total} installed")
    table.add_row("model file", f"{ok if st.present else bad} {escape(str(st.model_path))}")
    table.add_row("verified", verified)
    table.add_row("size", f"{st.bytes:,} bytes (expected {st.expected_bytes:,})")
    table.add_row("cache dir", escape(str(settings.cache_dir)))
    table.add_row("xllamacpp", _xllamacpp_version())
    e = settings.embedded
    threads = e.threads or "all cores"
    table.add_row("server", f"n_ctx {e.n_ctx}, threads {threads}, parallel {e.parallel}")
    console.print(table)
    if st.missing_parts:
        console.print(f"missing: {', '.join(st.missing_parts)}\ninstall with:")
        console.print(st.install_command, markup=False, highlight=False, soft_wrap=True)
    elif not st.present:
        console.print("the model file is built on first use, or now with `shoal model serve`")


@model_app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)", min=0, max=65535)] = 0,
) -> None:
    """Serve the embedded model on 127.0.0.1 (OpenAI API) until Ctrl-C."""
    from agents.cli.common import cli_errors, console, get_settings
    from agents.localmodel.server import EmbeddedServer
    from agents.localmodel.weights import ensure_model_file

    settings = get_settings(ctx)
    server = EmbeddedServer(settings.embedded, settings.cache_dir, port=port)
    try:
        with cli_errors():
            with console.status("checking the model file (the first time joins and hashes 1.1 GB)..."):
                ensure_model_file(settings.cache_dir)
            with console.status("loading the model..."):
                base_url = server.start()
        console.print(f"[green]serving[/] {server.model_name} at [bold]{base_url}[/] (pid {server.pid})")
        console.print(f"log: {escape(str(server.log_path))}")
        console.print("use it from any OpenAI client, e.g.:")
        console.print(
            f"  OPENAI_BASE_URL={base_url} OPENAI_API_KEY=none python your_script.py",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        console.print("press Ctrl-C to stop")
        while server.is_running():
            time.sleep(0.5)
        console.print("[red]the model server exited unexpectedly[/]; last lines of its log:")
        console.print(server.log_tail(), markup=False, highlight=False)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping...")
    finally:
        server.stop()
    console.print("stopped")
