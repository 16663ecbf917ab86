"""Just enough sparse linear algebra in numpy to fit ridge models on hashed features.

No scipy: a CSR matrix is three arrays, X @ W is a gather + ``np.add.reduceat``, X.T @ R is
``np.bincount`` per output column, and ridge is solved by block conjugate gradients on the normal
equations (each column has its own step sizes), which converges in a few dozen iterations here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass
class CSR:
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    n_cols: int

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def rows(self, sel: np.ndarray) -> "CSR":
        starts, ends = self.indptr[sel], self.indptr[sel + 1]
        lens = ends - starts
        indptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends)]) if len(sel) else np.empty(0, np.int64)
        return CSR(indptr, self.indices[take], self.data[take], self.n_cols)

    def row_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))


def from_rows(rows: Iterable[tuple[list[int], list[float]]], n_cols: int) -> CSR:
    idx: list[int] = []
    val: list[float] = []
    ptr = [0]
    for i, v in rows:
        idx.extend(i)
        val.extend(v)
        ptr.append(len(idx))
    return CSR(np.asarray(ptr, dtype=np.int64), np.asarray(idx, dtype=np.int64), np.asarray(val, dtype=np.float64),
               n_cols)


def scale_columns(X: CSR, col_scale: np.ndarray) -> CSR:
    return CSR(X.indptr, X.indices, X.data * col_scale[X.indices], X.n_cols)


def matmul(X: CSR, W: np.ndarray) -> np.ndarray:
    """X @ W for W of shape (n_cols,) or (n_cols, M). Rows must be non-empty (ours always are)."""
    if W.ndim == 1:
        return np.add.reduceat(W[X.indices] * X.data, X.indptr[:-1])
    return np.add.reduceat(W[X.indices] * X.data[:, None], X.indptr[:-1], axis=0)


def rmatmul(X: CSR, R: np.ndarray, row_ids: np.ndarray | None = None) -> np.ndarray:
    """X.T @ R for R of shape (n_rows,) or (n_rows, M)."""
    rid = X.row_ids() if row_ids is None else row_ids
    if R.ndim == 1:
        return np.bincount(X.indices, weights=X.data * R[rid], minlength=X.n_cols)
    out = np.empty((X.n_cols, R.shape[1]))
    for m in range(R.shape[1]):
        out[:, m] = np.bincount(X.indices, weights=X.data * R[rid, m], minlength=X.n_cols)
    return out


def ridge(X: CSR, Y: np.ndarray, alpha: float, penalty: np.ndarray | None = None, iters: int = 200,
          tol: float = 1e-3) -> np.ndarray:
    """Solve (X.T X + alpha * diag(penalty)) W = X.T Y by block CG. Y is (N, M); returns (n_cols, M)."""
    Y2 = Y if Y.ndim == 2 else Y[:, None]
    rid = X.row_ids()
    pen = alpha * (np.ones(X.n_cols) if penalty is None else penalty)

    def A(P: np.ndarray) -> np.ndarray:
        return rmatmul(X, matmul(X, P), rid) + pen[:, None] * P

    W = np.zeros((X.n_cols, Y2.shape[1]))
    R = rmatmul(X, Y2, rid)
    P = R.copy()
    rs = (R * R).sum(0)
    rs0 = rs.copy()
    for _ in range(iters):
        AP = A(P)
        step = rs / np.maximum((P * AP).sum(0), 1e-300)
        W += P * step
        R -= AP * step
        rs_new = (R * R).sum(0)
        if np.all(rs_new <= tol * tol * rs0):
            break
        P = R + P * (rs_new / np.maximum(rs, 1e-300))
        rs = rs_new
    return W if Y.ndim == 2 else W[:, 0]
