"""Demo baseline (template mode): full-batch gradient descent with momentum on synthetic least squares.

The search starts from this working program; the coder model tunes, extends and ablates it.
"""

import numpy as np
from shoal_helper import get_seed, log_metric, save_results

lr = 0.01
steps = 60
momentum = 0.5

rng = np.random.default_rng(get_seed())
X = rng.normal(size=(200, 5))
w_true = np.arange(1, 6, dtype=float)
y = X @ w_true + 0.5 * rng.normal(size=200)
X_val = rng.normal(size=(200, 5))
y_val = X_val @ w_true + 0.5 * rng.normal(size=200)

w = np.zeros(5)
v = np.zeros(5)
train, val = [], []
for _ in range(steps):
    grad = 2 * X.T @ (X @ w - y) / len(y)
    v = momentum * v + grad
    w = w - lr * v
    train.append(float(np.mean((X @ w - y) ** 2)))
    val.append(float(np.mean((X_val @ w - y_val) ** 2)))

save_results("learning_curve", {"step": list(range(steps)), "train_mse": train, "val_mse": val})
log_metric("val_mse", val[-1], dataset="synthetic", direction="minimize")
