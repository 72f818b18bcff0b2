"""Per-step losses L<t>(ŷ<t>, y<t>) and their gradient with respect to the logits.

The loss of a batch is the sum of L<t> over the real time steps divided by their
number N. For all three outputs the gradient has the same form,
dL/dlogit<t> = (ŷ<t> - y<t>) / N at real steps and 0 at padded ones, which is
why each pairs with its canonical loss:

- sigmoid: binary cross-entropy, summed over the n_y outputs of a step;
- softmax: cross-entropy with integer class ids y (m, T);
- linear:  half squared error, summed over the n_y outputs of a step.
"""

import numpy as np

from rnnkit.nn.activations import G2


def _targets(y, output, shape, dtype, real):
    """y checked against the logits' shape (m, T, n_y) and made 0 at the padded steps (real:
    (m, T) bool), so that whatever a padded step holds (NaN, -100, ...) is never read: class ids
    (m, T) for softmax, else (m, T, n_y) floats."""
    m, T, n_y = shape
    y = np.asarray(y)
    if output == "softmax":
        if y.shape != (m, T) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"softmax targets must be integer class ids of shape (batch, T) = {(m, T)}, "
                f"not {y.dtype} of shape {y.shape}"
            )
        y = np.where(real, y, 0)
        if y.size and (y.min() < 0 or y.max() >= n_y):
            raise ValueError(f"softmax class ids must lie in [0, n_y = {n_y}) at real steps")
        return y
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{output} targets must be numbers, not {y.dtype}")
    if y.shape == (m, T):
        y = y[..., None]
    if y.shape != (m, T, n_y):  # broadcasting a (m, 1) or (1, T) y would train on wrong labels
        raise ValueError(
            f"{output} targets must have shape (batch, T) = {(m, T)} or (batch, T, n_y) = "
            f"{(m, T, n_y)}, not {y.shape}"
        )
    y = np.where(real[..., None], y, 0).astype(dtype, copy=False)
    if not np.isfinite(y).all():
        raise ValueError(f"{output} targets must be finite at real steps")
    if output == "sigmoid" and y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(
            "sigmoid targets must lie in [0, 1] (1: the label is present, 0: absent) at real steps"
        )
    return y


def loss_and_dlogits(logits, y, step_mask, output):
    """logits (m, T, n_y), y targets, step_mask (m, T) float 0/1 -> (loss, dlogits (m, T, n_y))."""
    y = _targets(y, output, logits.shape, logits.dtype, step_mask > 0)
    N = step_mask.sum()
    w = step_mask[..., None] / max(N, 1)  # each real step weighs 1/N
    y_hat = G2[output](logits)
    if output == "sigmoid":
        # BCE with logits: max(z,0) - z y + log(1 + e^-|z|), finite for any z.
        L = np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))
        dlogits = y_hat - y
    elif output == "softmax":
        z_max = logits.max(axis=-1, keepdims=True)
        log_sum = z_max + np.log(np.exp(logits - z_max).sum(axis=-1, keepdims=True))
        L = log_sum - np.take_along_axis(logits, y[..., None], axis=-1)
        dlogits = y_hat
        np.put_along_axis(
            dlogits, y[..., None], np.take_along_axis(dlogits, y[..., None], axis=-1) - 1, axis=-1
        )
    else:
        L = 0.5 * (y_hat - y) ** 2
        dlogits = y_hat - y
    loss = float((L * w).sum())
    return loss, (dlogits * w).astype(logits.dtype, copy=False)
