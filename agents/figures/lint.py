"""Deterministic figure lint (no model): checks every PNG and the matplotlib figure that produced it.

Two sources are inspected:

- the pixels (pillow + numpy): unreadable or near-blank images, and duplicate figures (a difference hash);
- the probe sidecar (``_shoal_figmeta.jsonl``, see ``agents.figures.probe``) with the figure objects the script
  saved: axis labels and titles, font sizes at print size, legends (missing with several series, or covering the
  data), non-finite plotted values, the number of subplots, empty axes, and which files the script read.

Each finding has a ``code``, a ``message`` and a ``severity``: ``error`` makes a figure unusable (blank, no data,
values that were silently not drawn, data read from somewhere other than the saved results); ``warning`` should be
fixed before a paper uses it; ``info`` is advice. Codes are listed in ``CODES``.
"""

from __future__ import annotations

import fnmatch
import json
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from agents.figures.probe import META_FILE
from agents.settings import FiguresSettings

log = logging.getLogger(__name__)

Severity = Literal["error", "warning", "info"]

CODES: dict[str, str] = {
    "unreadable_image": "the PNG cannot be opened",
    "blank_image": "the image is (nearly) one flat colour",
    "no_metadata": "the figure was not saved through matplotlib's savefig, so only its pixels were checked",
    "no_data": "no axes of the figure draws any data",
    "empty_axes": "an axes draws nothing",
    "missing_axis_label": "an axes with data has no x or y label",
    "missing_title": "neither the figure nor any axes has a title",
    "small_font": "text is too small to read at print size",
    "missing_legend": "several series are drawn but there is no legend",
    "legend_covers_data": "the legend box lies over plotted data",
    "nonfinite_data": "NaN or inf values in the plotted data (matplotlib silently leaves them out)",
    "too_many_subplots": "more subplots than a reader can take in",
    "clipped_text": "text runs off the edge of the saved image",
    "duplicate_figure": "the image is the same as another figure's",
    "foreign_data": "the script read files other than the node's saved results",
}

BLANK_INK_FRACTION = 0.002  # fewer non-background pixels than this: blank
HASH_SIZE = 24  # difference hash of 24x24 bits
DUPLICATE_BITS = 20  # hamming distance at or below which two images are the same figure (measured: the same
# figure saved at 100/150/200 dpi differs by 11-13 bits, a slightly shifted curve by 31+)


class Finding(BaseModel):
    code: str
    message: str
    severity: Severity
    figure: str = ""


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


def format_findings(findings: list[Finding]) -> str:
    """One line per finding, for prompts and reports."""
    return "\n".join(f"- [{f.severity}] {f.figure + ': ' if f.figure else ''}{f.code}: {f.message}" for f in findings)


# -- probe sidecar ---------------------------------------------------------------------------------------------


def read_probe(workdir: Path) -> tuple[dict[str, dict[str, Any]], list[str] | None]:
    """The figure records of the last probe run in ``workdir`` keyed by PNG path, and the files read (None when
    the script did not get as far as the probe's exit record)."""
    path = workdir / META_FILE
    figures: dict[str, dict[str, Any]] = {}
    reads: list[str] | None = None
    if not path.is_file():
        return figures, reads
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("kind") == "figure" and str(rec.get("path", "")).lower().endswith(".png"):
            figures[rec["path"]] = rec
        elif rec.get("kind") == "reads":
            reads = list(rec.get("paths", []))
        elif rec.get("kind") == "probe_error":
            log.warning("figure probe could not inspect %s: %s", rec.get("path"), rec.get("error"))
    return figures, reads


# -- pixels ----------------------------------------------------------------------------------------------------


def _pixels(png: Path) -> np.ndarray:
    with Image.open(png) as opened:
        im = opened.convert("RGB")
        im.thumbnail((512, 512))
        return np.asarray(im, dtype=np.int16)


