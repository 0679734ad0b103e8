"""What else was tried for the score head, and did not help: feature blocks and models beside the shipped ones.

Every variant is scored the same way, on the shared ``train`` split (479 papers), with the same 5 stratified folds
(one level of cross-validation, unlike the nested CV of ``bench_reviewer.py --head``: for comparing variants, not
for quoting): ROC AUC and Pearson r of the out-of-fold predicted rating, and the best balanced accuracy over
thresholds (optimistic, for comparison only). Stacks are non-negative linear regressions fitted out of fold.

    PYTHONPATH=. python bench/bench_reviewer_ablations.py

Variants: the shipped blocks (TF-IDF ridge, structure ridge, their stack); a TF-IDF block of the reference list
(which works a paper cites); extra counts (reference years and venues, "state of the art", "we propose",
decimals, +-, words, pages, "ablation", "github"); a random forest and gradient boosting on the counts; other
ridge strengths and vocabulary sizes of the text block; the text block fitted on the rating plus the decision, or as
a logistic regression on the decision; an NB-SVM (naive-Bayes log-count ratios of binary n-grams, then a
logistic regression); character 3-5-grams of the body; word n-grams of the abstract and the first two sections
alone; the text block with training papers weighted by their number of reviews or their reviewers' agreement, or
fitted on the lowest or median rating instead of the mean; blocks of one part of the paper each (experiment,
method, related-work and conclusion sections by heading, the appendix, figure and table captions, the section
headings); twelve writing-style measures; the text block on the n-grams most correlated with the rating.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.feature_selection import f_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reviewer.document import PaperText
from reviewer.head import TOKEN_PATTERN, tfidf
from reviewer.head_data import training_set
from reviewer.head_fit import TrainingSet

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "reviewer" / "iclr2022"


class Ablation:
    def __init__(self, ts: TrainingSet) -> None:
        self.ts = ts
        self.y = ts.rating
        self.n = len(ts)
        self.folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(np.zeros(self.n), ts.accept))

    def text(
        self,
        counts: sp.csr_matrix,
        alpha: float = 0.5,
        max_features: int = 20000,
        target: np.ndarray | None = None,
        logistic_c: float | None = None,
        weight: np.ndarray | None = None,
    ) -> np.ndarray:
        """Out-of-fold predictions of the shipped text block (ridge on the rating), or of a variant of it: another
        regression ``target``, training papers weighted by ``weight``, or a logistic regression on the decision with
        ``C = logistic_c``."""
        y = self.y if target is None else target
        out = np.zeros(self.n)
        for a, b in self.folds:
            sub = counts[a]
            df = np.asarray((sub > 0).sum(axis=0)).ravel()
            keep = np.flatnonzero((df >= 3) & (df <= 0.9 * len(a)))
            if len(keep) > max_features:
                total = np.asarray(sub[:, keep].sum(axis=0)).ravel()
                keep = np.sort(keep[np.argsort(-total, kind="stable")[:max_features]])
            idf = np.log((1 + len(a)) / (1 + df[keep])) + 1.0
            train, test = tfidf(sub[:, keep], idf), tfidf(counts[b][:, keep], idf)
            if logistic_c is not None:
                clf = LogisticRegression(C=logistic_c, max_iter=2000).fit(train, self.ts.accept[a])
                out[b] = clf.decision_function(test)
            else:
                w = None if weight is None else weight[a]
                out[b] = Ridge(alpha=alpha).fit(train, y[a], sample_weight=w).predict(test)
        return out

    def nbsvm(self, counts: sp.csr_matrix, c: float) -> np.ndarray:
        """Out-of-fold decision values of an NB-SVM: binary n-grams scaled by their naive-Bayes log-count ratio
        between accepted and rejected training papers, then a logistic regression of the decision."""
        x = sp.csr_matrix((counts > 0).astype(np.float64))
        out = np.zeros(self.n)
        for a, b in self.folds:
            y = self.ts.accept[a]
            df = np.asarray(x[a].sum(axis=0)).ravel()
            keep = np.flatnonzero((df >= 3) & (df <= 0.9 * len(a)))
            train, test = x[a][:, keep], x[b][:, keep]
            pos = np.asarray(train[y].sum(axis=0)).ravel() + 1.0
            neg = np.asarray(train[~y].sum(axis=0)).ravel() + 1.0
            ratio = np.log((pos / pos.sum()) / (neg / neg.sum()))
            clf = LogisticRegression(C=c, max_iter=3000).fit(sp.csr_matrix(train.multiply(ratio)), y)
            out[b] = clf.decision_function(sp.csr_matrix(test.multiply(ratio)))
        return out

    def documents(self, docs: list[str], vectorizer: Callable[[], TfidfVectorizer], alpha: float) -> np.ndarray:
        """Out-of-fold ridge predictions on a vectorizer fitted to each fold's training documents."""
        out = np.zeros(self.n)
        for a, b in self.folds:
            vec = vectorizer()
            train = vec.fit_transform([docs[i] for i in a])
            out[b] = Ridge(alpha=alpha).fit(train, self.y[a]).predict(vec.transform([docs[i] for i in b]))
        return out

    def dense(self, x: np.ndarray, make: Callable[[], Any] | None = None) -> np.ndarray:
        out = np.zeros(self.n)
        for a, b in self.folds:
            if make is None:
                scaler = StandardScaler().fit(x[a])
                out[b] = Ridge(alpha=300.0).fit(scaler.transform(x[a]), self.y[a]).predict(scaler.transform(x[b]))
            else:
                out[b] = make().fit(x[a], self.y[a]).predict(x[b])
        return out

    def stack(self, *preds: np.ndarray) -> np.ndarray:
        x = np.column_stack(preds)
        out = np.zeros(self.n)
        inner = StratifiedKFold(5, shuffle=True, random_state=1).split(np.zeros(self.n), self.ts.accept)
        for a, b in inner:
            out[b] = LinearRegression(positive=True).fit(x[a], self.y[a]).predict(x[b])
        return out

    def row(self, name: str, pred: np.ndarray) -> dict[str, Any]:
        acc = self.ts.accept
        thresholds = np.quantile(pred, np.linspace(0.05, 0.95, 91))
        best_ba = max(balanced_accuracy_score(acc, pred >= t) for t in thresholds)
        r = float(np.corrcoef(pred, self.y)[0, 1])
        auc = float(roc_auc_score(acc, pred))
        print(f"{name:44} AUC {auc:.3f}   best BA {best_ba:.3f}   r {r:.3f}", flush=True)
        return {"variant": name, "auc": round(auc, 4), "best_ba": round(float(best_ba), 4), "r": round(r, 4)}


