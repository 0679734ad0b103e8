"""Pack 26 circles into the unit square so that the sum of their radii is as large as possible.

construct_packing() returns the centres (26 x 2) and radii (26); circles must lie inside the square and must not
overlap. The initial layout is a ring: one circle in the centre, 8 around it and 16 on an outer ring (the 26th
stays in a corner with radius 0), each radius as large as the layout allows.
"""

import numpy as np

N = 26


# EVOLVE-BLOCK-START
def construct_packing():
    """Place the circles: one centre, an inner ring of 8 and an outer ring of 16."""
    centers = np.zeros((N, 2))
    centers[0] = [0.5, 0.5]
    for i in range(8):
        angle = 2 * np.pi * i / 8
        centers[1 + i] = [0.5 + 0.3 * np.cos(angle), 0.5 + 0.3 * np.sin(angle)]
    for i in range(16):
        angle = 2 * np.pi * i / 16
        centers[9 + i] = [0.5 + 0.7 * np.cos(angle), 0.5 + 0.7 * np.sin(angle)]
    centers = np.clip(centers, 0.01, 0.99)
    radii = compute_max_radii(centers)
    return centers, radii


def compute_max_radii(centers):
    """The largest radii for fixed centres: limited by the walls, then shrunk pairwise until no two overlap."""
    n = centers.shape[0]
    radii = np.minimum.reduce([centers[:, 0], centers[:, 1], 1 - centers[:, 0], 1 - centers[:, 1]])
    for i in range(n):
        for j in range(i + 1, n):
            dist = np.sqrt(np.sum((centers[i] - centers[j]) ** 2))
            if radii[i] + radii[j] > dist:
                scale = dist / (radii[i] + radii[j])
                radii[i] *= scale
                radii[j] *= scale
    return radii


# EVOLVE-BLOCK-END


def run_packing():
    """Entry point the evaluator calls: (centres, radii, sum of radii)."""
    centers, radii = construct_packing()
    return centers, radii, float(np.sum(radii))
