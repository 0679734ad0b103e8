"""Evolutionary model merging: find merge coefficients for four small digit classifiers (softmax regressions on
scikit-learn's digits, each trained on a different, class-skewed subset) so that the merged model classifies well.

optimise_merge(fitness, n_models, n_classes, rng, budget) returns coefficients of shape (n_models,) (one weight
per model) or (n_models, n_classes) (one weight per model and output class); the merged weights are the
coefficient-weighted sum of the models' weights. fitness(coeffs) is the merged model's accuracy on a merge-dev
split and may be called at most `budget` times; the score is accuracy on a separate validation split.
The initial optimiser is a genetic algorithm: a Dirichlet population, top-K elitism, crossover, Gaussian mutation.
"""

import numpy as np


# EVOLVE-BLOCK-START
def optimise_merge(fitness, n_models, n_classes, rng, budget):
    """A genetic algorithm over per-model merge coefficients on the simplex."""
    pop_size, elite, sigma = 12, 3, 0.1
    population = rng.dirichlet(np.ones(n_models), size=pop_size)
    scores = np.array([fitness(c) for c in population])
    used = pop_size
    while used + pop_size - elite <= budget:
        order = np.argsort(-scores)
        elites, elite_scores = population[order[:elite]], scores[order[:elite]]
        children = []
        for _ in range(pop_size - elite):
            a, b = elites[rng.integers(elite)], elites[rng.integers(elite)]
            mask = rng.random(n_models) < 0.5
            child = np.where(mask, a, b) + rng.normal(scale=sigma, size=n_models)
            child = np.clip(child, 0.0, None)
            child = child / child.sum() if child.sum() > 0 else np.ones(n_models) / n_models
            children.append(child)
        child_scores = np.array([fitness(c) for c in children])
        used += len(children)
        population = np.vstack([elites, np.array(children)])
        scores = np.concatenate([elite_scores, child_scores])
    return population[int(np.argmax(scores))]


# EVOLVE-BLOCK-END
