"""Final figure aggregation: after the search, choose the paper's figures and make them from the best nodes' data.

``aggregate_figures(run, llm, sandbox, settings)``:

1. select nodes and stage their data in ``figures/work/data/`` (``agents.figures.selection``);
2. one structured call (``figures/aggregate_plan``, writer role) chooses at most ``figures.max_final_figures``
   figures (name, what it shows, nodes, caption);
3. one script (``figures/aggregate_script``, coder role) makes all of them with the shared style helper; it runs
   in the sandbox under the probe, every PNG is linted and critiqued (one critic call per figure *version*: a
   figure whose image did not change is not critiqued again);
4. while figures are missing, have lint errors or warnings, or are judged invalid, the script is repaired
   (``figures/fix_plot``) for at most ``figures.aggregate_rounds`` rounds in all; for each figure the best
   version seen is kept (fewest lint errors, then valid, then fewest warnings);
5. if no figure is usable, the deterministic ``fallback_script`` makes a metric comparison and learning curves.

Output (contract): ``figures/<name>.png`` and ``.pdf`` and ``figures/captions.json``; every script version is
kept in ``figures/work/`` (``aggregate_round<N>.py``). Figures still invalid or with lint errors are left out.
"""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from PIL import Image
from pydantic import BaseModel, Field

from agents.errors import ModelCallError, StructuredOutputError, UserInputError
from agents.experiments.journal import Journal
from agents.figures.critic import CritiqueResult, critique_figures
from agents.figures.data import example_series, load_json
from agents.figures.lint import Finding, format_findings, image_hash, lint_figures, read_probe
from agents.figures.runner import extract_code, install_helpers, run_plot_script
from agents.figures.selection import catalog, select_nodes, stage_data
from agents.llm import LLM
from agents.rundir import RunDir
from agents.sandbox import Sandbox
from agents.settings import Settings

log = logging.getLogger(__name__)

PLAN_PROMPT = "figures/aggregate_plan"
SCRIPT_PROMPT = "figures/aggregate_script"
FIX_PROMPT = "figures/fix_plot"
ALLOWED_READS = ("data/*/results/*.json", "data/*/metrics.json", "data/nodes.json")
_HERE = Path(__file__).resolve().parent


class PlannedFigure(BaseModel):
    name: str = Field(description='"fig_" + lower-case words joined by underscores')
    description: str = Field(description="what it plots and which claim it supports")
    nodes: list[str] = Field(default_factory=list, description="experiment ids it uses")
    caption: str = Field(description="one or two sentences for the paper")


class FigurePlan(BaseModel):
    figures: list[PlannedFigure] = Field(min_length=1)


class FinalFigure(BaseModel):
    name: str
    png: str
    pdf: str
    caption: str
    label: str
    nodes: list[str] = Field(default_factory=list)
    lint: list[Finding] = Field(default_factory=list)
    critique: str = ""


class Captions(BaseModel):
    figures: list[FinalFigure] = Field(default_factory=list)


class _Version(BaseModel):
    """One rendering of one figure, snapshotted from a round."""

    round: int
    png: Path
    pdf: Path | None
    lint: list[Finding]
    critique: CritiqueResult | None = None

    def rank(self) -> tuple[int, int, int]:
        errors = sum(f.severity == "error" for f in self.lint)
        warnings = sum(f.severity == "warning" for f in self.lint)
        invalid = int(self.critique is not None and self.critique.invalid)
        return (errors, invalid, warnings)

    @property
    def usable(self) -> bool:
        errors, invalid, _ = self.rank()
        return errors == 0 and not invalid

    @property
    def clean(self) -> bool:
        return self.rank() == (0, 0, 0)


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "figure"
    return s if s.startswith("fig_") else f"fig_{s}"


def normalize_plan(plan: FigurePlan, cap: int, known: set[str], default: list[str]) -> list[PlannedFigure]:
    """Names made ``fig_<snake_case>`` and unique, unknown node ids dropped (none left: ``default``), capped."""
    out: list[PlannedFigure] = []
    for f in plan.figures:
        name = _slug(f.name)
        if name in {o.name for o in out}:
            continue
        nodes = [n for n in f.nodes if n in known] or list(default)
        out.append(f.model_copy(update={"name": name, "nodes": nodes}))
    return out[:cap]


def load_captions(run: RunDir) -> Captions | None:
    """The run's ``figures/captions.json`` when it exists and every file it lists is on disk, else None."""
    path = run.captions_path
    if not path.is_file():
        return None
    try:
        captions = Captions.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    folder = path.parent
    if not all((folder / f.png).is_file() and (folder / f.pdf).is_file() for f in captions.figures):
        return None
    return captions


