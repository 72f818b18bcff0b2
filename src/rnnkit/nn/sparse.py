"""A gradient that touches only some columns of a matrix.

For one-hot inputs, dL/dW_ax is zero except in the columns of the words of the
batch, so the gradient is kept as those columns alone: O(batch tokens x n_a)
instead of O(n_x x n_a).
"""

from dataclasses import dataclass

import numpy as np


def group_ids(ids):
    """(order, starts, unique): ids[order] is sorted, its runs of equal ids start at `starts`
    and hold the ids `unique` (sorted, unique)."""
    order = np.argsort(ids, kind="stable")
    ids = ids[order]
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(ids) else np.zeros(0, np.intp)
    return order, starts, ids[starts]


def segment_sum(rows, starts):
    """The sums of the runs rows[starts[i]:starts[i + 1]] of (N, n) rows: (len(starts), n)."""
    if not len(rows):
        return rows[:0]
    # Most words of a batch occur once: copy their rows and sum only the runs of two or more
    # (np.add.reduceat's cost grows with the number of runs times the row length).
    ends = np.r_[starts[1:], len(rows)]
    out = rows[starts]
    repeated = np.flatnonzero(ends - starts > 1)
    if len(repeated):
        bounds = np.stack([starts[repeated], ends[repeated]], axis=1).reshape(-1)
        out[repeated] = np.add.reduceat(
            rows, bounds[:-1] if bounds[-1] == len(rows) else bounds, axis=0
        )[::2]
    return out


@dataclass
class ColumnGrad:
    """dL/dW for W of shape (n_rows, n_cols), nonzero only in columns `ids`.

    ids: (k,) sorted unique column indices; rows: (k, n_rows), rows[i] = dL/dW[:, ids[i]].
    """

    ids: np.ndarray
    rows: np.ndarray
    shape: tuple

    @classmethod
    def from_contributions(cls, ids, rows, shape, groups=None):
        """Sum the contributions rows[j] to column ids[j] (ids may repeat): (N,), (N, n_rows).

        groups: group_ids(ids), when the caller has it already (order None: rows are sorted
        already).
        """
        order, starts, unique = group_ids(ids) if groups is None else groups
        return cls(
            unique, segment_sum(rows if order is None else rows[order], starts), tuple(shape)
        )

    def to_dense(self):
        dense = np.zeros(self.shape, dtype=self.rows.dtype, order="F")
        dense[:, self.ids] = self.rows.T
        return dense

    def sum_sq(self):
        return float(np.vdot(self.rows, self.rows))

    def scale(self, c):
        self.rows *= c
