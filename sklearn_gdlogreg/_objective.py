"""The logistic objective: loss, gradient, penalty and the geometry of a step.

Notation (the same as scikit-learn's ``LinearModelLoss``). Labels are
integer codes ``y_i`` in ``{0, ..., K-1}``; ``s_i`` are the sample weights
(class weights folded in) divided by their sum ``S``, so that
``sum_i s_i = 1``. The coefficients are one array ``coef`` of shape
``(n_features + fit_intercept, n_outputs)``: the rows of ``W`` first, the
intercept ``b`` last. ``n_outputs`` is 1 for a binary problem (sigmoid)
and ``K`` for ``K >= 3`` classes (symmetric softmax, no reference class).
With ``Z = X W + b`` the objective is::

    f(coef) = sum_i s_i loss(Z_i, y_i) + l2 / 2 ||W||^2 + l1 ||W||_1

    binary:       loss(z, y) = log(1 + exp(z)) - y z
    multinomial:  loss(z, y) = logsumexp_k(z_k) - z_y

with ``l2 = (1 - l1_ratio) / (C S)`` and ``l1 = l1_ratio / (C S)``. This is
``LogisticRegression``'s objective divided by ``C S``: the same minimiser. The
intercept is never penalised.

The gradient of the smooth part is ``X^T R + l2 W`` and ``sum_i R_i`` with the
residual ``R_i = s_i (p_i - onehot(y_i))``, where ``p`` is the sigmoid or the
softmax of ``z``. The derivative of the sigmoid cancels against that of the
log-loss, which is why the notebook's extra ``sigmoid_derivative`` factor was
wrong. The ``l1`` part is not differentiated: the solver applies its proximal
operator.

:class:`Geometry` is the metric the solver steps in: gradient descent on the
centred and standardised problem, written in the original coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import cast

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.special

from ._array_api import astype, host_dtype, like, namespace
from ._backends import (
    Pointwise,
    Reweight,
    class_block_moments,
    class_coupled_moments,
    column_moments,
    exclusive_column_groups,
    linear_pass,
    one_block,
    pointwise_in_slices,
    stacked_sums,
)

# The curvature of the loss in z is at most 1/4 (sigmoid) or 1/2 (softmax):
# the constant ``c`` of the Lipschitz bound ``c * ||[X, 1]||^2``.
BINARY_CURVATURE = 0.25
MULTINOMIAL_CURVATURE = 0.5

# Above this many features, the full (decorrelating) metric costs more to set
# up (a Gram matrix: about n_features / 10 passes over X, or over the sample
# of a tall X's rows that metric_rows takes) than it usually saves.
MAX_DECORRELATED_FEATURES = 256
# Past MAX_DECORRELATED_FEATURES, a fit keeps each point's scores (see
# LogisticObjective.keeps_scores) where X has at least this many features per
# output: a point's scores then take at most 1/128 of X.
FEATURES_PER_KEPT_SCORE = 128
# A multinomial metric with the classes coupled (ClassCoupledMetric) costs
# K^2 times the covariance: only up to this many coefficients.
MAX_COUPLED_COEFFICIENTS = 256
# The full metrics (of m coefficients) are measured on every k-th row of a
# tall X, about this many rows per coefficient (see metric_rows). Measured on
# 300k x 100: a metric of all the rows cost about eight passes over X, and
# the three of a fit two thirds of its time; with this sample the fit took
# 0.6 of the time (9 iterations at the default tol, as before; 17
# against 11 at tol=1e-8, still a third less time). 256 took as long.
METRIC_ROWS_PER_COEFFICIENT = 128
# ... and no fewer rows than this: a sample's errors are relative to the
# metric's smallest curvatures, and this many rows cost little.
MIN_METRIC_ROWS = 8192


def metric_rows(X, weights, size: int):
    """``(X[::k], weights[::k], k)``: the rows a full metric of ``size``
    coefficients is measured on, and the stride ``k`` between them.

    A covariance of ``n`` rows costs ``n size^2`` products where a pass over
    X costs ``n size``. A metric only shapes the steps (it does not move the
    minimum, and the backtracking corrects its scale), so on a numpy X of
    more than twice ``METRIC_ROWS_PER_COEFFICIENT * size`` rows (and twice
    ``MIN_METRIC_ROWS``) it is measured on evenly spaced rows, about that
    many: views of X, no copy. A sum over them, times ``k``, estimates the
    sum over all rows. Every row (``k = 1``) for other arrays and smaller X.
    """
    k = X.shape[0] // max(METRIC_ROWS_PER_COEFFICIENT * size, MIN_METRIC_ROWS)
    if type(X) is not np.ndarray or k < 2:
        return X, weights, 1
    return X[::k], weights[::k], k


def _cholesky_with_jitter(matrix: np.ndarray):
    """``matrix + jitter * I`` and its lower Cholesky factor, with the smallest
    jitter (from 1e-10, times 100 up to 1e-2) that makes it positive definite.

    ``matrix`` has a unit diagonal, so the jitter bounds its condition
    number; exactly collinear columns make it singular. (None, None) if it
    fails.
    """
    for jitter in (1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
        jittered = matrix.copy()
        jittered.flat[:: matrix.shape[0] + 1] += jitter
        # LAPACK's, called directly: numpy's costs several times more on
        # small matrices. info > 0: not positive definite.
        factor, info = scipy.linalg.lapack.dpotrf(jittered, lower=1)
        if info == 0:
            return jittered, factor
    return None, None


def _scaled_inverse(cholesky: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(diag(std) C diag(std))^-1`` from the lower Cholesky factor of the
    unit-diagonal ``C``: made once per metric, so that each step is one
    product (a solve's call costs more, on small data, than a pass over X)."""
    # LAPACK's triangular inverse, called directly: numpy's general inverse
    # and scipy's solvers cost several times more on small matrices.
    lower_inverse, _ = scipy.linalg.lapack.dtrtri(cholesky, lower=1)
    inverse = lower_inverse.T @ lower_inverse
    inverse /= std[:, None]
    inverse /= std[None, :]
    return inverse