def aggregate_figures(
    run: RunDir,
    llm: LLM,
    sandbox: Sandbox,
    settings: Settings,
    journal: Journal | None = None,
    *,
    force: bool = True,
) -> Captions:
    """Make the paper's figures; with ``force=False`` (the pipeline's resume) existing complete output is kept."""
    if not force:
        existing = load_captions(run)
        if existing is not None:
            log.info("figures already made (%d); keeping them", len(existing.figures))
            return existing
    cfg = settings.figures
    journal = journal if journal is not None else run.journal()
    nodes = select_nodes(journal, cfg.max_nodes)
    if not nodes:
        raise UserInputError(f"{run.path} has no good experiment node to make figures from; run the experiments first")
    llm = llm.bind(stage="figures")
    out_dir = run.subdir(run.figures_dir.name)
    work = out_dir / "work"
    work.mkdir(exist_ok=True)
    selected = stage_data(run, journal, nodes, work)
    cat = catalog(work, selected)
    title = _idea_title(run)
    try:
        plan = llm.structured(
            "writer", PLAN_PROMPT, FigurePlan, {"title": title, "catalog": cat, "cap": cfg.max_final_figures}
        )
        default = [s.id for s in selected if s.kind != "seed"]
        planned = normalize_plan(plan, cfg.max_final_figures, {s.id for s in selected}, default)
    except (StructuredOutputError, ModelCallError) as exc:
        log.warning("figure plan: no usable answer (%s); using the deterministic figures", exc)
        planned = []
    best: dict[str, _Version] = {}
    if planned:
        needs_errorbars = any(m.std_err for n in nodes for m in n.metric.metrics)
        best = _script_rounds(llm, sandbox, settings, work, cat, planned, needs_errorbars)
    chosen = {name: v for name, v in best.items() if v.usable}
    captions = {f.name: f for f in planned}
    if not chosen:
        log.warning("no usable figure from the model's script; running the deterministic fallback")
        chosen, fallback_captions = _fallback(sandbox, settings, work)
        chosen = dict(list(chosen.items())[: cfg.max_final_figures])
        captions = {
            name: PlannedFigure(
                name=name, description=text, nodes=[s.id for s in selected if s.kind != "seed"], caption=text
            )
            for name, text in fallback_captions.items()
        }
    result = _publish(out_dir, chosen, captions)
    run.captions_path.write_text(result.model_dump_json(indent=1), encoding="utf-8")
    run.event("figures", figures=[f.name for f in result.figures], planned=[f.name for f in planned])
    return result


def _script_rounds(
    llm: LLM,
    sandbox: Sandbox,
    settings: Settings,
    work: Path,
    cat: str,
    planned: list[PlannedFigure],
    needs_errorbars: bool,
) -> dict[str, _Version]:
    cfg = settings.figures
    best: dict[str, _Version] = {}
    critiqued: dict[str, CritiqueResult] = {}  # image hash -> critique of that exact image
    script = ""
    problems = ""
    for rnd in range(1, cfg.aggregate_rounds + 1):
        try:
            if not script:
                figures = [{**f.model_dump(), "example": _example(work, f)} for f in planned]
                reply = llm.chat("coder", SCRIPT_PROMPT, {"catalog": cat, "figures": figures})
            else:
                reply = llm.chat("coder", FIX_PROMPT, {"script": script, "data_summary": cat, "problems": problems})
        except ModelCallError as exc:
            log.warning("aggregation script: model call failed (%s)", exc)
            break
        new_script = extract_code(reply.content)
        if not new_script:
            problems = "the answer contained no python code block"
            continue
        script = new_script
        (work / f"aggregate_round{rnd}.py").write_text(script + "\n", encoding="utf-8")
        shutil.copyfile(work / f"aggregate_round{rnd}.py", work / "aggregate.py")
        for old in list(work.glob("fig_*.png")) + list(work.glob("fig_*.pdf")):
            old.unlink()
        run = run_plot_script(sandbox, work, "aggregate.py", cfg.script_timeout_s)
        report = lint_figures(work, [p for p in run.pngs if "/" not in p], cfg, allowed_reads=ALLOWED_READS)
        issues: list[str] = [] if run.ok else [f"the script failed: {run.error}"]
        for fig in planned:
            png = f"{fig.name}.png"
            if png not in report:
                issues.append(f"{fig.name}: the figure was not saved (expected {png})")
                continue
            version = _snapshot(work, rnd, fig.name, report[png])
            if version.rank()[0] == 0:
                h = image_hash(version.png)
                if h not in critiqued:
                    critiqued[h] = critique_figures(
                        llm,
                        [version.png],
                        context=f"{fig.description}. Caption: {fig.caption}",
                        script=script,
                        data_summary=cat,
                        lint=version.lint,
                        max_images=1,
                    )
                version.critique = critiqued[h]
            if fig.name not in best or version.rank() < best[fig.name].rank():
                best[fig.name] = version
            if not version.clean:
                issues.append(_describe_problems(fig.name, version))
        if needs_errorbars and run.ok and not _shows_spread(work):
            issues.append(
                "no figure shows the seed standard errors (std_err in metrics.json): draw them as error bars "
                "(yerr=...) in the figure that compares the metric"
            )
        log.info("aggregation round %d: %d/%d figures clean", rnd, sum(v.clean for v in best.values()), len(planned))
        if not issues:
            break
        problems = "\n".join(issues) or "fix the figures"
    return best