def lint_pixels(png: Path) -> list[Finding]:
    try:
        px = _pixels(png)
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        return [Finding(code="unreadable_image", message=f"cannot open the PNG: {exc}", severity="error")]
    if px.size == 0:
        return [Finding(code="unreadable_image", message="the image has no pixels", severity="error")]
    flat = px.reshape(-1, 3)
    packed = (flat[:, 0].astype(np.int32) << 16) | (flat[:, 1].astype(np.int32) << 8) | flat[:, 2]
    colours, counts = np.unique(packed, return_counts=True)  # 1-D unique: ~20x faster than unique(axis=0)
    bg = int(colours[counts.argmax()])
    background = np.array([(bg >> 16) & 255, (bg >> 8) & 255, bg & 255], dtype=np.int16)
    ink = float((np.abs(flat - background).max(axis=1) > 24).mean())
    if ink < BLANK_INK_FRACTION:
        return [
            Finding(
                code="blank_image",
                message=f"only {ink:.2%} of the pixels differ from the background: the figure is (nearly) empty",
                severity="error",
            )
        ]
    return []


def image_hash(png: Path) -> str:
    """A difference hash (HASH_SIZE^2 bits, hex): near-identical renderings get near-identical hashes."""
    with Image.open(png) as im:
        g = np.asarray(im.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.LANCZOS), dtype=np.int16)
    bits = (g[:, 1:] > g[:, :-1]).flatten()
    return f"{int(''.join('1' if b else '0' for b in bits), 2):0{bits.size // 4}x}"


