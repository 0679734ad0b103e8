"""Figure probe: runs a plotting script and records what every saved matplotlib figure contains.

This file is copied into the script's working directory as ``_shoal_figprobe.py`` and run in the sandbox as
``python _shoal_figprobe.py plot.py``. It depends only on matplotlib and numpy (no Shoal imports): the sandbox may
be a bare container. It patches ``Figure.savefig`` so that, after each save, one JSON line describing the figure is
appended to ``_shoal_figmeta.jsonl``: size, axes, titles and labels, legends and their screen boxes, the data of
every series (counts, non-finite values, a sample of points in display coordinates), and the size of every visible
text. At exit it appends the files the script read inside its working directory (an audit hook), so the lint can
tell a figure drawn from the saved results from one drawn from anything else.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from typing import Any

META_FILE = "_shoal_figmeta.jsonl"
MAX_POINTS = 400  # display-coordinate points kept per series (enough to test legend overlap)

_CWD = os.path.abspath(os.getcwd())
_reads: set[str] = set()


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not args:
        return
    target = args[0]
    if not isinstance(target, str | bytes | os.PathLike):
        return
    mode = args[1] if len(args) > 1 else "r"
    if isinstance(mode, str) and any(c in mode for c in "wax+"):
        return
    if mode is None and len(args) > 2 and isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR):
        return
    try:
        path = os.path.abspath(os.fsdecode(target))
    except (TypeError, ValueError):
        return
    if not path.startswith(_CWD + os.sep):
        return
    rel = os.path.relpath(path, _CWD)
    parts = rel.split(os.sep)
    if any(p.startswith((".", "__pycache__")) for p in parts) or rel.endswith((".py", ".pyc")):
        return
    _reads.add(rel.replace(os.sep, "/"))


def _write(record: dict) -> None:
    with open(os.path.join(_CWD, META_FILE), "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


def _sample_display(ax, xy, transform):  # type: ignore[no-untyped-def]
    import numpy as np

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    finite = np.isfinite(xy).all(axis=1)
    pts = transform.transform(xy[finite]) if finite.any() else np.zeros((0, 2))
    if len(pts) >= 2:  # densify along segments so a sparse line crossing the legend is still seen
        seg = [np.linspace(pts[i], pts[i + 1], 8, endpoint=False) for i in range(len(pts) - 1)]
        pts = np.vstack([*seg, pts[-1:]])
    if len(pts) > MAX_POINTS:
        pts = pts[np.linspace(0, len(pts) - 1, MAX_POINTS).astype(int)]
    return [[round(float(a), 1), round(float(b), 1)] for a, b in pts]


def _nonfinite(values) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    import numpy as np

    try:
        arr: Any = np.ma.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return 0, 0
    data = arr.compressed() if np.ma.isMaskedArray(arr) else np.ravel(arr)
    return int(data.size), int((~np.isfinite(data)).sum())


def _bbox(artist, renderer):  # type: ignore[no-untyped-def]
    b = artist.get_window_extent(renderer)
    return [round(float(b.x0), 1), round(float(b.y0), 1), round(float(b.x1), 1), round(float(b.y1), 1)]


def _texts(fig, renderer):  # type: ignore[no-untyped-def]
    from matplotlib.text import Text

    out = []
    seen = set()
    undrawn = set()  # tick labels of ticks outside the view limits: visible, but matplotlib does not draw them
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            try:
                drawn = {id(lab) for tick in axis._update_ticks() for lab in (tick.label1, tick.label2)}
                ticks = axis.get_major_ticks() + axis.get_minor_ticks()
            except Exception:  # private API: without it, every tick label counts
                continue
            undrawn |= {id(lab) for tick in ticks for lab in (tick.label1, tick.label2)} - drawn
    for t in fig.findobj(Text):
        if id(t) in seen or id(t) in undrawn or not t.get_visible() or not t.get_text().strip():
            continue
        seen.add(id(t))
        try:
            if t.get_window_extent(renderer).width <= 0:
                continue
        except (RuntimeError, ValueError):
            continue
        box = t.get_window_extent(renderer)
        clipped = box.x0 < -1 or box.y0 < -1 or box.x1 > fig.bbox.width + 1 or box.y1 > fig.bbox.height + 1
        out.append({"text": t.get_text()[:40], "size": float(t.get_fontsize()), "clipped": bool(clipped)})
    return out


def _axes_record(ax, renderer) -> dict:  # type: ignore[no-untyped-def]
    from matplotlib.collections import PathCollection, PolyCollection
    from matplotlib.container import BarContainer, ErrorbarContainer
    from matplotlib.patches import Rectangle

    series = []
    for line in ax.get_lines():
        if not line.get_visible():
            continue
        x, y = line.get_xdata(orig=False), line.get_ydata(orig=False)
        n, bad = _nonfinite(y)
        _, badx = _nonfinite(x)
        is_data = line.get_transform() is ax.transData
        drawn = line.get_linestyle() not in ("None", "", " ") or line.get_marker() not in (None, "None", "", " ")
        series.append(
            {
                "type": "line",
                "label": str(line.get_label()),
                "n": n,
                "nonfinite": bad + badx,
                "is_data": bool(is_data and drawn and n >= 1),
                "points": _sample_display(ax, list(zip(x, y, strict=False)), line.get_transform()) if n else [],
            }
        )
    for coll in ax.collections:
        if isinstance(coll, PathCollection) and coll.get_visible():
            offsets = coll.get_offsets()
            n, bad = _nonfinite(offsets)
            series.append(
                {
                    "type": "scatter",
                    "label": str(coll.get_label()),
                    "n": n // 2,
                    "nonfinite": bad,
                    "is_data": n > 0,
                    "points": _sample_display(ax, offsets, coll.get_offset_transform()) if n else [],
                }
            )
    bars = []
    for container in ax.containers:
        if isinstance(container, BarContainer):
            heights = [p.get_height() for p in container.patches] + [p.get_width() for p in container.patches]
            n, bad = _nonfinite(heights)
            series.append(
                {
                    "type": "bars",
                    "label": str(container.get_label()),
                    "n": len(container.patches),
                    "nonfinite": bad,
                    "is_data": True,
                    "points": [],
                }
            )
    for patch in ax.patches:
        if isinstance(patch, Rectangle) and patch.get_visible():
            try:
                bars.append(_bbox(patch, renderer))
            except (RuntimeError, ValueError):
                continue
    images = []
    for im in ax.images:
        n, bad = _nonfinite(im.get_array())
        images.append({"n": n, "nonfinite": bad})
    legend = ax.get_legend()
    leg = None
    if legend is not None and legend.get_visible():
        leg = {"bbox": _bbox(legend, renderer), "labels": [t.get_text() for t in legend.get_texts()]}
    title = " ".join(s for s in (ax.get_title("left"), ax.get_title(), ax.get_title("right")) if s.strip())
    return {
        "title": title,
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "is_colorbar": hasattr(ax, "_colorbar") or ax.get_label() == "<colorbar>",
        "axis_on": bool(ax.axison),
        "bbox": _bbox(ax, renderer),
        "series": series,
        "bar_boxes": bars[:200],
        "images": images,
        "errorbars": any(isinstance(c, ErrorbarContainer) for c in ax.containers),
        "bands": sum(isinstance(c, PolyCollection) and c.get_visible() for c in ax.collections),
        "legend": leg,
    }


def _record(fig, fname, tight: bool) -> None:  # type: ignore[no-untyped-def]
    canvas = fig.canvas
    if not hasattr(canvas, "get_renderer"):  # a figure closed before it was saved (again): savefig still works
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    w, h = fig.get_size_inches()
    suptitle = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) is not None else ""
    path = os.path.relpath(os.path.abspath(os.fspath(fname)), _CWD).replace(os.sep, "/")
    _write(
        {
            "kind": "figure",
            "path": path,
            "tight": tight,
            "width_in": float(w),
            "height_in": float(h),
            "dpi": float(fig.dpi),
            "suptitle": suptitle,
            "fig_legends": [
                {"bbox": _bbox(lg, renderer), "labels": [t.get_text() for t in lg.get_texts()]} for lg in fig.legends
            ],
            "axes": [_axes_record(ax, renderer) for ax in fig.axes if ax.get_visible()],
            "texts": _texts(fig, renderer),
        }
    )


def install() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    original = Figure.savefig

    def savefig(self, fname, *args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(self, fname, *args, **kwargs)
        if isinstance(fname, str | os.PathLike):
            try:
                _record(self, fname, kwargs.get("bbox_inches") == "tight")
            except Exception as exc:  # the probe must never break the user's script
                _write({"kind": "probe_error", "path": os.fspath(fname), "error": repr(exc)[:300]})
        return result

    Figure.savefig = savefig  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        sys.stderr.write("usage: python _shoal_figprobe.py SCRIPT.py\n")
        return 2
    script = argv[1]
    meta = os.path.join(_CWD, META_FILE)
    if os.path.exists(meta):
        os.remove(meta)
    install()
    sys.addaudithook(_audit)
    sys.argv = argv[1:]
    sys.path.insert(0, _CWD)
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        _write({"kind": "reads", "paths": sorted(_reads)})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
