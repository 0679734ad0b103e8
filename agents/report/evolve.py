"""The report of an evolve run: best score over samples (an inline SVG), the lineage of the best program, its
diff from the initial program, rates and costs. ``write_report`` renders this instead for an evolve run."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.evolve.population import Population
from agents.llm.ledger import read_ledger
from agents.rundir import RunDir

_W, _H, _PAD = 640, 260, 40


class LineageStep(BaseModel):
    id: str
    kind: str
    island: int
    score: str
    plan: str


class EvolveReport(BaseModel):
    run_name: str
    task: str
    stats: dict[str, Any]
    curve: list[tuple[int, float]] = Field(description="(sample, best score so far)")
    svg: str
    lineage: list[LineageStep]
    diff: str
    best_code: str
    calls: int
    tokens: int
    cost_usd: float
    kinds: dict[str, list[int]] = Field(description="operator -> [proposals, valid]")


def best_curve(pop: Population) -> list[tuple[int, float]]:
    """The best correct score after each sample (the initial program's score at sample 0)."""
    by_sample: dict[int, float] = {}
    for p in pop.all():
        if p.correct and p.kind != "migrant":
            by_sample[p.sample] = max(by_sample.get(p.sample, float("-inf")), p.combined_score)
    last = max([s.sample for s in pop.samples] + list(by_sample), default=0)
    out, best = [], float("-inf")
    for n in range(last + 1):
        best = max(best, by_sample.get(n, float("-inf")))
        if best > float("-inf"):
            out.append((n, best))
    return out


def curve_svg(curve: list[tuple[int, float]]) -> str:
    if not curve:
        return ""
    xs = [c[0] for c in curve]
    ys = [c[1] for c in curve]
    x0, x1 = min(xs), max(max(xs), 1)
    y0, y1 = min(ys), max(ys)
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5 * (abs(y0) or 1), y1 + 0.5 * (abs(y1) or 1)

    def px(x: float) -> float:
        return _PAD + (x - x0) / ((x1 - x0) or 1) * (_W - 2 * _PAD)

    def py(y: float) -> float:
        return _H - _PAD - (y - y0) / (y1 - y0) * (_H - 2 * _PAD)

    pts = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in curve)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
        f'aria-label="best score over samples">'
        f'<rect x="{_PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" height="{_H - 2 * _PAD}" fill="none" stroke="#ccd"/>'
        f'<polyline points="{pts}" fill="none" stroke="#17324d" stroke-width="2"/>'
        f'<text x="{_PAD}" y="{_H - 12}" font-size="11">sample {x0}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 12}" font-size="11" text-anchor="end">sample {x1}</text>'
        f'<text x="4" y="{_PAD + 4}" font-size="11">{y1:.6g}</text>'
        f'<text x="4" y="{_H - _PAD}" font-size="11">{y0:.6g}</text></svg>'
    )


def collect_evolve(run: RunDir, islands: int = 16) -> EvolveReport:
    pop = Population.load(run.evolve_dir, islands, 10_000)
    best = pop.best()
    initial = (run.evolve_dir / "initial.py").read_text(encoding="utf-8")
    lineage: list[LineageStep] = []
    diff, code = "", ""
    if best is not None:
        code = pop.code(best.id)
        diff = "".join(
            difflib.unified_diff(
                initial.splitlines(keepends=True), code.splitlines(keepends=True), "initial.py", f"{best.id}.py"
            )
        )
        for p in pop.lineage(best.id):
            score = f"{p.combined_score:.6g}" if p.correct else "invalid"
            lineage.append(LineageStep(id=p.id, kind=p.kind, island=p.island, score=score, plan=p.plan))
    records = read_ledger(run.ledger_path)
    curve = best_curve(pop)
    ops = pop.operator_stats(sorted({s.kind for s in pop.samples}))
    from agents.evolve.engine import initial_task

    return EvolveReport(
        run_name=run.name,
        task=initial_task(initial),
        stats=pop.stats(),
        curve=curve,
        svg=curve_svg(curve),
        lineage=lineage,
        diff=diff,
        best_code=code,
        calls=len(records),
        tokens=sum(r.tokens_in + r.tokens_out for r in records),
        cost_usd=sum(r.cost_usd for r in records),
        kinds={k: [n, ok] for k, (n, ok) in ops.items()},
    )


def write_evolve_report(run: RunDir, env_root: Path) -> Path:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(env_root)), undefined=jinja2.StrictUndefined, autoescape=True
    )
    data = collect_evolve(run)
    html = env.get_template("evolve.html.j2").render(data=data, svg=jinja2.utils.markupsafe.Markup(data.svg))
    out = run.report_html
    tmp = out.with_suffix(".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