def extra_counts(paper: PaperText) -> list[float]:
    full = paper.full_text(with_appendix=True)
    body = paper.full_text(with_appendix=False)
    refs = paper.references
    years = [int(x) for x in re.findall(r"\b(19[5-9]\d|20[0-2]\d)\b", refs)]

    def count(pattern: str, text: str) -> float:
        return float(np.log1p(len(re.findall(pattern, text, re.IGNORECASE))))

    return [
        float(np.log1p(len(years))),
        float(np.mean([y >= 2020 for y in years])) if years else 0.0,
        float(np.median(years)) if years else 2015.0,
        count(r"arxiv", refs),
        count(r"NeurIPS|Neural Information|NIPS", refs),
        count(r"ICML|International Conference on Machine Learning", refs),
        count(r"ICLR|Learning Representations", refs),
        count(r"state[- ]of[- ]the[- ]art", full),
        count(r"\bwe (?:propose|introduce|present)\b", body),
        count(r"\d+\.\d+", full),
        count(r"±|\\pm", full),
        float(np.log1p(paper.body_words)),
        float(np.log1p(paper.pages or 0)),
        count(r"ablation", full),
        count(r"github", full),
    ]


def style(paper: PaperText) -> list[float]:
    """Writing-style measures of the body: sentence length (mean, spread), word length, vocabulary richness, and
    rates of hedges, first person, intensifiers, theorem words, percentages, questions, passives, novelty claims."""
    body = paper.full_text(with_appendix=False)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", body) if len(s) > 20]
    lengths = np.array([len(s.split()) for s in sentences]) if sentences else np.zeros(1)
    tokens = re.findall(r"[A-Za-z]+", body.lower())
    n = max(len(tokens), 1)

    def rate(words: set[str]) -> float:
        return sum(t in words for t in tokens) / n

    return [
        float(lengths.mean()),
        float(lengths.std()),
        float(np.mean([len(t) for t in tokens])) if tokens else 0.0,
        len(set(tokens[:5000])) / max(min(n, 5000), 1),
        rate({"may", "might", "could", "possibly", "perhaps", "likely"}),
        rate({"we", "our", "us"}),
        rate({"significantly", "substantially", "dramatically", "remarkably"}),
        rate({"theorem", "lemma", "proof", "proposition"}),
        len(re.findall(r"\d+(?:\.\d+)?\s?%", body)) / n * 1000,
        body.count("?") / n * 1000,
        len(re.findall(r"\b(?:is|are|was|were|be|been)\s+\w+ed\b", body)) / n * 100,
        rate({"novel", "first", "new"}),
    ]


