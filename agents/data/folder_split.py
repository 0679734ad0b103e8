"""Held-out files for a data set whose folder names are the labels (``train/cat/*.png``, ``train/dog/*.png``).

``--holdout 0.2`` without ``--target`` on such a directory (``--test DIR`` with class folders: all its files are
held out, the data directory's are the training files): the label is the class folder's name. In every class
folder exactly round(0.2 x its files) are held out (at least one on each side when it has two or more; a seeded
choice, so the same data gives the same split). Shoal writes, under the cache dir, keyed by the folders' listing:

- ``train/<class folder>/``: each class folder without its held-out files (hard links to the user's files where
  the file system allows, copies elsewhere); a node sees it over the class folder itself, the rest of the user's
  directory as it is (agents.data.session);
- ``features/files/000001.png`` ...: the held-out files, copied under numbers in a shuffled order (neither their
  name nor their place in the list tells the class), and ``features/test.csv``, one column ``file``: their paths
  as a node sees them;
- ``labels.csv``: their class folders' names, read only by Shoal's evaluator, never mounted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.data.split_cache import COUNTS, build_once
from agents.errors import UserInputError

LABELS = "labels.csv"
FILES = "files"
LIST = "test.csv"
COLUMN = "file"


def label_folders(data_dir: Path) -> tuple[str, str] | None:
    """(parent, extension) of the family of sibling folders that each hold files of one extension (two folders
    or more: the usual layout of a data set whose folder names are the labels) with the most files, or None."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)  # (parent, ext) -> folder -> files
    for here, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(here).relative_to(data_dir)
        if rel == Path("."):
            continue
        parent = rel.parent.as_posix()
        for name in files:
            if not name.startswith(".") and Path(name).suffix:
                counts[("" if parent == "." else parent, Path(name).suffix.lower())][rel.name] += 1
    families = [(sum(c.values()), key) for key, c in counts.items() if len(c) >= 2]
    return max(families)[1] if families else None


def class_files(data_dir: Path, parent: str, ext: str) -> dict[str, list[Path]]:
    """Class folder (relative to ``data_dir``) -> its files of extension ``ext`` (sorted; hidden ones skipped):
    every folder directly under ``parent`` that holds one."""
    base = data_dir / parent
    out: dict[str, list[Path]] = {}
    for folder in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f for f in folder.iterdir() if f.is_file() and f.suffix.lower() == ext and not f.name.startswith(".")
        )
        if files:
            out[folder.relative_to(data_dir).as_posix()] = files
    return out


def _held_out(files: list[Path], frac: float, rng: random.Random) -> set[Path]:
    n = len(files)
    k = 0 if n < 2 else max(1, min(n - 1, round(frac * n)))
    return set(rng.sample(files, k))


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or hard links not allowed here
        shutil.copyfile(src, dst)


