"""Shoal's command line (typer). Thin: parse, load settings, call the library."""
