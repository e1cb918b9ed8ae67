"""Data backends: the passes over ``X`` that the objective needs.

Everything the solver ever asks of the data goes through the two functions
here, so that supporting a new kind of ``X`` means touching this module only:

- :func:`linear_pass` computes, for coefficients ``(W, b)``, the linear
  predictions ``Z = X @ W + b`` block by block, hands each block to a
  *pointwise* function supplied by the objective (which returns the block's
  loss and residual ``R``), and accumulates ``X.T @ R`` and ``sum(R)``.
  Dense ``X`` is read in row blocks small enough to stay in cache, so one call
  reads ``X`` from memory once instead of twice and never allocates an
  ``(n_samples, n_outputs)`` temporary larger than a block.
- :func:`column_moments` gives the weighted mean and variance of each column,
  which only shape the preconditioner (they do not change the solution).

Neither function copies ``X``: dense blocks are views and sparse ``X`` is
multiplied as it is. The one allocation that grows with ``X`` is in
:func:`column_moments` for sparse ``X``: its non-zero values, squared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

# A block of rows is sized to stay in a core's cache (a few MiB at most).
_BLOCK_BYTES = 2**21

Pointwise = Callable[[np.ndarray, slice], tuple[float, np.ndarray]]


def _row_blocks(X, n_bytes: int = _BLOCK_BYTES):
    """Yield slices of rows of ``X`` of about ``n_bytes`` each (one for sparse X)."""
    n_samples, n_features = X.shape
    if sp.issparse(X):
        yield slice(0, n_samples)
        return
    rows = max(1, n_bytes // max(1, n_features * X.itemsize))
    for start in range(0, n_samples, rows):
        yield slice(start, min(start + rows, n_samples))


def linear_pass(
    X, W: np.ndarray, b: np.ndarray, pointwise: Pointwise
) -> tuple[float, np.ndarray, np.ndarray]:
    """Loss and gradient pieces of a linear model in one read of ``X``.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    W : ndarray of shape (n_features, n_outputs)
    b : ndarray of shape (n_outputs,)
    pointwise : callable
        ``pointwise(Z_block, rows) -> (loss_sum, R_block)``.

    Returns
    -------
    loss : float
        Sum of the blocks' losses.
    grad_W : ndarray of shape (n_features, n_outputs)
        ``X.T @ R``.
    grad_b : ndarray of shape (n_outputs,)
        ``R.sum(axis=0)``.
    """
    grad_W = np.zeros_like(W)
    grad_b = np.zeros_like(b)
    loss = 0.0
    for rows in _row_blocks(X):
        X_b = X[rows]
        Z = X_b @ W
        Z += b
        loss_b, R = pointwise(Z, rows)
        loss += loss_b
        grad_W += X_b.T @ R
        grad_b += R.sum(axis=0)
    return loss, grad_W, grad_b


def column_moments(X, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance of each column of ``X``, in float64.

    ``weights`` must sum to one. Computed block by block in float64 so that
    float32 data and features of magnitude up to about 1e150 neither overflow
    nor lose the variance to cancellation (dense ``X`` uses the two-pass
    formula). For sparse ``X`` the variance is ``E[x^2] - mean^2``, clipped at
    zero: it only shapes the preconditioner, so its rounding is harmless.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if sp.issparse(X):
        mean = np.asarray(X.T @ weights, dtype=np.float64).ravel()
        # Same sparsity structure (shared index arrays), squared values.
        squared = type(X)(
            (np.square(X.data, dtype=np.float64), X.indices, X.indptr), shape=X.shape
        )
        second = np.asarray(squared.T @ weights).ravel()
        return mean, np.maximum(second - mean**2, 0.0)
    mean = np.zeros(X.shape[1])
    for rows in _row_blocks(X):
        mean += np.asarray(X[rows], dtype=np.float64).T @ weights[rows]
    var = np.zeros(X.shape[1])
    for rows in _row_blocks(X):
        centred = np.asarray(X[rows], dtype=np.float64) - mean
        var += np.square(centred).T @ weights[rows]
    return mean, var