def hash_distance(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


# -- figure objects --------------------------------------------------------------------------------------------


def _data_series(ax: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in ax.get("series", []) if s.get("is_data") and s.get("n", 0) > 0]


def _legend_series(ax: dict[str, Any]) -> list[dict[str, Any]]:
    """Series a reader must tell apart: drawn data lines (2+ points), scatters and bar groups; error-bar caps and
    helper artists (labels ``_nolegend_``) are not series."""
    out = []
    for s in _data_series(ax):
        if s.get("label") == "_nolegend_":
            continue
        if s["type"] == "line" and s.get("n", 0) < 2:
            continue
        out.append(s)
    return out


def _inside(points: list[list[float]], box: list[float]) -> int:
    if not points:
        return 0
    p = np.asarray(points, dtype=float)
    x0, y0, x1, y1 = box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1
    return int(((p[:, 0] > x0) & (p[:, 0] < x1) & (p[:, 1] > y0) & (p[:, 1] < y1)).sum())


def _overlap_area(a: list[float], b: list[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _legend_covers(box: list[float], axes: list[dict[str, Any]]) -> bool:
    total = covered = 0
    for ax in axes:
        for s in _data_series(ax):
            total += len(s.get("points", []))
            covered += _inside(s.get("points", []), box)
        area = max(1.0, (box[2] - box[0]) * (box[3] - box[1]))
        if sum(_overlap_area(box, b) for b in ax.get("bar_boxes", [])) / area > 0.1:
            return True
    return covered >= 3 and covered >= 0.01 * max(total, 1)


def lint_meta(meta: dict[str, Any], cfg: FiguresSettings) -> list[Finding]:
    out: list[Finding] = []
    axes = [a for a in meta.get("axes", []) if not a.get("is_colorbar")]
    plotted = [a for a in axes if _data_series(a) or a.get("images")]
    if not plotted:
        out.append(Finding(code="no_data", message="no axes draws any data", severity="error"))
    for i, ax in enumerate(axes):
        name = f"axes {i + 1}" + (f" ({ax['title']!r})" if ax.get("title") else "")
        if ax not in plotted:
            if ax.get("axis_on", True):
                out.append(Finding(code="empty_axes", message=f"{name} draws nothing", severity="warning"))
            continue
        missing = [k for k in ("xlabel", "ylabel") if not str(ax.get(k, "")).strip()]
        if missing and ax.get("axis_on", True):
            out.append(
                Finding(code="missing_axis_label", message=f"{name} has no {' or '.join(missing)}", severity="warning")
            )
        series = _legend_series(ax)
        if len(series) >= 2 and ax.get("legend") is None and not meta.get("fig_legends"):
            out.append(
                Finding(
                    code="missing_legend",
                    message=f"{name} draws {len(series)} series but has no legend",
                    severity="warning",
                )
            )
        for s in _data_series(ax) + [{"type": "image", "label": "image", **im} for im in ax.get("images", [])]:
            bad, n = s.get("nonfinite", 0), s.get("n", 0)
            if bad:
                out.append(
                    Finding(
                        code="nonfinite_data",
                        message=f"{name}: {s['type']} {s.get('label', '')!r} has {bad} NaN/inf value(s) of {n}",
                        severity="error" if bad >= n else "warning",
                    )
                )
        if ax.get("legend") and _legend_covers(ax["legend"]["bbox"], [ax]):
            out.append(
                Finding(code="legend_covers_data", message=f"{name}: the legend lies over the data", severity="warning")
            )
    for lg in meta.get("fig_legends", []):
        inside = [a for a in axes if _overlap_area(lg["bbox"], a.get("bbox", [0, 0, 0, 0])) > 0]
        if inside and _legend_covers(lg["bbox"], inside):
            out.append(
                Finding(code="legend_covers_data", message="the figure legend lies over the data", severity="warning")
            )
    if plotted and not meta.get("suptitle", "").strip() and not any(str(a.get("title", "")).strip() for a in axes):
        out.append(Finding(code="missing_title", message="no title on the figure or its axes", severity="info"))
    if len(axes) > cfg.max_subplots:
        out.append(
            Finding(
                code="too_many_subplots",
                message=f"{len(axes)} subplots (more than {cfg.max_subplots}); split the figure",
                severity="warning",
            )
        )
    out.extend(_font_findings(meta, cfg))
    clipped = [t["text"] for t in meta.get("texts", []) if t.get("clipped")]
    if clipped and not meta.get("tight"):
        out.append(
            Finding(
                code="clipped_text",
                message=f"text cut off at the image edge: {', '.join(repr(c) for c in clipped[:4])}; call "
                "fig.tight_layout() or save with bbox_inches='tight'",
                severity="warning",
            )
        )
    return out


def _font_findings(meta: dict[str, Any], cfg: FiguresSettings) -> list[Finding]:
    texts = meta.get("texts", [])
    width = float(meta.get("width_in", 0) or 0)
    if not texts or width <= 0:
        return []
    scale = min(1.0, cfg.print_width_in / width)
    smallest = min(texts, key=lambda t: t["size"])
    effective = smallest["size"] * scale
    if effective >= cfg.min_font_pt:
        return []
    return [
        Finding(
            code="small_font",
            message=(
                f"text {smallest['text']!r} is {smallest['size']:.1f} pt on a {width:.1f} in wide figure, "
                f"{effective:.1f} pt when printed {min(width, cfg.print_width_in):.2f} in wide "
                f"(minimum {cfg.min_font_pt:g} pt); enlarge the fonts or shrink the figure"
            ),
            severity="error" if effective < 0.6 * cfg.min_font_pt else "warning",
        )
    ]


# -- everything ------------------------------------------------------------------------------------------------


def lint_figures(
    workdir: Path,
    pngs: list[str],
    cfg: FiguresSettings,
    *,
    allowed_reads: tuple[str, ...] = ("results/*.json", "metrics.json"),
) -> dict[str, list[Finding]]:
    """Lint the PNGs (paths relative to ``workdir``) made by the last probe run there; findings per PNG."""
    metas, reads = read_probe(workdir)
    report: dict[str, list[Finding]] = {}
    hashes: list[tuple[str, str]] = []
    foreign = sorted(p for p in reads or [] if not any(fnmatch.fnmatch(p, pat) for pat in allowed_reads))
    for rel in pngs:
        found = lint_pixels(workdir / rel)
        meta = metas.get(rel)
        if meta is None:
            found.append(Finding(code="no_metadata", message=CODES["no_metadata"], severity="info"))
        else:
            found.extend(lint_meta(meta, cfg))
        if foreign:
            found.append(
                Finding(
                    code="foreign_data",
                    message=f"the script read {', '.join(foreign[:5])}; plots must use only {', '.join(allowed_reads)}",
                    severity="error",
                )
            )
        if not any(f.code == "unreadable_image" for f in found):
            h = image_hash(workdir / rel)
            twin = next((other for other, oh in hashes if hash_distance(h, oh) <= DUPLICATE_BITS), None)
            if twin is not None:
                found.append(Finding(code="duplicate_figure", message=f"looks the same as {twin}", severity="warning"))
            hashes.append((rel, h))
        for f in found:
            f.figure = rel
        report[rel] = found
    return report
