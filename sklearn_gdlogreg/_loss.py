"""Pointwise losses and links: the sigmoid and the softmax, their losses and
residuals on a block of scores, and the curvature of the loss in the scores.

Each function takes the arrays of one namespace (numpy, or another array-API
library on its device) and returns the same kind. Nothing here reads X
beyond the block of scores it is given (``_scores`` makes them from a block
of rows).
"""

from __future__ import annotations

import numpy as np
import scipy.special

from ._array_api import astype, host_dtype, like, namespace, vdot

# The curvature of the loss in z is at most 1/4 (sigmoid) or 1/2 (softmax):
# the constant ``c`` of the Lipschitz bound ``c * ||[X, 1]||^2``.
BINARY_CURVATURE = 0.25
MULTINOMIAL_CURVATURE = 0.5


def expit(z):
    """The sigmoid ``1 / (1 + e^-z)``: scipy's for numpy, else a stable formula."""
    xp = namespace(z)
    if xp is np:
        return scipy.special.expit(z)
    e = xp.exp(-xp.abs(z))  # never overflows
    return xp.where(z >= 0, 1.0, e) / (1.0 + e)


def log_expit(z):
    """``log(expit(z))``, exact for large ``|z|`` (scipy's for numpy)."""
    xp = namespace(z)
    if xp is np:
        return scipy.special.log_expit(z)
    return xp.minimum(z, 0.0) - xp.log1p(xp.exp(-xp.abs(z)))


def log_softmax(Z):
    """Log-softmax of each row of ``Z`` (scipy's for numpy)."""
    xp = namespace(Z)
    if xp is np:
        return scipy.special.log_softmax(Z, axis=1)
    shifted = Z - xp.max(Z, axis=1, keepdims=True)  # exp never overflows
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def softmax(Z):
    """Softmax of each row of ``Z``."""
    xp = namespace(Z)
    if xp is np:  # scipy's costs more than the arithmetic on small blocks
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        return P
    return xp.exp(log_softmax(Z))


def _signs(y, z):
    """The labels' signs, -1 or +1, in z's dtype: ``y`` itself where it
    comes as signs (see :func:`binary_pointwise`), else from its codes."""
    if y.dtype == z.dtype:
        return y
    sign = astype(y, host_dtype(z))  # a new array: y holds integer codes
    sign *= 2  # class 0: -1, class 1: +1
    sign -= 1
    return sign


def binary_pointwise(z, y, s):
    """Loss sum and residual of a block: sigmoid, labels ``y`` in {0, 1}.

    ``z`` (overwritten) are the scores, ``s`` the normalised weights; numpy
    arrays, or arrays of another array-API namespace (on their device).
    ``z`` may also hold several points' scores, one row each (numpy, shape
    ``(n_points, n_rows)``): the loss sums then come as one array, and the
    residuals of all the points in one set of numpy calls.
    ``y`` may also come as the labels' signs (-1 or +1) in z's dtype, made
    once per fit (``_objective.LogisticObjective._labels``): three fewer
    operations on each block.
    """
    xp = namespace(z)
    sign = _signs(y, z)
    margin = z
    margin *= sign  # positive: the true class is predicted
    if xp is np:
        # numpy's ufuncs, in place where they can be: unlike scipy's expit,
        # they let other threads run (the passes run in threads).
        e = np.negative(margin)
        # e^-margin: inf where margin < -709 (no warning: see Pointwise).
        np.exp(e, out=e)
        u = e + 1
        if np.isfinite(u.max(initial=1.0)):  # (initial: a block of no rows)
            # log(1 + e^-margin) as log(u) less the rounding of u = 1 + e
            # over u: log1p to an ulp in float64 (a few in float32, as
            # numpy's float32 log), from e far below eps to e huge; numpy's
            # log1p can cost as much again as its log (it does on an AVX2
            # CPU without AVX-512). u - 1 is exact while u <= 2, where the
            # rounding matters.
            # The margins are no longer needed: their array takes it.
            rounding = np.subtract(u, 1, out=margin)
            rounding -= e
            q = np.reciprocal(u, out=e)  # the probability of the true class
            rounding *= q
            terms = np.log(u, out=u)
            terms -= rounding
            loss = terms @ s
            del terms  # u's array: freed below, before the residual's steps
        else:  # e overflowed: log_expit, exact there
            loss = -(log_expit(margin) @ s)
            q = np.reciprocal(u, out=e)
        del u
    else:  # no check of the loss: it would make the device wait
        loss = -(s @ log_expit(margin))
        q = expit(margin)
    # Residual s (p - y) = -s sign (1 - q). Where q rounds to 1 this is
    # off by at most eps * s, absolutely: far below any tol.
    R = q
    R -= 1
    R *= sign
    R *= s
    return loss, R