_CURVE_WORDS = ("curve", "epoch", "step", "iteration", "over training", "during training", "convergence")


def _example(work: Path, fig: PlannedFigure) -> dict[str, str] | None:
    """A concrete skeleton hint for one figure: a curve of real keys when the description asks for curves (and
    a node has such data), else None (the skeleton then compares the primary metric with its std_err)."""
    if not fig.nodes or not any(w in fig.description.lower() for w in _CURVE_WORDS):
        return None
    for node_id in fig.nodes:
        series = example_series(work / "data" / node_id)
        if series is not None:
            return {"kind": "curve", **series}
    return None


def _shows_spread(work: Path) -> bool:
    """Whether any saved figure draws error bars or a shaded band (from the probe's record)."""
    metas, _ = read_probe(work)
    return any(ax.get("errorbars") or ax.get("bands") for m in metas.values() for ax in m.get("axes", []))


def _describe_problems(name: str, v: _Version) -> str:
    lines = [format_findings([f for f in v.lint if f.severity != "info"])]
    if v.critique is not None and v.critique.critique is not None and not v.critique.critique.valid_for_claim:
        c = v.critique.critique
        lines.append(f"- {name}: the critic judged it not valid: {'; '.join(c.issues)} Fix: {c.suggested_fix}")
    return "\n".join(line for line in lines if line)


def _snapshot(work: Path, rnd: int, name: str, lint: list[Finding]) -> _Version:
    keep = work / f"round{rnd}"
    keep.mkdir(exist_ok=True)
    png = keep / f"{name}.png"
    shutil.copyfile(work / f"{name}.png", png)
    pdf: Path | None = None
    if (work / f"{name}.pdf").is_file():
        pdf = keep / f"{name}.pdf"
        shutil.copyfile(work / f"{name}.pdf", pdf)
    return _Version(round=rnd, png=png, pdf=pdf, lint=lint)


def _fallback(sandbox: Sandbox, settings: Settings, work: Path) -> tuple[dict[str, _Version], dict[str, str]]:
    install_helpers(work)
    shutil.copyfile(_HERE / "fallback_script.py", work / "fallback.py")
    for old in list(work.glob("fig_*.png")) + list(work.glob("fig_*.pdf")):
        old.unlink()
    run = run_plot_script(sandbox, work, "fallback.py", settings.figures.script_timeout_s)
    if not run.ok:
        log.warning("the deterministic figure script failed: %s", run.error[-500:])
    report = lint_figures(work, [p for p in run.pngs if "/" not in p], settings.figures, allowed_reads=ALLOWED_READS)
    texts = load_json(work / "fallback_captions.json")  # tolerant: the work folder is the sandbox's
    texts = texts if isinstance(texts, dict) else {}
    chosen: dict[str, _Version] = {}
    for png, lint in report.items():
        name = png[: -len(".png")]
        version = _snapshot(work, 0, name, lint)
        if version.usable and name in texts:
            chosen[name] = version
    return chosen, {k: v for k, v in texts.items() if k in chosen}


def _publish(out_dir: Path, chosen: dict[str, _Version], planned: dict[str, PlannedFigure]) -> Captions:
    for old in list(out_dir.glob("fig_*.png")) + list(out_dir.glob("fig_*.pdf")):
        old.unlink()
    figures: list[FinalFigure] = []
    for name in [n for n in planned if n in chosen]:  # in the plan's order
        v, fig = chosen[name], planned[name]
        shutil.copyfile(v.png, out_dir / f"{name}.png")
        if v.pdf is not None:
            shutil.copyfile(v.pdf, out_dir / f"{name}.pdf")
        else:  # the script saved no PDF: a raster PDF keeps the contract
            with Image.open(v.png) as im:
                im.convert("RGB").save(out_dir / f"{name}.pdf", "PDF", resolution=200.0)
        critique = v.critique.as_text() if v.critique is not None else "deterministic figure; not critiqued"
        figures.append(
            FinalFigure(
                name=name,
                png=f"{name}.png",
                pdf=f"{name}.pdf",
                caption=fig.caption.strip(),
                label=f"fig:{name.removeprefix('fig_')}",
                nodes=fig.nodes,
                lint=[f.model_copy(update={"figure": f"{name}.png"}) for f in v.lint],
                critique=critique,
            )
        )
    return Captions(figures=figures)


def _idea_title(run: RunDir) -> str:
    if run.chosen_idea_path.is_file():
        return run.chosen_idea().title[:200]
    return "(no idea chosen; describe what the experiments show)"