def _soft_threshold(v: np.ndarray, threshold) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0)


def _squared_norm(W: np.ndarray, axis=None):
    """``sum(W**2)`` (over ``axis``) in float64: the coefficients of tiny
    float32 features pass 1e19, whose squares overflow float32."""
    return np.square(W, dtype=np.float64).sum(axis=axis)


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


def binary_pointwise(z, y, s):
    """Loss sum and residual of a block: sigmoid, labels ``y`` in {0, 1}.

    ``z`` (overwritten) are the scores, ``s`` the normalised weights; numpy
    arrays, or arrays of another array-API namespace (on their device).
    ``z`` may also hold several points' scores, one row each (numpy, shape
    ``(n_points, n_rows)``): the loss sums then come as one array, and the
    residuals of all the points in one set of numpy calls.
    ``y`` may also come as the labels' signs (-1 or +1) in z's dtype, made
    once per fit (``LogisticObjective._labels``): three fewer operations on
    each block.
    """
    xp = namespace(z)
    if y.dtype == z.dtype:
        sign = y
    else:
        sign = astype(y, host_dtype(z))  # a new array: y holds integer codes
        sign *= 2  # class 0: -1, class 1: +1
        sign -= 1
    margin = z
    margin *= sign  # positive: the true class is predicted
    if xp is np:
        # numpy's ufuncs, in place where they can be: unlike scipy's expit,
        # they let other threads run (the passes run in threads).
        e = np.negative(margin)
        # e^-margin: inf where margin < -709 (no warning: see Pointwise).
        np.exp(e, out=e)
        loss = np.log1p(e) @ s  # log(1 + e^-margin)
        if not np.isfinite(loss).all():  # e overflowed: log_expit, exact there
            loss = -(log_expit(margin) @ s)
        e += 1
        q = np.reciprocal(e, out=e)  # the probability of the true class
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


def _multinomial_pointwise_numpy(Z, y, s):
    """:func:`multinomial_pointwise` for numpy blocks, in fewer passes.

    Reductions along the short rows of Z are slow in numpy: the rows of
    ``exp(Z)`` are summed by a product with a vector of ones, and the row
    maximum is subtracted only where the sums say it must be (two
    reductions over the sums, K times fewer than over Z): where some exp
    overflowed, or a row's largest is below the normal range (inexact).
    """
    n_classes = Z.shape[1]
    ones = np.ones(n_classes, dtype=Z.dtype)
    info = np.finfo(Z.dtype)
    shift = None
    E = np.exp(Z)  # overflow to inf: no warning in a pass (see Pointwise)
    sum_E = E @ ones
    if not (info.tiny <= sum_E.min() and sum_E.max() <= info.max):
        shift = Z.max(axis=1)
        np.exp(Z - shift[:, None], out=E)
        sum_E = E @ ones
    log_norm = np.log(sum_E)
    if shift is not None:
        log_norm += shift
    rows = np.arange(E.shape[0])
    loss = s @ (log_norm - Z[rows, y])
    E *= (s / sum_E)[:, None]  # s P
    E[rows, y] -= s  # s (P - onehot(y))
    return loss, E


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
    if Z.shape[1] == 1:
        p = expit(Z[:, 0])
        h = 1 - p
        h *= p
    else:
        P = softmax(Z)
        h = 1 - xp.sum(P * P, axis=1)
        h /= Z.shape[1] - 1
    h *= s
    return astype(h, host_dtype(s))