def multinomial_pointwise(Z, y, s):
    """Loss sum and residual of a block: softmax, labels ``y`` in {0, ..., K-1}."""
    xp = namespace(Z)
    if xp is np:
        return _multinomial_pointwise_numpy(Z, y, s)
    # log-sum-exp with the row maximum subtracted: exp never overflows.
    Z_max = xp.max(Z, axis=1, keepdims=True)
    E = xp.exp(Z - Z_max)
    sum_E = xp.sum(E, axis=1)
    log_norm = Z_max[:, 0] + xp.log(sum_E)
    loss = s @ (log_norm - xp.take_along_axis(Z, y[:, None], axis=1)[:, 0])
    E /= sum_E[:, None]  # E is now the softmax P
    # The standard has no indexed assignment: subtract the one-hot labels.
    E -= xp.astype(y[:, None] == xp.arange(E.shape[1], device=E.device), E.dtype)
    E *= s[:, None]
    return loss, E


def row_sums(A):
    """The sums of ``A``'s rows: a product with ones in numpy, whose
    reductions along short rows are slow."""
    xp = namespace(A)
    if xp is np:
        return A @ np.ones(A.shape[1], dtype=A.dtype)
    return xp.sum(A, axis=1)


def per_weight(v, s):
    """``v / s``, 0 where the weight ``s`` is (such rows add nothing)."""
    xp = namespace(v)
    if xp is np:
        return np.divide(v, s, out=np.zeros_like(v), where=s > 0)
    return xp.where(s > 0, v / xp.where(s > 0, s, 1), 0)


def _row_exponentials(Z):
    """``(E, sum_E, shift)`` of a numpy block: ``E = exp(Z - shift)`` and its
    row sums, ``shift`` the row maximum where it must be subtracted (see
    :func:`_multinomial_pointwise_numpy`), else None (no shift)."""
    info = np.finfo(Z.dtype)
    shift = None
    E = np.exp(Z)  # overflow to inf: no warning in a pass (see Pointwise)
    sum_E = row_sums(E)
    # (initial: a block of no rows; it changes neither test where there are)
    low, high = sum_E.min(initial=1.0), sum_E.max(initial=1.0)
    if not (info.tiny <= low and high <= info.max):
        shift = Z.max(axis=1)
        np.exp(Z - shift[:, None], out=E)
        sum_E = row_sums(E)
    return E, sum_E, shift


def _multinomial_pointwise_numpy(Z, y, s):
    """:func:`multinomial_pointwise` for numpy blocks, in fewer passes.

    Reductions along the short rows of Z are slow in numpy: the rows of
    ``exp(Z)`` are summed by a product with a vector of ones, and the row
    maximum is subtracted only where the sums say it must be (two
    reductions over the sums, K times fewer than over Z): where some exp
    overflowed, or a row's largest is below the normal range (inexact).
    """
    E, sum_E, shift = _row_exponentials(Z)
    log_norm = np.log(sum_E)
    if shift is not None:
        log_norm += shift
    # E has Z's layout, which may be Fortran's.
    flat = _flat_true(Z, y) if E.flags.c_contiguous else None
    loss = s @ (log_norm - _true_entries(Z, y, flat))
    E *= (s / sum_E)[:, None]  # s P
    if flat is not None:
        E.reshape(-1)[flat] -= s  # s (P - onehot(y)), in place: a view
    else:
        E[np.arange(E.shape[0]), y] -= s
    return loss, E


def _flat_true(A, y):
    """The flat indices of the true classes' entries of a C-ordered numpy
    ``A`` (one row per sample), else None: numpy indexes a flat array
    several times faster than rows and columns."""
    if not A.flags.c_contiguous:
        return None
    n, K = A.shape
    return np.arange(0, n * K, K) + y


def _true_entries(A, y, flat):
    """The true classes' entries of a numpy ``A``, by ``flat`` (see
    :func:`_flat_true`) where given, else by rows and columns."""
    if flat is None:
        return A[np.arange(A.shape[0]), y]
    return np.take(A, flat)


