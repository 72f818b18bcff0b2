"""Central-difference check of the hand-written backpropagation through time."""

import numpy as np


def gradcheck(model, x, y, mask=None, eps=1e-6, n_checks=None, seed=0):
    """Largest relative error, per parameter, between loss_and_grads and central differences.

    Each checked entry compares the analytic dL/dθ with (L(θ+ε) - L(θ-ε)) / 2ε; the
    relative error of a parameter is ||analytic - numeric|| / max(||analytic|| + ||numeric||, tiny)
    over its checked entries. n_checks: check this many random entries per parameter
    (all entries when None). Use a float64 model: float32 has too few digits for ε.
    """
    _, grads = model.loss_and_grads(x, y, mask)
    rng = np.random.default_rng(seed)
    errors = {}
    for name, theta in model.params.items():
        analytic = np.asarray(grads[name])
        flat = np.arange(theta.size)
        if n_checks is not None and n_checks < theta.size:
            flat = rng.choice(theta.size, n_checks, replace=False)
        numeric = np.empty(len(flat))
        for i, j in enumerate(flat):
            idx = np.unravel_index(j, theta.shape)
            saved = theta[idx]
            theta[idx] = saved + eps
            plus, _ = model.loss_and_grads(x, y, mask)
            theta[idx] = saved - eps
            minus, _ = model.loss_and_grads(x, y, mask)
            theta[idx] = saved
            numeric[i] = (plus - minus) / (2 * eps)
        a = analytic[np.unravel_index(flat, theta.shape)]
        errors[name] = float(
            np.linalg.norm(a - numeric) / max(np.linalg.norm(a) + np.linalg.norm(numeric), 1e-12)
        )
    return errors
