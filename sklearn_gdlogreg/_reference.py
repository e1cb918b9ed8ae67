"""The reference objective of the tests and benchmarks, from the formula.

``LogisticRegression``'s objective divided by ``C S``, at a fitted model's
``coef_`` and ``intercept_``: the mean weighted log-loss plus
``(1 - l1_ratio) / (2 C S) ||W||^2 + l1_ratio / (C S) ||W||_1``, each
feature's terms times its ``penalty_factor`` where the model has one. It is
written from the formula, not with ``_objective``, so that it can judge any
model (ours, scikit-learn's, dask-ml's, a notebook loop) the same way, on
numpy, scipy.sparse, dask or array-API (PyTorch, CuPy) data.
"""

from __future__ import annotations

import numpy as np

from ._array_api import host_dtype, like, namespace, to_numpy


def reference_objective(model, X, y, sample_weight=None, C=None) -> float:
    """The objective (in float64) of ``model``'s coefficients on ``(X, y)``.

    ``y`` holds labels of ``model.classes_`` (0/1 codes for a model without
    ``classes_``), in X's kind of array; ``C`` and the L1 mix default to the
    model's (``C=np.inf``: no penalty).
    """
    C = model.C if C is None else C
    l1_ratio = getattr(model, "l1_ratio", 0.0) or 0.0
    factor = getattr(model, "penalty_factor", None)
    W = np.atleast_2d(to_numpy(model.coef_)).astype(np.float64)  # (K or 1, d)
    b = np.ravel(to_numpy(model.intercept_)).astype(np.float64)
    xp = namespace(X)
    Z = X @ like(W.T.astype(host_dtype(X)), X)  # in X's precision, as fitted
    Z = _float64(Z, xp) + like(b, X)
    classes = getattr(model, "classes_", None)
    classes = np.arange(max(2, W.shape[0])) if classes is None else to_numpy(classes)
    if W.shape[0] == 1:  # sigmoid: log(1 + e^z) - y z
        z = Z[:, 0]
        positive = _float64(y == classes[1].item(), xp)
        losses = xp.logaddexp(xp.zeros_like(z), z) - positive * z
    else:  # softmax: logsumexp(Z) - Z_y
        top = xp.max(Z, axis=1)
        log_norm = top + xp.log(xp.sum(xp.exp(Z - top[:, None]), axis=1))
        onehot = _float64(y[:, None] == like(classes, X)[None, :], xp)
        losses = log_norm - xp.sum(Z * onehot, axis=1)
    if sample_weight is None:
        total, loss = float(len(losses)), xp.sum(losses)
    else:
        weights = _float64(sample_weight, xp)
        total, loss = xp.sum(weights), xp.sum(weights * losses)
    loss, total = _value(loss), _value(total)
    penalty = 0.0
    if np.isfinite(C):
        f = 1.0 if factor is None else np.asarray(to_numpy(factor), dtype=np.float64)
        l2_part = (1 - l1_ratio) / 2 * (f * W**2).sum()
        penalty = (l2_part + l1_ratio * (f * np.abs(W)).sum()) / (C * total)
    return loss / total + float(penalty)


def _float64(array, xp):
    if xp is np:
        return array.astype(np.float64)
    return xp.astype(array, xp.float64)


def _value(x) -> float:
    """A float from a numpy, dask or device scalar."""
    if hasattr(x, "compute"):
        x = x.compute()
    return float(to_numpy(x))