def parts(ab: Ablation, ts: TrainingSet, text: np.ndarray, structure: np.ndarray) -> None:
    """Blocks of one part of the paper each (sections by heading, the appendix, captions, the outline), writing
    style, and the text block on the n-grams most correlated with the rating in each training fold."""

    def words() -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_df=0.9, sublinear_tf=True, max_features=30000)

    def sections(p: PaperText, pattern: str) -> str:
        return " ".join(s.text for s in p.sections if re.search(pattern, s.heading, re.I)) or p.abstract

    full = [p.full_text(with_appendix=True) for p in ts.papers]
    docs = {
        "experiment sections": [sections(p, r"experiment|result|evaluat|empiric|benchmark") for p in ts.papers],
        "method sections": [sections(p, r"method|approach|model|framework|algorithm|propos") for p in ts.papers],
        "related-work sections": [sections(p, r"related|background|prior") for p in ts.papers],
        "conclusion sections": [sections(p, r"conclu|discussion|limitation|future") for p in ts.papers],
        "appendix text": [" ".join(s.text for s in p.appendix)[:40000] or "noappendix" for p in ts.papers],
        "figure and table captions": [
            " ".join(re.findall(r"(?:Figure|Fig\.|Table)\s*\d+[:.][^\n]{0,300}", f)) or "nocaption" for f in full
        ],
    }
    for name, texts in docs.items():
        ab.row(name, block := ab.documents(texts, words, alpha=1.0))
        ab.row("  text + structure + that", ab.stack(text, structure, block))
    outline = [" ; ".join(s.heading for s in p.sections) for p in ts.papers]
    ab.row("section headings", head := ab.documents(outline, lambda: TfidfVectorizer(ngram_range=(1, 2)), alpha=3.0))
    ab.row("  text + structure + that", ab.stack(text, structure, head))
    st = np.array([style(p) for p in ts.papers])
    ab.row("writing style (12 measures)", written := ab.dense(st))
    ab.row("  text + structure + that", ab.stack(text, structure, written))
    ab.row("  text + (structure and style)", ab.stack(text, ab.dense(np.hstack([ts.structure, st]))))
    for k in (2000, 5000):
        out = np.zeros(ab.n)
        for a, b in ab.folds:
            sub = ts.counts[a]
            df = np.asarray((sub > 0).sum(axis=0)).ravel()
            keep = np.flatnonzero((df >= 3) & (df <= 0.9 * len(a)))
            idf = np.log((1 + len(a)) / (1 + df[keep])) + 1.0
            train, test = tfidf(sub[:, keep], idf), tfidf(ts.counts[b][:, keep], idf)
            top = np.argsort(-np.nan_to_num(f_regression(train, ts.rating[a])[0]))[:k]
            out[b] = Ridge(alpha=0.5).fit(train[:, top], ts.rating[a]).predict(test[:, top])
        ab.row(f"text block on the {k} n-grams most correlated with the rating", out)
        ab.row("  that + structure", ab.stack(out, structure))