@dataclass(frozen=True)
class LogisticObjective:
    """Weighted, penalised binary or multinomial logistic loss.

    Parameters
    ----------
    X : {ndarray, sparse, dask, array-API array} of shape (n_samples, n_features)
    y : array of shape (n_samples,), like X
        Integer class codes 0, ..., K-1 (any integer type; int64 on PyTorch).
    weights : array of shape (n_samples,), like X
        Normalised sample weights, summing to one.
    n_outputs : int
        1 (binary, sigmoid) or the number of classes (softmax).
    fit_intercept : bool
    l2, l1 : float
        Penalty strengths, already divided by ``C * S``.
    block_bytes : int, optional
        The size of the blocks of rows the passes read (see
        ``linear_pass``); the backend's default if None.
    """

    X: object
    y: np.ndarray
    weights: np.ndarray
    n_outputs: int
    fit_intercept: bool
    l2: float
    l1: float
    block_bytes: int | None = None

    @property
    def n_features(self) -> int:
        return self.X.shape[1]  # type: ignore[attr-defined]

    @property
    def n_coefficients(self) -> int:
        """The size of ``coef``: ``(n_features + fit_intercept) * n_outputs``."""
        return (self.n_features + self.fit_intercept) * self.n_outputs

    @property
    def curvature(self) -> float:
        return BINARY_CURVATURE if self.n_outputs == 1 else MULTINOMIAL_CURVATURE

    @property
    def curvature_at_zero(self) -> float:
        """The curvature of the loss in ``z`` where the fit starts, at zero:
        1/4 (the sigmoid's, the bound itself) or 1/K (the softmax's Hessian
        there is ``(I - 1 1^T / K) / K``, K times smaller than the bound
        1/2 with many classes)."""
        return BINARY_CURVATURE if self.n_outputs == 1 else 1 / self.n_outputs

    def split(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(W, b)`` views of ``coef``; ``b`` is zeros without an intercept."""
        W = coef[: self.n_features]
        if self.fit_intercept:
            return W, coef[self.n_features]
        return W, np.zeros(self.n_outputs, dtype=coef.dtype)

    def values_and_grads(
        self, coefs: Sequence[np.ndarray]
    ) -> list[tuple[float, np.ndarray]]:
        """Objective (without the L1 term) and its gradient at each of ``coefs``.

        All the points share one read of ``X`` (see ``linear_pass``).
        """
        whole = one_block(self.X, self.block_bytes, len(coefs) * self.n_outputs)
        if whole is not None:
            return self._stacked_values_and_grads(coefs, whole)
        if self.n_outputs == 1:  # 1-D W and Z: matrix-vector products
            points = [(W[:, 0], b) for W, b in map(self.split, coefs)]
        else:
            points = [self.split(coef) for coef in coefs]
        passed = linear_pass(
            self.X,
            self._labels(),
            self.weights,
            points,
            self._pointwise,
            self.block_bytes,
        )
        results = []
        for (W, _), (loss, grad_W, grad_b) in zip(points, passed, strict=True):
            loss += 0.5 * self.l2 * float(_squared_norm(W))
            grad_W += self.l2 * W
            grad_W = grad_W.reshape(W.shape[0], -1)
            if self.fit_intercept:
                grad_W = np.concatenate([grad_W, grad_b.reshape(1, -1)])
            results.append((loss, grad_W))
        return results

    def _stacked_values_and_grads(
        self, coefs: Sequence[np.ndarray], whole
    ) -> list[tuple[float, np.ndarray]]:
        """:meth:`values_and_grads` for an X of one block (``whole``): the
        coefficients stacked side by side as they come and the gradients
        returned as columns of one array, without the general pass's
        bookkeeping for each point (on breast cancer, a fifth of a call)."""
        d, k = self.n_features, self.n_outputs
        C = coefs[0] if len(coefs) == 1 else np.concatenate(coefs, axis=1)
        W = C[:d]
        if self.fit_intercept:
            b_all = C[d][:, None]
        else:
            b_all = np.zeros((C.shape[1], 1), dtype=C.dtype)
        spans = [(i * k, (i + 1) * k) for i in range(len(coefs))]
        losses, grads_T, grads_b = stacked_sums(
            self._labels(),
            self.weights,
            np.ascontiguousarray(W.T),
            b_all,
            spans,
            k == 1,
            self._pointwise,
            whole,
        )
        grads = np.empty_like(C)
        grads[:d] = grads_T.T
        grads[:d] += self.l2 * W
        if self.fit_intercept:
            grads[d] = grads_b
        squares = _squared_norm(W, axis=0)
        return [
            (
                float(loss) + 0.5 * self.l2 * float(squares[start:end].sum()),
                grads[:, start:end],
            )
            for loss, (start, end) in zip(losses, spans, strict=True)
        ]

    @property
    def keeps_scores(self) -> bool:
        """Whether the solver should keep each point's scores ``Z = X W + b``
        and use :meth:`scores` and :meth:`value_and_grad_at` (see
        ``gradient_descent``'s ``keep_scores``): for a dense numpy X of more
        than ``MAX_DECORRELATED_FEATURES`` features and at least
        ``FEATURES_PER_KEPT_SCORE`` per output.

        There the steps' metric is diagonal, and a pass at two points reads
        X about twice (two-column products; 20k x 2000: 41 ms, 34 at one
        point, where ``X @ w`` takes 9.4 and ``r @ X`` 10.7). Measured (fit
        time with kept scores over without, default tol / 1e-8): 50k x 500
        0.60 / 0.57, 20k x 2000 float32 0.39 / 0.32, 20k x 2000 with 10
        classes 0.71 / 0.77. With fewer
        features a pass at two points costs little more than at one, and
        each new full metric restarts from an iterate whose gradient is then
        needed: 100k x 256 took 1.02 / 1.28 the time, 300k x 100 1.04 / 1.18.
        """
        return (
            type(self.X) is np.ndarray
            and self.n_features > MAX_DECORRELATED_FEATURES
            and self.n_features >= FEATURES_PER_KEPT_SCORE * self.n_outputs
        )

    def scores(self, coef: np.ndarray) -> np.ndarray:
        """``Z = X W + b`` at ``coef``, one read of X (dense numpy X): of shape
        (n_samples,) for a binary problem, (n_samples, n_outputs) else. No
        read where W is zero, as where a fit starts."""
        W, b = self.split(coef)
        X = cast(np.ndarray, self.X)
        if not W.any():
            shape = X.shape[:1] if self.n_outputs == 1 else (X.shape[0], W.shape[1])
            Z = np.zeros(shape, dtype=np.result_type(X.dtype, W.dtype))
        elif self.n_outputs == 1:
            Z = X @ W[:, 0]
        else:
            Z = X @ W
        Z += b
        return Z

    def value_and_grad_at(
        self, coef: np.ndarray, scores: np.ndarray, grad: bool = True
    ) -> tuple[float, np.ndarray | None]:
        """Objective (without the L1 term) at ``coef``, whose scores are
        ``scores`` (not modified), and its gradient if ``grad``: the value
        reads nothing of X, the gradient reads it once (``X^T R``)."""
        W, _ = self.split(coef)
        loss, R = pointwise_in_slices(
            self._pointwise, scores.copy(), self._labels(), self.weights
        )
        value = float(loss) + 0.5 * self.l2 * float(_squared_norm(W))
        if not grad:
            return value, None
        gradient = np.empty_like(coef)
        d = self.n_features
        gradient[:d] = (R @ self.X).reshape(d, -1) if R.ndim == 1 else (R.T @ self.X).T
        gradient[:d] += self.l2 * W
        if self.fit_intercept:
            gradient[d] = R.sum(axis=0)
        return value, gradient

    @property
    def _pointwise(self) -> Pointwise:
        """The loss and residual of a block of scores: sigmoid or softmax."""
        return binary_pointwise if self.n_outputs == 1 else multinomial_pointwise

    def _labels(self):
        """``y`` as the passes take it: for a binary problem with X in
        memory, the signs of the labels (see ``binary_pointwise``)."""
        if self.n_outputs > 1 or not isinstance(self.weights, np.ndarray):
            return self.y
        return self._signs

    @cached_property
    def _signs(self) -> np.ndarray:
        """The labels' signs, -1 or +1, in X's dtype: made once per fit."""
        signs = self.y.astype(host_dtype(self.X))
        signs *= 2
        signs -= 1
        return signs

    def value_and_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective (without the L1 term) and its gradient, in one pass over X."""
        return self.values_and_grads([coef])[0]

    def curvature_at(self, coef: np.ndarray) -> Reweight:
        """The curvature of the loss at ``coef``, as ``column_moments`` takes
        it (``reweight``): each sample's weight times the second derivative
        of its loss in ``z`` (see :func:`curvature_weights`).
        """
        W, b = self.split(coef)
        return partial(curvature_weights, W, b)

    def penalty_l1(self, coef: np.ndarray) -> float:
        if self.l1 == 0:
            return 0.0
        return self.l1 * float(np.abs(self.split(coef)[0]).sum())


# Below this, the curvature that a group of exclusive columns leaves to the
# direction raising all of them at once (see ExclusiveGroups) is taken as
# this: it is the penalty's alone, and rounding must not make it negative.
_SMALLEST_GROUP_CURVATURE = 1e-8


@dataclass(frozen=True)
class ExclusiveGroups:
    """The covariance of groups of columns that no row has two entries of.

    In such a group (the indicators of a one-hot encoded feature) the
    products of two columns vanish, so its covariance is exactly
    ``diag(E[x^2]) - m m^T``: a diagonal less a rank one, solved by Sherman
    and Morrison's formula in a few operations per column. Where the group
    covers every row its indicators sum to one, the intercept's column, and
    once centred the direction that raises all of them at once has no
    curvature but the penalty's: a diagonal metric, blind to it, takes
    many steps along it. The metric of ``Geometry`` keeps these blocks and
    drops only the products between groups; its diagonal stays
    ``Geometry.scale``.
    """

    starts: np.ndarray  # the first column of each group; the groups cover all
    lengths: np.ndarray
    coupling: np.ndarray  # (n_features, 1): the columns' means
    diagonal: np.ndarray  # (n_features, 1): scale + coupling^2
    denominators: np.ndarray  # (n_groups, 1): 1 - sum(coupling^2 / diagonal)

    @classmethod
    def of(cls, bounds: list[int], mean: np.ndarray, scale: np.ndarray):
        """The groups between ``bounds`` (see ``exclusive_column_groups``)."""
        starts = np.asarray(bounds[:-1])
        lengths = np.diff(bounds)
        # A group of one column is the diagonal metric: no coupling. Written
        # as ``E[x^2] - m^2`` it would lose a column with a large constant
        # part (stored on every row, such as dense data in a sparse matrix)
        # to cancellation.
        coupling = np.where(np.repeat(lengths, lengths) > 1, mean, 0.0)[:, None]
        diagonal = scale + coupling**2
        explained = np.add.reduceat(coupling**2 / diagonal, starts, axis=0)
        denominators = np.maximum(1 - explained, _SMALLEST_GROUP_CURVATURE)
        return cls(starts, lengths, coupling, diagonal, denominators)

    def _per_column(self, per_group: np.ndarray) -> np.ndarray:
        return np.repeat(per_group, self.lengths, axis=0)

    def solve(self, v: np.ndarray) -> np.ndarray:
        """``metric^-1 v`` for the rows of ``W``."""
        solved = v / self.diagonal
        sums = np.add.reduceat(self.coupling * solved, self.starts, axis=0)
        return solved + self.coupling / self.diagonal * self._per_column(
            sums / self.denominators
        )

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``metric v`` for the rows of ``W``."""
        sums = np.add.reduceat(self.coupling * v, self.starts, axis=0)
        return self.diagonal * v - self.coupling * self._per_column(sums)


@dataclass(frozen=True)
class Geometry:
    """The metric of a step: gradient descent on the centred, standardised problem.

    Gradient descent crawls when columns have very different scales, when
    they are correlated, or when the intercept is far from zero (raw
    features around 100). All three are fixed by a change of variables,
    written here in the original coordinates so that nothing else needs to
    know about it:

    - centring: with an unpenalised intercept, ``c = b + mean @ W`` and
      ``X - mean`` describe the same model; the intercept then no longer
      fights the slope;
    - scaling: each row ``j`` of ``W`` is measured in units of
      ``sqrt(scale_j)``, with ``scale_j = var_j + l2 / curvature`` (the
      diagonal of the Hessian bound, divided by the curvature constant);
    - decorrelation (optional, ``correlation`` set): the metric of ``W`` is
      the whole Hessian bound ``cov + l2 / curvature``, not only its
      diagonal (Bohning's bound, 1992). The step is then safe in every
      direction at once, however correlated the features.

    A step ``coef - t * direction(grad)`` is then plain gradient descent with
    step ``t`` on the transformed problem: with the diagonal metric, on data
    that is already standardised (zero mean, unit variance) and without
    penalty it is exactly the notebook's ``w -= learning_rate * grad``.
    ``prox`` is the proximal operator of the L1 term in the same metric
    (diagonal metric only), ``inner`` the inner product that the
    backtracking test uses, and ``optimality`` measures the gradient in the
    standardised coordinates, so that ``tol`` means the same whatever the
    units of the features. None of this moves the minimum.
    """

    # The curvature constant c of the metric (see for_objective): a step of
    # 1 / c is a Newton step when the metric is the Hessian.
    curvature: float
    # float64, whatever the coefficients' type; the steps come in theirs.
    mean: np.ndarray | None  # None: no intercept, no centring
    scale: np.ndarray
    l1: float
    # The Hessian bound in standardised units (unit diagonal) and its
    # Cholesky factor, float64; None for the diagonal metric.
    correlation: np.ndarray | None = None
    cholesky: np.ndarray | None = None
    # The full metric's own diagonal, where its covariance was measured on
    # a sample of X's rows (see metric_rows): it then differs a little from
    # ``scale``, which is exact and measures the optimality. The metric
    # keeps its own: the sample's exact collinearities are X's, and
    # rescaling the sample to X's variances would tilt them.
    metric_scale: np.ndarray | None = None
    # The blocks of one-hot encoded columns of a sparse X (see
    # ExclusiveGroups); None for a diagonal or full metric.
    groups: ExclusiveGroups | None = None

    @classmethod
    def for_objective(
        cls, objective: LogisticObjective, dtype, decorrelate: bool = False
    ) -> Geometry:
        """The geometry of ``objective``'s problem, from one read of ``X``
        (and one of a sample of its rows for the full metric of a tall X).

        With ``decorrelate``, the full metric is used where it applies: no
        L1 term, dense ``X``, and at most ``MAX_DECORRELATED_FEATURES``
        features (its setup costs about ``n_features / 10`` passes over X).
        The metric is then the Hessian bound: the curvature bound times the
        weighted covariance of X, plus ``l2``. On a sparse X of one-hot
        encoded features (and no L1 term), ``decorrelate`` keeps instead
        the covariance of each feature's indicators (``ExclusiveGroups``).
        """
        full = decorrelate and cls._full_metric_applies(objective)
        X, weights, stride = metric_rows(
            objective.X, objective.weights, objective.n_coefficients
        )
        sampled = full and stride > 1  # the full metric from a sample of the rows
        # The mean and variances are exact: they are tol's units.
        mean, moments, _ = column_moments(
            objective.X,
            objective.weights,
            covariance=full and not sampled,
            block_bytes=objective.block_bytes,
        )
        geometry = cls._from_moments(
            objective, dtype, mean, moments, objective.curvature, full and not sampled
        )
        if sampled:
            _, sample, _ = column_moments(
                X, weights, covariance=True, block_bytes=objective.block_bytes
            )
            metric = cls._from_moments(
                objective, dtype, mean, sample, objective.curvature, True
            )
            geometry = replace(metric, scale=geometry.scale, metric_scale=metric.scale)
        if decorrelate and cls._groups_apply(objective):
            bounds = exclusive_column_groups(objective.X)
            if bounds:
                groups = ExclusiveGroups.of(bounds, mean, geometry.scale)
                geometry = replace(geometry, groups=groups)
        return geometry

    @classmethod
    def at_curvature(
        cls, objective: LogisticObjective, dtype, coef: np.ndarray
    ) -> Geometry | None:
        """The full metric at the curvature of the loss at ``coef``.

        The covariance of X weighted by the curvature there (see
        ``curvature_weights``), times its total, plus ``l2``: the Hessian at
        ``coef`` (multinomial: one metric for all classes), in one pass (over
        a sample of the rows of a tall X, see ``metric_rows``). None
        where it does not apply (see ``for_objective``) or the curvature is
        zero (every sample predicted with certainty).
        """
        if not cls._full_metric_applies(objective):
            return None
        X, weights, stride = metric_rows(
            objective.X, objective.weights, objective.n_coefficients
        )
        mean, moments, curvature = column_moments(
            X,
            weights,
            covariance=True,
            block_bytes=objective.block_bytes,
            reweight=objective.curvature_at(coef),
        )
        curvature *= stride
        if not curvature > 0:
            return None
        return cls._from_moments(objective, dtype, mean, moments, curvature, True)

    @staticmethod
    def _full_metric_applies(objective: LogisticObjective) -> bool:
        """No L1 term (its step needs a diagonal metric), dense X, and at most
        ``MAX_DECORRELATED_FEATURES`` features."""
        return (
            objective.l1 == 0
            and not sp.issparse(objective.X)
            and objective.n_features <= MAX_DECORRELATED_FEATURES
        )

    @staticmethod
    def _groups_apply(objective: LogisticObjective) -> bool:
        """No L1 term, an intercept (the groups' coupling is their centring)
        and a sparse X."""
        return (
            objective.l1 == 0 and objective.fit_intercept and sp.issparse(objective.X)
        )

    @classmethod
    def _from_moments(
        cls, objective, dtype, mean, moments, curvature: float, decorrelate: bool
    ) -> Geometry:
        """The geometry of a weighted mean and (co)variance of X's columns."""
        var = np.diag(moments).copy() if decorrelate else moments
        if not objective.fit_intercept:
            # Without an intercept there is nothing to absorb the mean:
            # use second moments and do not centre.
            var = var + mean**2
            if decorrelate:
                moments = moments + np.outer(mean, mean)
        else:
            # A constant column (variance at rounding level) carries no
            # information once centred; give it a scale that keeps its
            # rounding noise from moving it.
            constant = var <= (16 * np.finfo(dtype).eps * mean) ** 2
            var = np.where(constant, np.maximum(mean**2, 1.0), var)
        scale = var + objective.l2 / curvature
        # float64 whatever X's type: the variance of float32 features of
        # 1e20 or more is past float32's range (their steps are not).
        tiny, huge = np.finfo(np.float64).tiny, np.finfo(np.float64).max
        scale = np.clip(np.where(scale > 0, scale, 1.0), tiny, huge)
        correlation = cholesky = None
        if decorrelate:
            std = np.sqrt(scale)
            correlation = moments / std[:, None] / std[None, :]
            np.fill_diagonal(correlation, 1.0)
            correlation, cholesky = _cholesky_with_jitter(correlation)
        return cls(
            curvature=curvature,
            mean=mean if objective.fit_intercept else None,
            scale=scale[:, None],
            l1=objective.l1,
            correlation=correlation,
            cholesky=cholesky,
        )

    @cached_property
    def _std(self) -> np.ndarray:
        return np.sqrt(self.scale)

    @cached_property
    def _metric_std(self) -> np.ndarray:
        scale = self.scale if self.metric_scale is None else self.metric_scale
        return np.sqrt(scale)

    def _metric(self) -> np.ndarray:
        """The full metric of W's rows, ``std * correlation * std``."""
        return self._metric_std * self.correlation * self._metric_std.T

    @cached_property
    def _full(self) -> tuple[np.ndarray, np.ndarray]:
        """For the full metric: its inverse and itself on the rows of W,
        made once so that each step is one product (a solve's call costs
        more, on small data, than a pass over X).

        The centring is applied around them (``_centred_grad_W``, and the
        intercept's ``c = b + mean @ W``), never folded into them: folded,
        the intercept's entries hold ``mean^T metric mean``, and a column
        of mean ``m`` and spread 1 loses ``m^2`` times the rounding to
        cancellation there (all of it from ``m = 1e8`` on).
        """
        assert self.cholesky is not None
        inverse = _scaled_inverse(self.cholesky, self._metric_std[:, 0])
        return inverse, self._metric()

    def _solve(self, v: np.ndarray) -> np.ndarray:
        """``metric^-1 v`` for the rows of ``W``."""
        if self.cholesky is not None:
            return self._full[0] @ v
        if self.groups is not None:
            return self.groups.solve(v)
        return v / self.scale

    def _apply(self, v: np.ndarray) -> np.ndarray:
        """``metric v`` for the rows of ``W``."""
        if self.cholesky is not None:
            return self._full[1] @ v
        if self.groups is not None:
            return self.groups.apply(v)
        return v * self.scale

    def _centred_grad_W(self, grad: np.ndarray) -> np.ndarray:
        """The gradient for ``W`` with the intercept held at ``c = b + mean @ W``."""
        d = self.scale.shape[0]
        if self.mean is None:
            return grad[:d]
        return grad[:d] - self.mean[:, None] * grad[d]

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """``P grad``: the gradient of the transformed problem, mapped back.

        Multinomial, without an L1 term: less the part that changes every
        class's coefficients alike, which moves no prediction. Its gradient
        is the penalty's alone (the coefficients' mean over the classes,
        zero from the start), and where features are collinear this metric
        sees almost no curvature there: the steps would grow rounding errors
        in it, unseen by the objective, without bound (measured: from 1e-13
        to 0.07 in 14 iterations on 20 classes). Dropping it keeps the
        coefficients' class means at zero, where the minimum has them.
        """
        step = self._solve(self._centred_grad_W(grad))
        if self.mean is not None:  # the intercept keeps c = b + mean @ W
            step = np.concatenate([step, (grad[-1] - self.mean @ step)[None]])
        if step.shape[1] > 1 and self.l1 == 0:
            _drop_common_part(step, self.mean)
        return step.astype(grad.dtype, copy=False)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """``<u, P^-1 v>``, the inner product of the transformed coordinates."""
        d = self.scale.shape[0]
        value = float(np.vdot(u[:d], self._apply(v[:d])))
        if self.mean is not None:
            value += float(np.vdot(u[d] + self.mean @ u[:d], v[d] + self.mean @ v[:d]))
        return value

    def optimality(self, coef: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the gradient of the standardised problem.

        With the L1 term, of the proximal-gradient mapping with unit step,
        ``theta - prox(theta - grad_theta)``, which is the gradient when
        ``l1 = 0`` and zero exactly at the minimum. On standardised data
        (zero mean, unit variance, no penalty) this is the max-norm of the
        plain gradient: ``LogisticRegression``'s lbfgs stopping rule.
        """
        d = self.scale.shape[0]
        std = self._std
        grad_theta = self._centred_grad_W(grad) / std
        if self.l1 == 0:
            worst = float(np.abs(grad_theta).max())
        else:
            theta = coef[:d] * std
            mapping = theta - _soft_threshold(theta - grad_theta, self.l1 / std)
            worst = float(np.abs(mapping).max())
        if self.mean is not None:
            worst = max(worst, float(np.abs(grad[-1]).max()))
        return worst

    def cancelled(self, coef: np.ndarray) -> float:
        """The size of the terms that cancel in the scores at ``coef``: each
        class's ``|mean| @ |W|``, which the intercept takes out again
        (``c = b + mean @ W`` is small where ``b`` is not). The objective's
        value is rounded relative to it (a column of constant part ``m`` and
        coefficient ``w`` puts a rounding of ``eps m w`` in every score), so
        the solver compares values only where a step changes them by more.
        """
        if self.mean is None:
            return 0.0
        d = self.scale.shape[0]
        return float((np.abs(self.mean) @ np.abs(coef[:d])).max())

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray:
        """Proximal operator of ``step * l1 * ||W||_1`` in this metric.

        The intercept is free, so in the centred coordinates it is left where
        it is (``c = b + mean @ W`` unchanged) and each row of ``W`` is
        soft-thresholded by ``step * l1 / scale_j``.
        """
        if self.l1 == 0:
            return coef
        d = self.scale.shape[0]
        out = coef.copy()
        out[:d] = _soft_threshold(coef[:d], step * self.l1 / self.scale)
        if self.mean is not None:
            out[d] += self.mean @ (coef[:d] - out[:d])
        return out


def _probabilities(W, b, X_b):
    """The softmax of ``X_b @ W + b``, in X_b's namespace."""
    return softmax(_scores(W, b, X_b))


@dataclass(frozen=True)
class ClassCoupledMetric:
    """The multinomial Hessian at a point, all classes coupled, as a metric.

    The shared multinomial metric (``Geometry.at_curvature``) is one
    covariance for every class, with one mean curvature per sample: it
    cannot see that one class is predicted with certainty while two others
    are confused. This is the Hessian itself, ``sum_i s_i (diag(p_i) - p_i
    p_i^T) kron u_i u_i^T + l2`` in the centred coordinates of ``Geometry``
    (``u_i = [x_i - mean, 1]``, intercept ``c = b + mean @ W``), factored
    once; a step of 1 is a Newton step. Its null directions (the same
    change to every class, which the softmax does not see) are given the
    mean of the diagonal blocks: the loss's gradient has no part there, and
    the penalty's only where the classes' coefficients do not sum to zero
    (never, from the zero start). For a few coefficients only
    (``MAX_COUPLED_COEFFICIENTS``; it costs ``K^2`` covariances), dense X,
    no L1 term.
    """

    mean: np.ndarray | None  # None: no intercept, no centring
    # float64, (K m, K m), on the centred coefficients (``_centred_coef``)
    # raveled: feature by feature, the classes within. The centring is
    # applied around them, not folded in (see ``Geometry._full``).
    hessian: np.ndarray
    inverse: np.ndarray  # its inverse (with the jitter of _inverse_or_none)

    @staticmethod
    def applies(objective: LogisticObjective) -> bool:
        return (
            objective.n_outputs > 1
            and objective.l1 == 0
            and not sp.issparse(objective.X)
            and objective.n_coefficients <= MAX_COUPLED_COEFFICIENTS
        )

    @classmethod
    def at(
        cls, objective: LogisticObjective, coef: np.ndarray, mean: np.ndarray | None
    ) -> ClassCoupledMetric | None:
        """The metric at ``coef``, centred on ``mean`` (with an intercept);
        None if it is not finite and positive definite (even with jitter)."""
        W, b = objective.split(coef)
        center = mean if objective.fit_intercept else None
        n_classes = objective.n_outputs
        X, weights, stride = metric_rows(
            objective.X, objective.weights, objective.n_coefficients
        )
        hessian = class_coupled_moments(
            X, weights, partial(_probabilities, W, b), center, n_classes
        )
        hessian *= stride
        m = hessian.shape[0] // n_classes
        # The penalty, in every class.
        hessian.flat[:: hessian.shape[0] + 1] += np.tile(_penalty(objective), n_classes)
        # The null directions, ones(K) kron e_j, get the mean diagonal: 1/K of
        # it at (j, j) in every pair of classes (k, l).
        blocks = hessian.reshape(n_classes, m, n_classes, m)  # a view
        j = np.arange(m)
        diagonal = np.einsum("kjkj->j", blocks) / n_classes
        blocks[:, j, :, j] += (diagonal / n_classes)[:, None, None]
        inverse = _inverse_or_none(hessian)
        if inverse is None:
            return None
        return cls(
            mean=center,
            hessian=_by_feature(hessian, n_classes),
            inverse=_by_feature(inverse, n_classes),
        )

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """``H^-1 grad`` in the centred coordinates, mapped back."""
        step = self.inverse @ _centred_grad(grad, self.mean).ravel()
        step = _uncentred_step(step.reshape(grad.shape), self.mean)
        return step.astype(grad.dtype, copy=False)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """``<u, H v>`` in the centred coordinates."""
        cu, cv = _centred_coef(u, self.mean), _centred_coef(v, self.mean)
        return float(cu.ravel() @ (self.hessian @ cv.ravel()))

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray:
        return coef  # no L1 term


# The class blocks' metric keeps K (m, m) blocks and their inverses: only
# up to this many entries in all (32 MiB each).
MAX_CLASS_BLOCK_ENTRIES = 2**22


@dataclass(frozen=True)
class ClassBlockMetric:
    """The multinomial Hessian's diagonal blocks at a point, one per class.

    For more coefficients than ``ClassCoupledMetric`` takes: block k is
    ``sum_i s_i p_ik (1 - p_ik) u_i u_i^T + l2`` (the curvature of class k's
    coefficients alone, in the centred coordinates of ``Geometry``), which
    sees that a class predicted with certainty needs long steps where two
    confused ones need short. The coupling between classes is left out but
    for its one exact effect: the loss does not see the same change to
    every class's coefficients. The steps leave that direction out (as
    ``Geometry.direction`` does), and ``inner`` is the metric that makes
    them gradient steps on the other directions: the Schur complement
    ``B - B C (C^T B C)^-1 C^T B`` of the blocks ``B`` against that
    direction ``C``. K covariances of a sample of the rows of a tall X (see
    ``metric_rows``): a numpy X, no L1 term; a step of 1 is a Newton step
    in it.
    """

    mean: np.ndarray | None  # None: no intercept, no centring
    blocks: np.ndarray  # float64, (K, m, m)
    inverses: np.ndarray  # each block's inverse
    total_inverse: np.ndarray  # the inverse of the blocks' sum

    @staticmethod
    def applies(objective: LogisticObjective) -> bool:
        m = objective.n_features + objective.fit_intercept
        return (
            objective.n_outputs > 1
            and objective.l1 == 0
            and type(objective.X) is np.ndarray
            and objective.n_features <= MAX_DECORRELATED_FEATURES
            and objective.n_outputs * m * m <= MAX_CLASS_BLOCK_ENTRIES
        )

    @classmethod
    def at(
        cls,
        objective: LogisticObjective,
        coef: np.ndarray,
        mean: np.ndarray | None,
        scale: np.ndarray | None = None,
    ) -> ClassBlockMetric | None:
        """The metric at ``coef``, centred on ``mean`` (with an intercept);
        None if a block is not finite and positive definite (even with jitter).
        With ``scale`` (the features' variances, as ``Geometry.scale``), its
        products run in float32 in those units (see ``class_block_moments``)."""
        W, b = objective.split(coef)
        center = mean if objective.fit_intercept else None
        m = objective.n_features + objective.fit_intercept
        X, weights, stride = metric_rows(objective.X, objective.weights, m)
        units = None
        if scale is not None:
            units = np.sqrt(scale.ravel())
            if objective.fit_intercept:  # u's last entry, 1
                units = np.append(units, 1.0)
        blocks = class_block_moments(
            X,
            weights,
            partial(_probabilities, W, b),
            center,
            objective.n_outputs,
            units,
        )
        blocks *= stride
        blocks[:, np.arange(m), np.arange(m)] += _penalty(objective)
        inverses = []
        for block in (*blocks, blocks.sum(0)):
            inverse = _inverse_or_none(block)
            if inverse is None:
                return None
            inverses.append(inverse)
        return cls(center, blocks, np.stack(inverses[:-1]), inverses[-1])

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """Each class's block solved, less the same change to every class."""
        g = _centred_grad(grad, self.mean)
        step = np.einsum("kij,jk->ik", self.inverses, g)
        step -= step.mean(axis=1, keepdims=True)
        return _uncentred_step(step, self.mean).astype(grad.dtype, copy=False)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """``<u, S v>`` in the centred coordinates, ``S`` the Schur complement."""
        cu, cv = _centred_coef(u, self.mean), _centred_coef(v, self.mean)
        Bu = np.einsum("kij,jk->ik", self.blocks, cu)
        Bv = np.einsum("kij,jk->ik", self.blocks, cv)
        # C^T B v is the sum of B v over the classes (C: each class alike).
        summed_u, summed_v = Bu.sum(axis=1), Bv.sum(axis=1)
        return float(np.vdot(cu, Bv) - summed_u @ self.total_inverse @ summed_v)

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray:
        return coef  # no L1 term


def _penalty(objective: LogisticObjective) -> np.ndarray:
    """The L2 penalty's curvature on one class's coefficients: ``l2`` on the
    rows of W, none on the intercept."""
    m = objective.n_features + objective.fit_intercept
    return np.where(np.arange(m) < objective.n_features, objective.l2, 0.0)


def _by_feature(matrix: np.ndarray, n_classes: int) -> np.ndarray:
    """A (K m, K m) ``matrix`` ordered class by class (``k * m + j``),
    reordered as ``coef.ravel()`` is: feature by feature, the classes within."""
    K = n_classes
    m = matrix.shape[0] // K
    return matrix.reshape(K, m, K, m).transpose(1, 0, 3, 2).reshape(K * m, K * m)


def _drop_common_part(step: np.ndarray, mean: np.ndarray | None) -> None:
    """Take out of a multinomial step (in place) the same change to every
    class's W, which moves no prediction (see ``Geometry.direction``); the
    intercepts keep ``c = b + mean @ W``."""
    d = step.shape[0] - (mean is not None)
    common = step[:d].mean(axis=1)
    step[:d] -= common[:, None]
    if mean is not None:
        step[d] += mean @ common


def _centred_coef(coef: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """``coef`` (float64) with each class's intercept at ``c = b + mean @ W``:
    the coordinates of ``Geometry``'s centring (none if ``mean`` is None)."""
    centred = coef.astype(np.float64)
    if mean is not None:
        centred[-1] += mean @ centred[:-1]
    return centred


def _centred_grad(grad: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """The gradient (float64) in the coordinates of :func:`_centred_coef`."""
    g = grad.astype(np.float64)
    if mean is not None:
        g[:-1] -= mean[:, None] * grad[-1]
    return g


def _uncentred_step(step: np.ndarray, mean: np.ndarray | None) -> np.ndarray:
    """A step in the coordinates of :func:`_centred_coef`, mapped back (in place)."""
    if mean is not None:
        step[-1] -= mean @ step[:-1]
    return step


def _inverse_or_none(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse of a symmetric positive definite ``matrix`` (with the
    jitter of ``_cholesky_with_jitter``), or None."""
    std = np.sqrt(np.diag(matrix))
    if not ((std > 0).all() and np.isfinite(matrix).all()):
        return None
    _, cholesky = _cholesky_with_jitter(matrix / std[:, None] / std[None, :])
    return None if cholesky is None else _scaled_inverse(cholesky, std)


# The metric is measured again each time the optimality has shrunk this
# much: by 100, or by 10 where it is the Hessian (binary, or classes
# coupled) of at most SMALL_METRIC coefficients: a few passes' cost. Measured
# to tol=1e-8: on breast cancer, iris and wine, 10 took 13, 11 and 12
# iterations against 24, 21 and 18 (a quarter less wall time); on 300k x 100
# (metrics from a sample of its rows) 10 took 14 iterations against 17, in
# the same time within the noise; with one metric for all classes (digits,
# 20 classes) it saved no iteration.
REMETRIC_FACTOR, SMALL_REMETRIC_FACTOR, SMALL_METRIC = 1e-2, 1e-1, 64
# No new metric of all the rows once the optimality is within this factor
# of tol: such a metric costs several passes over X (breast cancer: about
# four), and the one in use finishes in one or two iterations. Measured at
# the default tol: breast cancer and wine as many iterations with a metric
# fewer (a tenth less time). A metric from a sample of the rows costs
# about one pass and ends the run sooner: on correlated 100k x 100 to
# tol=1e-8, skipping it took 10 iterations against 9, with three more
# passes.
FINISH_WITHIN = 10


def curvature_metric(objective: LogisticObjective, dtype, geometry: Geometry):
    """``(remetric(coef), factor, finish_within)`` for the solver: the full
    metric at the curvature of the loss at ``coef``, and the step that is a
    Newton step in it (None where there is no such metric), asked for each
    time the optimality has shrunk by ``factor``, and not once it is within
    ``finish_within`` times tol (see ``FINISH_WITHIN``).

    Binary: ``Geometry.at_curvature``. The first metric, Bohning's bound, is
    this metric at zero; near the minimum the curvature is far smaller in
    the directions where the predictions are confident, and a metric
    measured there takes a few steps where the bound takes many (breast
    cancer to tol=1e-8: 13 iterations against 146). Multinomial: the Hessian
    with the classes coupled (``ClassCoupledMetric``) where it applies, else
    its blocks class by class (``ClassBlockMetric``: digits to tol=1e-8, 37
    iterations against 169; 20 classes of 100k x 50, 21 against 72), else
    one metric for all classes (``Geometry.at_curvature``). Each costs one
    pass over X, or over a sample of its rows (``metric_rows``). ``geometry``
    is the first one: its mean is the coupled and block metrics' centre, its
    scale the block metric's units.
    """
    mean, scale = geometry.mean, geometry.scale
    coupled = ClassCoupledMetric.applies(objective)
    blocks = not coupled and ClassBlockMetric.applies(objective)

    def remetric(coef):
        by_class = None
        if coupled:
            by_class = ClassCoupledMetric.at(objective, coef, mean)
        elif blocks:
            by_class = ClassBlockMetric.at(objective, coef, mean, scale)
        if by_class is not None:
            return by_class, 1.0
        metric = Geometry.at_curvature(objective, dtype, coef)
        if metric is None or metric.cholesky is None:
            return None
        return metric, 1 / metric.curvature

    # The metric is the Hessian, or its blocks: remeasure it often where it
    # is small, or measured on a sample of the rows (about a pass's cost).
    exact = coupled or blocks or objective.n_outputs == 1
    if blocks:
        size = objective.n_features + objective.fit_intercept
    else:
        size = objective.n_coefficients
    sampled = metric_rows(objective.X, objective.weights, size)[2] > 1
    often = exact and (size <= SMALL_METRIC or sampled)
    factor = SMALL_REMETRIC_FACTOR if often else REMETRIC_FACTOR
    return remetric, factor, 0.0 if sampled else FINISH_WITHIN
