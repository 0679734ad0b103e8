"""Benchmark: how long Shoal takes to find the files that could show held-out labels (``--holdout``).

    python bench/bench_label_copies.py [--classes 10] [--per-class 5000] [--json]

Builds, in a temporary directory, an image data set of ``classes x per_class`` small files in class folders, a
table of file names and labels beside it, a gzipped copy of that table and a zip of one class folder, then times:

- ``label_copies``: held-out rows of the table (every file looked at for the target column);
- ``named_copies``: 20% of every class folder held out (every file outside the class folders looked at for the
  held-out files' names).

Printed: the files walked, the seconds, files per second, and what each found (the copies the bench planted).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import tempfile
import time
import zipfile
from pathlib import Path

from agents.data.label_copies import label_copies, named_copies


def build(root: Path, classes: int, per_class: int) -> tuple[list[str], list[str]]:
    """The data set; returns the class folders and the held-out files (20% of each folder, seeded)."""
    rng = random.Random(0)
    rows, held = ["file,label"], []
    folders = [f"images/c{c}" for c in range(classes)]
    for folder in folders:
        (root / folder).mkdir(parents=True)
        names = [f"{i:06d}.png" for i in range(per_class)]
        for name in names:
            (root / folder / name).write_bytes(b"\x89PNG")
            rows.append(f"{folder}/{name},{folder.rsplit('/', 1)[1]}")
        held += [f"{folder}/{n}" for n in rng.sample(names, per_class // 5)]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    with gzip.open(root / "labels.csv.gz", "wt") as fh:
        fh.write("\n".join(rows) + "\n")
    with zipfile.ZipFile(root / "first_class.zip", "w") as zf:
        for name in sorted((root / folders[0]).iterdir())[:100]:
            zf.write(name, f"{folders[0]}/{name.name}")
    (root / "README.md").write_text("images in one folder per class; labels.csv names them\n")
    return folders, held


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--per-class", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folders, held = build(root, args.classes, args.per_class)
        files = sum(1 for p in root.rglob("*") if p.is_file())
        t0 = time.perf_counter()
        rows = label_copies(root, "label", "labels.csv")
        t1 = time.perf_counter()
        names = named_copies(root, held, folders)
        t2 = time.perf_counter()
    out = {
        "files": files,
        "label_copies_s": round(t1 - t0, 3),
        "label_copies_files_per_s": round(files / (t1 - t0)),
        "label_copies_found": sorted(rows),
        "named_copies_s": round(t2 - t1, 3),
        "named_copies_found": sorted(names),
    }
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"files walked: {files:,}")
    rate = f"{out['label_copies_files_per_s']:,} files/s"
    print(f"held-out rows  (label_copies): {out['label_copies_s']} s, {rate}, found {out['label_copies_found']}")
    print(f"held-out files (named_copies): {out['named_copies_s']} s, found {out['named_copies_found']}")


if __name__ == "__main__":
    main()
