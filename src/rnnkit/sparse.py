"""A gradient that touches only some columns of a matrix.

For one-hot inputs, dL/dW_ax is zero except in the columns of the words of the
batch, so the gradient is kept as those columns alone: O(batch tokens x n_a)
instead of O(n_x x n_a).
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class ColumnGrad:
    """dL/dW for W of shape (n_rows, n_cols), nonzero only in columns `ids`.

    ids: (k,) sorted unique column indices; rows: (k, n_rows), rows[i] = dL/dW[:, ids[i]].
    """

    ids: np.ndarray
    rows: np.ndarray
    shape: tuple

    @classmethod
    def from_contributions(cls, ids, rows, shape):
        """Sum the contributions rows[j] to column ids[j] (ids may repeat): (N,), (N, n_rows)."""
        order = np.argsort(ids, kind="stable")
        ids, rows = ids[order], rows[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, int)
        summed = np.add.reduceat(rows, starts, axis=0) if len(ids) else rows[:0]
        return cls(ids[starts], summed, tuple(shape))

    def to_dense(self):
        dense = np.zeros(self.shape, dtype=self.rows.dtype, order="F")
        dense[:, self.ids] = self.rows.T
        return dense

    def sum_sq(self):
        return float(np.vdot(self.rows, self.rows))

    def scale(self, c):
        self.rows *= c