def _mirror(folder: Path, dest: Path, leave_out: set[Path]) -> int:
    """``folder``'s tree under ``dest`` without ``leave_out``; the number of files of it kept."""
    kept = 0
    for here, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out = dest / Path(here).relative_to(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(files):
            src = Path(here) / name
            if src not in leave_out and not name.startswith(".") and src.is_file():  # a link: what it points at
                _link_or_copy(src, out / name)
                kept += 1
    return kept


def _fingerprint(classes: dict[str, list[Path]]) -> str:
    h = hashlib.sha256()
    for rel, files in classes.items():
        for f in files:
            st = f.stat()
            h.update(f"{rel}/{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _family(data_dir: Path, option: str) -> tuple[str, str, dict[str, list[Path]]]:
    family = label_folders(data_dir)
    if family is None:
        raise UserInputError(
            f"{option}: {data_dir} has no folder per class (such as train/cat/*.png, train/dog/*.png) to take "
            "the labels from; give --target COLUMN, the column of a table to predict"
        )
    parent, ext = family
    return parent, ext, class_files(data_dir, parent, ext)


def folder_split_root(data_dir: Path, cache_dir: Path, seed: int, frac: float, heldout_dir: str) -> Path:
    """``--holdout``: the split's directory in the cache, built once per listing, fraction and seed (and reused);
    ``heldout_dir``: where a node sees ``features/`` (the paths in ``test.csv`` start with it)."""
    parent, ext, classes = _family(data_dir, "--holdout without --target")
    key = {"folders": [parent, ext], "listing": _fingerprint(classes), "holdout": frac, "seed": seed}

    def write(tmp: Path) -> None:
        held: list[tuple[Path, str]] = []
        kept = 0
        for rel, files in classes.items():
            leave_out = _held_out(files, frac, random.Random(f"{seed}:{rel}"))
            kept += _mirror(data_dir / rel, tmp / "train" / rel, leave_out)
            held += [(f, Path(rel).name) for f in sorted(leave_out)]
        if len(classes) < 2 or not held or not kept:
            raise UserInputError(
                f"--holdout: {data_dir / parent} has {len(classes)} class folder(s) with {ext} files and the split "
                "left no held-out or no training files; each class needs two files or more"
            )
        names = sorted(src.relative_to(data_dir).as_posix() for src, _ in held)
        _write_held(tmp, held, ext, heldout_dir, seed)
        _write_counts(tmp, len(held), kept, classes, (parent, ext), names)

    return _build(cache_dir, {**key, "heldout_dir": heldout_dir}, write)


def test_split_root(data_dir: Path, test_dir: Path, cache_dir: Path, seed: int, heldout_dir: str) -> Path:
    """``--test DIR``: every file of ``test_dir``'s class folders is held out, labelled by its folder's name; the
    training files are the data directory's class folders, as they are."""
    parent, ext, classes = _family(data_dir, f"--test {test_dir} (a folder of class folders)")
    _, test_ext, tests = _family(test_dir, f"--test {test_dir}")
    if test_ext != ext:
        raise UserInputError(f"--test {test_dir}: its class folders hold {test_ext} files, the training folders {ext}")
    known = {Path(rel).name for rel in classes}
    unknown = sorted(Path(rel).name for rel in tests if Path(rel).name not in known)
    if unknown:
        raise UserInputError(
            f"--test {test_dir}: class folder(s) {', '.join(unknown[:5])} are not among the training classes "
            f"({', '.join(sorted(known)[:10])}); a program cannot predict a class it never saw"
        )
    key = {"folders": [parent, ext], "listing": _fingerprint(classes), "test": _fingerprint(tests), "seed": seed}

    def write(tmp: Path) -> None:
        held = [(f, Path(rel).name) for rel, files in tests.items() for f in files]
        _write_held(tmp, held, ext, heldout_dir, seed)
        _write_counts(tmp, len(held), sum(len(f) for f in classes.values()), classes, (parent, ext), [])

    return _build(cache_dir, {**key, "heldout_dir": heldout_dir}, write)


def _build(cache_dir: Path, key_data: dict[str, Any], write: Callable[[Path], None]) -> Path:
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()[:16]
    return build_once(Path(cache_dir) / "data-splits" / f"folders-{key}", write)


def _write_held(tmp: Path, held: list[tuple[Path, str]], ext: str, heldout_dir: str, seed: int) -> None:
    """The held-out files under numbers in a shuffled order, their list, and their labels (never mounted)."""
    held = list(held)
    random.Random(f"{seed}:order").shuffle(held)
    files_dir = tmp / "features" / FILES
    files_dir.mkdir(parents=True)
    with (
        (tmp / "features" / LIST).open("w", newline="", encoding="utf-8") as fl,
        (tmp / LABELS).open("w", newline="", encoding="utf-8") as fla,
    ):
        wl, wla = csv.writer(fl), csv.writer(fla)
        wl.writerow([COLUMN])
        wla.writerow(["label"])
        for i, (src, label) in enumerate(held, 1):
            name = f"{i:06d}{ext}"
            shutil.copyfile(src, files_dir / name)  # a copy: no shared inode or time stamp tells its folder
            wl.writerow([f"{heldout_dir}/{FILES}/{name}"])
            wla.writerow([label])


def _write_counts(
    tmp: Path, held: int, kept: int, classes: dict[str, list[Path]], family: tuple[str, str], names: list[str]
) -> None:
    counts = {"held": held, "kept": kept, "unlabelled": 0, "classes": list(classes), "parent": family[0]}
    counts |= {"ext": family[1], "names": names}
    (tmp / COUNTS).write_text(json.dumps(counts), encoding="utf-8")


def read_counts(root: Path) -> dict[str, Any]:
    """What ``_write_counts`` recorded: held, kept, classes (class folders), parent, ext, names (the held-out files'
    paths in the data directory, to find other files that name them)."""
    out: dict[str, Any] = json.loads((root / COUNTS).read_text(encoding="utf-8"))
    return out
