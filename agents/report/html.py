"""Render ``report.html`` from a run directory (Jinja, autoescaped; links relative so the run stays movable)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2

from agents.prompts import templates_root
from agents.report.collect import ReportData, collect
from agents.rundir import RunDir


@lru_cache(maxsize=2)
def _env(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
    )


def render_report(data: ReportData) -> str:
    template = _env(templates_root() / "report").get_template("report.html.j2")
    # JSON for the script tag, where node output (written by generated code) must neither close the tag ("</")
    # nor switch the HTML parser's script states ("<!--", "<script"): no "<", ">" or "&" appears raw
    payload = json.dumps(data.model_dump(mode="json"), ensure_ascii=False)
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return template.render(data=data, payload=payload)


def write_report(run: RunDir, *, status: str | None = None) -> Path:
    """Write ``report.html``; ``status`` overrides the one in ``run.json`` (the pipeline passes "done")."""
    if run.is_evolve:
        from agents.report.evolve import write_evolve_report

        return write_evolve_report(run, templates_root() / "report")
    out = run.report_html
    tmp = out.with_suffix(".tmp")
    tmp.write_text(render_report(collect(run, status=status)), encoding="utf-8")
    tmp.replace(out)
    return out
