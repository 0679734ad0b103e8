"""Model-merging evaluator: trains four softmax regressions on class-skewed subsets of scikit-learn's digits, runs
the candidate's optimise_merge with a budget of fitness calls on a merge-dev split, and scores the merged model's
accuracy on a held-out validation split (never shown to the optimiser)."""

import numpy as np
from shoal_evolve import load_program
from sklearn.datasets import load_digits

BUDGET, MODELS, CLASSES, STEPS, LR = 120, 4, 10, 150, 0.5
GROUPS = ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [0, 2, 4, 6, 8], [1, 3, 5, 7, 9])


class BudgetExceeded(Exception):
    pass


def softmax_regression(x, y, rng):
    w = np.zeros((x.shape[1], CLASSES))
    b = np.zeros(CLASSES)
    onehot = np.eye(CLASSES)[y]
    for _ in range(STEPS):
        logits = x @ w + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(y)
        w -= LR * (x.T @ g)
        b -= LR * g.sum(axis=0)
    return w, b


def data():
    digits = load_digits()
    x = digits.data / 16.0
    y = digits.target
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(y))
    train, dev, val = idx[:1000], idx[1000:1400], idx[1400:]
    models = []
    for group in GROUPS:
        in_group = np.isin(y[train], group)
        keep = train[in_group | (rng.random(len(train)) < 0.08)]
        models.append(softmax_regression(x[keep], y[keep], rng))
    return x, y, dev, val, models


def merge(models, coeffs):
    c = np.asarray(coeffs, dtype=float)
    if c.shape == (MODELS,):
        c = np.repeat(c[:, None], CLASSES, axis=1)
    if c.shape != (MODELS, CLASSES) or not np.all(np.isfinite(c)):
        raise ValueError(f"coefficients must be finite with shape ({MODELS},) or ({MODELS}, {CLASSES}), got {c.shape}")
    w = sum(c[k][None, :] * models[k][0] for k in range(MODELS))
    b = sum(c[k] * models[k][1] for k in range(MODELS))
    return w, b


def accuracy(wb, x, y):
    w, b = wb
    return float(np.mean(np.argmax(x @ w + b, axis=1) == y))


def evaluate(program_path):
    optimise = load_program(program_path).optimise_merge
    x, y, dev, val, models = data()
    calls = [0]

    def fitness(coeffs):
        calls[0] += 1
        if calls[0] > BUDGET:
            raise BudgetExceeded(f"fitness was called more than the budget of {BUDGET} times")
        return accuracy(merge(models, coeffs), x[dev], y[dev])

    try:
        best = optimise(fitness, MODELS, CLASSES, np.random.default_rng(1), BUDGET)
        merged = merge(models, best)
    except (BudgetExceeded, ValueError) as exc:
        return {"combined_score": 0.0, "correct": False, "error": str(exc)}
    val_acc = accuracy(merged, x[val], y[val])
    uniform = accuracy(merge(models, np.ones(MODELS) / MODELS), x[val], y[val])
    return {
        "combined_score": val_acc,
        "public": {
            "val_accuracy": val_acc,
            "dev_accuracy": accuracy(merged, x[dev], y[dev]),
            "fitness_calls": calls[0],
            "uniform_merge_val_accuracy": uniform,
        },
        "private": {"single_models_val": [accuracy(m, x[val], y[val]) for m in models]},
        "correct": True,
    }
