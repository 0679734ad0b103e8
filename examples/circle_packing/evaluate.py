"""Circle packing evaluator: runs the candidate's run_packing() and checks the packing to 1e-9.

combined_score is the sum of radii of a valid packing of 26 circles in the unit square; an invalid packing
(wrong shapes, non-finite numbers, negative radii, a circle outside the square or two overlapping circles) scores
0 with the reason as the error.
"""

import numpy as np
from shoal_evolve import load_program

N = 26
TOL = 1e-9


def check(centers, radii):
    """The first reason the packing is invalid, or ''."""
    if centers.shape != (N, 2) or radii.shape != (N,):
        return f"expected centres of shape ({N}, 2) and radii of shape ({N},), got {centers.shape} and {radii.shape}"
    if not (np.all(np.isfinite(centers)) and np.all(np.isfinite(radii))):
        return "centres and radii must be finite numbers"
    if np.any(radii < 0):
        return f"radius {int(np.argmin(radii))} is negative"
    for i in range(N):
        x, y = centers[i]
        r = radii[i]
        if x - r < -TOL or y - r < -TOL or x + r > 1 + TOL or y + r > 1 + TOL:
            return f"circle {i} at ({x:.4f}, {y:.4f}) with radius {r:.4f} is outside the unit square"
    for i in range(N):
        for j in range(i + 1, N):
            d = float(np.sqrt(np.sum((centers[i] - centers[j]) ** 2)))
            if radii[i] + radii[j] > d + TOL:
                return f"circles {i} and {j} overlap by {radii[i] + radii[j] - d:.3g}"
    return ""


def evaluate(program_path):
    prog = load_program(program_path)
    centers, radii, reported = prog.run_packing()
    centers = np.asarray(centers, dtype=float)
    radii = np.asarray(radii, dtype=float)
    problem = check(centers, radii)
    if problem:
        return {"combined_score": 0.0, "correct": False, "error": problem}
    total = float(np.sum(radii))
    return {
        "combined_score": total,
        "public": {"sum_radii": total, "min_radius": float(radii.min()), "max_radius": float(radii.max())},
        "private": {"reported_sum": float(reported)},
        "correct": True,
    }