def main() -> None:
    t0 = time.monotonic()
    ts, _, _ = training_set(
        DATA / "labels.jsonl", DATA / "texts", splits=["train"], ngram_max=2, embeddings=False, cache_dir=None
    )
    ab = Ablation(ts)
    print(f"{len(ts)} train papers, 5 folds, loaded in {time.monotonic() - t0:.0f} s\n")
    text = ab.text(ts.counts)
    structure = ab.dense(ts.structure)
    ab.row("text (shipped block)", text)
    ab.row("structure (shipped block)", structure)
    ab.row("text + structure (the shipped head's stack)", ab.stack(text, structure))
    refs = CountVectorizer(ngram_range=(1, 2), token_pattern=TOKEN_PATTERN, dtype=np.float64)
    ref_counts = sp.csr_matrix(refs.fit_transform([p.references for p in ts.papers]))
    ref_block = ab.text(ref_counts, alpha=3.0)
    ab.row("reference-list TF-IDF", ref_block)
    ab.row("text + structure + reference list", ab.stack(text, structure, ref_block))
    extra = np.array([extra_counts(p) for p in ts.papers])
    both = np.hstack([ts.structure, extra])
    ab.row("extra counts", ab.dense(extra))
    ab.row("text + (structure and extra counts)", ab.stack(text, ab.dense(both)))
    forest = ab.dense(both, lambda: RandomForestRegressor(300, min_samples_leaf=5, random_state=0))
    ab.row("random forest on structure + extra", forest)
    ab.row("text + structure + that forest", ab.stack(text, structure, forest))
    boost = ab.dense(both, lambda: HistGradientBoostingRegressor(max_depth=3, learning_rate=0.05, max_iter=200))
    ab.row("gradient boosting on structure + extra", boost)
    for alpha in (0.2, 2.0):
        ab.row(f"text ridge alpha {alpha} (shipped 0.5)", ab.text(ts.counts, alpha=alpha))
    for size in (50_000, 100_000):
        ab.row(f"text + structure, {size} terms (shipped 20000)", ab.stack(ab.text(ts.counts, 1.0, size), structure))
    accept = ts.accept.astype(float)
    for k in (1.0, 2.0):
        mixed = ab.text(ts.counts, target=ts.rating + k * accept)
        ab.row(f"text on rating + {k:g} x accept", mixed)
        ab.row("  that + structure", ab.stack(mixed, structure))
    logistic = ab.text(ts.counts, logistic_c=3.0)
    ab.row("logistic regression on accept, C 3 (text)", logistic)
    ab.row("  text + that + structure", ab.stack(text, logistic, structure))
    nb = ab.nbsvm(ts.counts, c=0.1)
    ab.row("NB-SVM, C 0.1 (text)", nb)
    ab.row("  text + that + structure", ab.stack(text, nb, structure))
    bodies = [p.full_text(with_appendix=False)[:30000] for p in ts.papers]

    def chars() -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 5), min_df=3, max_df=0.9, sublinear_tf=True, max_features=50000
        )

    char_block = ab.documents(bodies, chars, alpha=1.0)
    ab.row("character 3-5-grams, first 30,000 body chars", char_block)
    ab.row("  text + structure + that", ab.stack(text, structure, char_block))
    fronts = [p.abstract + " " + " ".join(s.text for s in p.sections[:2]) for p in ts.papers]

    def words() -> TfidfVectorizer:
        return TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_df=0.9, sublinear_tf=True)

    front_block = ab.documents(fronts, words, alpha=1.0)
    ab.row("abstract + first two sections, word n-grams", front_block)
    ab.row("  text + structure + that", ab.stack(text, structure, front_block))
    labels = {row["paper_id"]: row for row in map(json.loads, (DATA / "labels.jsonl").open())}
    ratings = [np.asarray(labels[i]["ratings"], dtype=float) for i in ts.ids]
    n_reviews = np.array([len(r) for r in ratings], dtype=float)
    agreement = n_reviews / (1.0 + np.array([r.var() for r in ratings]))
    for name, weight in (("the number of reviews", n_reviews), ("reviews / (1 + rating variance)", agreement)):
        ab.row(f"  text weighted by {name} + structure", ab.stack(ab.text(ts.counts, weight=weight), structure))
    lowest, median = np.array([r.min() for r in ratings]), np.array([np.median(r) for r in ratings])
    for name, target in (("lowest", lowest), ("median", median)):
        ab.row(f"text on the {name} rating", other := ab.text(ts.counts, target=target))
        ab.row("  text + that + structure", ab.stack(text, other, structure))
    parts(ab, ts, text, structure)
    print(f"\n{time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
