"""Fitting the score head (``reviewer.head``) and cross-validating it, on a labelled set of blind-cleaned papers.

Honesty rules, all enforced here:

- the vocabulary, idf, scalers, ridge blocks, stacker weights, Platt parameters and threshold of a head are
  fitted on its training papers only; the stacker, calibration and threshold see only out-of-fold predictions
  (``HeadConfig.folds`` inner folds);
- ``cross_validate`` refits all of it inside each outer training fold (nested), so a paper is never scored by a
  head that saw it;
- every paper is tokenised once (``CountVectorizer``, all n-grams); a fold's vocabulary is chosen from the
  document frequencies of its training rows only, which is what fitting ``TfidfVectorizer`` on them would do.

The leakage guard (``front_matter_cv``) is a TF-IDF + logistic regression on the first 1,500 characters of the
cleaned text: if it beats chance, something in the front matter (not the science) predicts the decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from reviewer.document import PaperText
from reviewer.features import front_text, head_text
from reviewer.head import TOKEN_PATTERN, Block, HeadConfig, HeadMeta, ScoreHead, Stacker, sigmoid_p, tfidf
from reviewer.metrics import balanced_accuracy, fit_threshold, roc_auc


@dataclass
class TrainingSet:
    """Labelled papers with their features computed once."""

    ids: list[str]
    papers: list[PaperText]
    accept: np.ndarray
    rating: np.ndarray
    counts: sp.csr_matrix  # every n-gram of every paper
    terms: np.ndarray
    structure: np.ndarray
    embedding: np.ndarray | None = None
    llm: np.ndarray | None = None  # (n, 9) review sub-scores; NaN rows where a paper has no review

    def __len__(self) -> int:
        return len(self.ids)


def tokenize(papers: list[PaperText], ngram_max: int) -> tuple[sp.csr_matrix, np.ndarray]:
    vec = CountVectorizer(ngram_range=(1, ngram_max), token_pattern=TOKEN_PATTERN, lowercase=True, dtype=np.float64)
    counts = sp.csr_matrix(vec.fit_transform([head_text(p) for p in papers]))
    return counts, vec.get_feature_names_out()


@dataclass
class Fitted:
    keep: np.ndarray
    idf: np.ndarray
    blocks: dict[str, Block]


def _ridge_block(x: np.ndarray, y: np.ndarray, alpha: float, standardise: bool) -> Block:
    mean = x.mean(axis=0)
    scale = StandardScaler().fit(x).scale_ if standardise else np.ones(x.shape[1])
    model = Ridge(alpha=alpha).fit((x - mean) / scale, y)
    return Block(coef=np.asarray(model.coef_, dtype=float), intercept=float(model.intercept_), mean=mean, scale=scale)


def fit_blocks(ts: TrainingSet, rows: np.ndarray, cfg: HeadConfig, with_llm: bool = False) -> Fitted:
    """Fit every block on ``rows`` (the rating is the target)."""
    sub = ts.counts[rows]
    n = len(rows)
    df = np.asarray((sub > 0).sum(axis=0)).ravel()
    keep = np.flatnonzero((df >= cfg.min_df) & (df <= cfg.max_df * n))
    if len(keep) > cfg.max_features:
        total = np.asarray(sub[:, keep].sum(axis=0)).ravel()
        keep = np.sort(keep[np.argsort(-total, kind="stable")[: cfg.max_features]])
    idf = np.log((1 + n) / (1 + df[keep])) + 1.0
    x_text = tfidf(sub[:, keep], idf)
    y = ts.rating[rows]
    mean = np.asarray(x_text.mean(axis=0)).ravel()
    ridge = Ridge(alpha=cfg.alpha_text).fit(x_text, y)
    coef = np.asarray(ridge.coef_, dtype=float)
    blocks = {
        "text": Block(coef=coef, intercept=float(ridge.intercept_ + mean @ coef), mean=mean, scale=np.ones(len(keep))),
        "structure": _ridge_block(ts.structure[rows], y, cfg.alpha_structure, standardise=True),
    }
    if cfg.embeddings and ts.embedding is not None:
        blocks["embedding"] = _ridge_block(ts.embedding[rows], y, cfg.alpha_embedding, standardise=False)
    if with_llm and ts.llm is not None:
        blocks["llm"] = _ridge_block(ts.llm[rows], y, cfg.alpha_llm, standardise=True)
    return Fitted(keep=keep, idf=idf, blocks=blocks)


def block_predictions(ts: TrainingSet, rows: np.ndarray, fitted: Fitted) -> dict[str, np.ndarray]:
    out = {}
    for name, block in fitted.blocks.items():
        if name == "text":
            x = tfidf(ts.counts[rows][:, fitted.keep], fitted.idf)
            out[name] = np.asarray(block.intercept + x @ block.coef - float(block.mean @ block.coef), dtype=float)
        else:
            source = {"structure": ts.structure, "embedding": ts.embedding, "llm": ts.llm}[name]
            assert source is not None
            out[name] = block.predict(source[rows])
    return out


def fit_stacker(preds: dict[str, np.ndarray], rating: np.ndarray, accept: np.ndarray) -> Stacker:
    """Stack out-of-fold block predictions, Platt-scale the stacked rating, pick the threshold (all out of fold)."""
    names = list(preds)
    x = np.column_stack([preds[n] for n in names])
    lin = LinearRegression(positive=True).fit(x, rating)
    stacked = np.clip(lin.predict(x), 1.0, 10.0)
    platt = LogisticRegression(C=1e4, max_iter=1000).fit(stacked[:, None], accept)
    stacker = Stacker(
        blocks=names,
        weights=[float(w) for w in lin.coef_],
        intercept=float(lin.intercept_),
        platt_a=-float(platt.coef_[0][0]),
        platt_b=-float(platt.intercept_[0]),
        threshold=0.5,
    )
    p = sigmoid_p(stacker, stacked)
    stacker.threshold = round(fit_threshold(accept, p), 6)
    stacker.oof_balanced_accuracy = round(balanced_accuracy(accept, p >= stacker.threshold), 4)
    stacker.oof_auc = round(roc_auc(accept, p), 4)
    return stacker


def _folds(accept: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    return list(skf.split(np.zeros(len(accept)), accept))


def fit_head(ts: TrainingSet, rows: np.ndarray, cfg: HeadConfig, meta: dict[str, object] | None = None) -> ScoreHead:
    """A head fitted on ``rows`` of ``ts`` (with an LLM stacker when every row has review sub-scores)."""
    with_llm = ts.llm is not None and not np.isnan(ts.llm[rows]).any()
    oof: dict[str, np.ndarray] = {}
    for a, b in _folds(ts.accept[rows], cfg.folds, cfg.seed + 1):
        fitted = block_predictions(ts, rows[b], fit_blocks(ts, rows[a], cfg, with_llm))
        for name, pred in fitted.items():
            oof.setdefault(name, np.zeros(len(rows)))[b] = pred
    y, acc = ts.rating[rows], ts.accept[rows]
    stacker = fit_stacker({k: v for k, v in oof.items() if k != "llm"}, y, acc)
    stacker_llm = fit_stacker(oof, y, acc) if with_llm else None
    final = fit_blocks(ts, rows, cfg, with_llm)
    base = stacker.intercept + sum(
        w * final.blocks[b].predict(final.blocks[b].mean[None, :])[0]
        for b, w in zip(stacker.blocks, stacker.weights, strict=True)
    )
    head_meta = HeadMeta(
        config=cfg,
        stacker=stacker,
        stacker_llm=stacker_llm,
        base_rating=round(float(base), 4),
        n_train=len(rows),
        train_ids=[ts.ids[i] for i in rows],
        **(meta or {}),  # type: ignore[arg-type]
    )
    vocab = [str(t) for t in ts.terms[final.keep]]
    return ScoreHead(head_meta, vocab, final.idf, final.blocks)


def head_predict(head: ScoreHead, ts: TrainingSet, rows: np.ndarray, use_llm: bool = False) -> tuple[np.ndarray, ...]:
    """(rating, P(accept), accept decision) of ``rows`` of ``ts`` by ``head`` (features computed afresh)."""
    papers = [ts.papers[i] for i in rows]
    emb = ts.embedding[rows] if ts.embedding is not None and head.uses_embeddings else None
    feats = head.features(papers, emb)
    llm = ts.llm[rows] if use_llm and ts.llm is not None else None
    rating, p = head.predict(feats, llm)
    stacker = head.meta.stacker_llm if llm is not None and head.meta.stacker_llm else head.meta.stacker
    return rating, p, p >= stacker.threshold


@dataclass
class CVResult:
    rating: np.ndarray
    p_accept: np.ndarray
    decision: np.ndarray
    front_p: np.ndarray
    thresholds: list[float]


def front_matter_model(seed: int = 0) -> object:
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=TOKEN_PATTERN),
        LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed),
    )


def cross_validate(ts: TrainingSet, cfg: HeadConfig, k: int = 5, use_llm: bool = False) -> CVResult:
    """Nested k-fold CV of the whole head on ``ts``, and of the front-matter-only classifier on the same folds."""
    n = len(ts)
    res = CVResult(np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool), np.zeros(n), [])
    fronts = np.array([front_text(p) for p in ts.papers], dtype=object)
    for a, b in _folds(ts.accept, k, cfg.seed):
        head = fit_head(ts, a, cfg)
        res.rating[b], res.p_accept[b], res.decision[b] = head_predict(head, ts, b, use_llm)
        res.thresholds.append(head.meta.stacker.threshold)
        front = front_matter_model(cfg.seed).fit(list(fronts[a]), ts.accept[a])  # type: ignore[attr-defined]
        res.front_p[b] = front.predict_proba(list(fronts[b]))[:, 1]  # type: ignore[attr-defined]
    return res
