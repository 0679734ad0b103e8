"""Discover a preference-optimisation loss: preference_loss(margin) maps the policy/reference log-ratio margins of
(chosen, rejected) pairs to per-pair losses; a linear policy trained with it on noisy synthetic preferences is
scored by its held-out preference accuracy. The initial loss is DPO's logistic loss, -log sigmoid(margin).

margin = beta * ((log pi(chosen) - log pi_ref(chosen)) - (log pi(rejected) - log pi_ref(rejected))), beta = 0.1;
the loss must be a smooth, finite numpy function of the margin array (the trainer differentiates it numerically).
A quarter of the training labels are flipped, and there are few pairs: robustness and calibration matter.
"""

import numpy as np


# EVOLVE-BLOCK-START
def preference_loss(margin):
    """DPO: the negative log-sigmoid of the margin, written stably."""
    return np.logaddexp(0.0, -margin)


# EVOLVE-BLOCK-END