def binary_slope(z, d, y, s) -> float:
    """``-<R, d>``: the slope of the loss sum ``sum_i s_i loss(z_i - t d_i,
    y_i)`` in ``t`` at ``t = 0``, for the residual ``R`` of the scores ``z``
    (overwritten), in the labels of :func:`binary_pointwise` (class codes,
    or their signs); a float on the host.

    Fewer operations than the residual itself (no loss, no probability):
    ``-R_i = s_i sign_i / (1 + e^{sign_i z_i})``, which is 0, not NaN, where
    the exponential overflows (no warning in a line's slopes: see
    ``_conjugate``).
    """
    xp = namespace(z)
    sign = _signs(y, z)
    z *= sign  # the margin: positive where the true class is predicted
    if xp is np:
        np.exp(z, out=z)
        z += 1
        np.reciprocal(z, out=z)  # 1 - q: the probability of the wrong class
        z *= sign
        z *= s
        return float(np.vdot(z, d))
    z = expit(-z)
    z *= sign
    z *= s
    return vdot(z, d)


def multinomial_slope(Z, D, y, s) -> float:
    """``-<R, D>`` for the residual ``R`` of the scores ``Z`` (overwritten),
    labels ``y`` in {0, ..., K-1}: the slope of the loss sum along ``-D``
    (see :func:`binary_slope`), ``sum_i s_i (D_{i,y_i} - p_i . D_i)``; a
    float on the host. The softmax's shift as in
    :func:`multinomial_pointwise`."""
    xp = namespace(Z)
    if xp is np:
        E, sum_E, _ = _row_exponentials(Z)
        E *= D
        along = row_sums(E)  # sum_k E_k D_k, by row
        true = _true_entries(D, y, _flat_true(D, y))
        return float(s @ true) - float((s / sum_E) @ along)
    E = xp.exp(Z - xp.max(Z, axis=1, keepdims=True))
    along = xp.sum(E * D, axis=1) / xp.sum(E, axis=1)
    true = xp.take_along_axis(D, y[:, None], axis=1)[:, 0]
    return float(xp.sum(s * true)) - float(xp.sum(s * along))


def _scores(W, b, X_b):
    """``X_b @ W + b`` in X_b's namespace and precision (one product)."""
    dtype = host_dtype(X_b)
    Z = X_b @ like(W, X_b, dtype)
    Z += like(b, X_b, dtype)
    return Z


def curvature_weights(W, b, X_b, s):
    """``s_i h_i``: weights ``s`` times the curvature of the loss at ``(W, b)``
    on the rows ``X_b`` (numpy, or X's array-API namespace; one product).

    ``h_i = p_i (1 - p_i)`` (binary), the second derivative of the loss in
    ``z``; ``(1 - sum_k p_ik^2) / (K - 1)`` (multinomial), the mean
    eigenvalue of the softmax's Hessian ``diag(p) - p p^T`` off the
    direction ``(1, ..., 1)``, where it is zero. The Hessian of the objective
    in ``W`` is then ``X^T diag(s h) X + l2`` (multinomial: approximately,
    one metric for all classes); at zero (binary) it is Bohning's bound.
    """
    xp = namespace(X_b)
    Z = _scores(W, b, X_b)
    n_outputs = Z.shape[1]
    # Each temporary freed once used: on a CSC X the block is all the rows.
    if n_outputs == 1:
        p = expit(Z[:, 0])
        del Z
        h = 1 - p
        h *= p
    else:
        P = softmax(Z)
        del Z
        h = 1 - xp.sum(P * P, axis=1)
        h /= n_outputs - 1
    h *= s
    return astype(h, host_dtype(s))


def class_curvature_weights(W, b, X_b, s):
    """``s_i p_ik (1 - p_ik)``, one column per class k: weights ``s`` times
    the curvature of the multinomial loss at ``(W, b)`` in class k's score
    alone, the diagonal of the softmax's Hessian ``diag(p) - p p^T`` (numpy
    rows ``X_b``; one product). The Hessian's diagonal block of class k's
    coefficients is ``X^T diag(s p_k (1 - p_k)) X + l2``."""
    P = softmax(_scores(W, b, X_b))
    H = 1 - P
    H *= P
    H = astype(H, host_dtype(s))  # summed in the weights' precision
    H *= s[:, None]
    return H


def _probabilities(W, b, X_b):
    """The softmax of ``X_b @ W + b``, in X_b's namespace."""
    return softmax(_scores(W, b, X_b))


def proba_of_scores(scores):
    """The probabilities of a model's scores: the binary model's two
    columns from its one score, or the softmax of each row."""
    if scores.ndim == 1:
        # expit(-z) rather than 1 - expit(z): exact for tiny probabilities.
        return namespace(scores).stack([expit(-scores), expit(scores)], axis=1)
    return softmax(scores)


def log_proba_of_scores(scores):
    """The log-probabilities of a model's scores (see :func:`proba_of_scores`)."""
    if scores.ndim == 1:
        return namespace(scores).stack([log_expit(-scores), log_expit(scores)], axis=1)
    return log_softmax(scores)
