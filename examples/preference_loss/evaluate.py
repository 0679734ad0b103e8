"""Preference-loss evaluator: trains a linear policy with the candidate's preference_loss on synthetic pairwise
preferences (25% label noise) and scores held-out preference accuracy, averaged over three seeds.

The policy scores an item x as theta . x; the reference policy is a noisy copy of the true utility. Training is
plain gradient descent from the reference, with the loss's derivative taken by central differences, so any
numpy function of the margin works. An invalid loss (wrong shape, non-finite values or gradients) scores 0.
"""

import numpy as np
from shoal_evolve import load_program

DIM, TRAIN, TEST, FLIP, BETA, STEPS, LR, EPS = 16, 160, 4000, 0.25, 0.1, 300, 0.5, 1e-4
SEEDS = (0, 1, 2)


def make_data(seed):
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=DIM)
    theta_ref = w_true + rng.normal(scale=2.0, size=DIM)

    def pairs(n, flip):
        a, b = rng.normal(size=(n, DIM)), rng.normal(size=(n, DIM))
        better = (a - b) @ w_true > 0
        if flip:
            better ^= rng.random(n) < FLIP
        chosen = np.where(better[:, None], a, b)
        rejected = np.where(better[:, None], b, a)
        return chosen - rejected

    return w_true, theta_ref, pairs(TRAIN, True), pairs(TEST, False)


def train(loss, theta_ref, diff):
    theta = theta_ref.copy()
    for _ in range(STEPS):
        margin = BETA * (diff @ (theta - theta_ref))
        grad_m = (np.asarray(loss(margin + EPS)) - np.asarray(loss(margin - EPS))) / (2 * EPS)
        if grad_m.shape != margin.shape or not np.all(np.isfinite(grad_m)):
            raise ValueError(f"preference_loss must return one finite value per margin (shape {margin.shape})")
        theta = theta - LR * BETA * (grad_m[:, None] * diff).mean(axis=0)
    return theta


def evaluate(program_path):
    loss = load_program(program_path).preference_loss
    accs, ref_accs = [], []
    for seed in SEEDS:
        _, theta_ref, train_diff, test_diff = make_data(seed)
        out = np.asarray(loss(np.linspace(-5, 5, 11)))
        if out.shape != (11,) or not np.all(np.isfinite(out)):
            return {
                "combined_score": 0.0,
                "correct": False,
                "error": "preference_loss must map an array of margins to an array of finite losses of the same shape",
            }
        theta = train(loss, theta_ref, train_diff)
        if not np.all(np.isfinite(theta)):
            return {"combined_score": 0.0, "correct": False, "error": "training diverged (non-finite weights)"}
        accs.append(float(np.mean(test_diff @ theta > 0)))
        ref_accs.append(float(np.mean(test_diff @ theta_ref > 0)))
    acc = float(np.mean(accs))
    return {
        "combined_score": acc,
        "public": {"heldout_accuracy": acc, "reference_accuracy": float(np.mean(ref_accs))},
        "private": {"per_seed": accs},
        "correct": True,
    }
