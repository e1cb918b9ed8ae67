"""The logistic objective: loss, gradient and penalty, and the scores.

Notation (the same as scikit-learn's ``LinearModelLoss``). Labels are
integer codes ``y_i`` in ``{0, ..., K-1}``; ``s_i`` are the sample weights
(class weights folded in) divided by their sum ``S``, so that
``sum_i s_i = 1``. The coefficients are one array ``coef`` of shape
``(n_features + fit_intercept, n_outputs)``: the rows of ``W`` first, the
intercept ``b`` last. ``n_outputs`` is 1 for a binary problem (sigmoid)
and ``K`` for ``K >= 3`` classes (symmetric softmax, no reference class).
With ``Z = X W + b`` the objective is::

    f(coef) = sum_i s_i loss(Z_i, y_i) + l2 / 2 sum_j f_j ||W_j||^2
                                       + l1 sum_j f_j ||W_j||_1

    binary:       loss(z, y) = log(1 + exp(z)) - y z
    multinomial:  loss(z, y) = logsumexp_k(z_k) - z_y

with ``l2 = (1 - l1_ratio) / (C S)`` and ``l1 = l1_ratio / (C S)``. The
penalty factors ``f_j`` (``penalty_factor``, one per feature, glmnet's
``penalty.factor``) are 1 by default: this is then ``LogisticRegression``'s
objective divided by ``C S``, the same minimiser. The intercept is never
penalised. The coefficients ``W`` may be kept in a box ``lower <= W <=
upper`` (``bounds``).

The gradient of the smooth part is ``X^T R + l2 f W`` and ``sum_i R_i`` with the
residual ``R_i = s_i (p_i - onehot(y_i))``, where ``p`` is the sigmoid or the
softmax of ``z``. The derivative of the sigmoid cancels against that of the
log-loss, which is why the notebook's extra ``sigmoid_derivative`` factor was
wrong. The ``l1`` part and the box are not differentiated: the solver applies
their proximal operator (see ``_metrics.Geometry.prox``).

The pointwise losses are ``_loss``'s; the metrics the solver steps in are
``_metrics``'s, and how a fit runs ``_plan``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, cast

import numpy as np

from . import _layout
from ._array_api import copied, like, namespace, to_numpy
from ._backends import (
    Backend,
    HostBackend,
    OffsetLabels,
    Pointwise,
    Reweight,
    pointwise_in_slices,
    shifted,
)
from ._loss import (
    BINARY_CURVATURE,
    MULTINOMIAL_CURVATURE,
    binary_pointwise,
    class_curvature_weights,
    curvature_weights,
    multinomial_pointwise,
    per_weight,
)
from ._restricted import Line, Subspace


def _squared_norm(W: np.ndarray, axis=None):
    """``sum(W**2)`` (over ``axis``) in float64: the coefficients of tiny
    float32 features pass 1e19, whose squares overflow float32."""
    return np.square(W, dtype=np.float64).sum(axis=axis)


@dataclass(frozen=True)
class LogisticObjective:
    """Weighted, penalised binary or multinomial logistic loss.

    Parameters
    ----------
    backend : Backend
        X of shape (n_samples, n_features) and the passes over it (see
        ``_backends``: numpy, scipy.sparse, array-API arrays, row chunks).
    y : array of shape (n_samples,), like X
        Integer class codes 0, ..., K-1 (any integer type; int64 on PyTorch).
    weights : array of shape (n_samples,), like X
        Normalised sample weights, summing to one.
    n_outputs : int
        1 (binary, sigmoid) or the number of classes (softmax).
    fit_intercept : bool
    l2, l1 : float
        Penalty strengths, already divided by ``C * S``.
    penalty_factor : ndarray of shape (n_features,), optional
        Each feature's factor of both penalties (non-negative, float64);
        None: all ones.
    bounds : (ndarray, ndarray), optional
        The box of ``W``: lower and upper bounds of shape (n_features,
        n_outputs), float64, with infinities where a side is free; None:
        no box.
    shifted : bool, default=False
        Whether each row's scores have a known offset added (``Z = X W + b
        + offset``): ``y`` is then ``_backends.OffsetLabels`` (row chunks
        hold theirs).
    """

    backend: Backend
    y: Any  # codes, OffsetLabels, or None (row chunks hold their own)
    weights: np.ndarray
    n_outputs: int
    fit_intercept: bool
    l2: float
    l1: float
    penalty_factor: np.ndarray | None = None
    bounds: tuple[np.ndarray, np.ndarray] | None = None
    shifted: bool = False

    @property
    def n_features(self) -> int:
        return self.backend.shape[1]

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
        """``(W, b)`` views of ``coef``; ``b`` is zeros without an intercept
        (see ``_layout.split``)."""
        return _layout.split(coef, self.n_features, self.fit_intercept)

    def values_and_grads(
        self, coefs: Sequence[np.ndarray]
    ) -> list[tuple[float, np.ndarray]]:
        """Objective (without the L1 term) and its gradient at each of ``coefs``.

        All the points share one read of ``X`` (see ``Backend.linear_pass``).
        """
        if self.backend.one_block(len(coefs) * self.n_outputs) is not None:
            return self._stacked_values_and_grads(coefs)
        if self.n_outputs == 1:  # 1-D W and Z: matrix-vector products
            points = [(W[:, 0], b) for W, b in map(self.split, coefs)]
        else:
            points = [self.split(coef) for coef in coefs]
        passed = self.backend.linear_pass(
            self._labels(), self.weights, points, self._pointwise
        )
        results = []
        for (W, _), (loss, grad_W, grad_b) in zip(points, passed, strict=True):
            loss += self._l2_value(W)
            grad_W += self._l2_rows(W.ndim) * W
            grad_W = grad_W.reshape(W.shape[0], -1)
            if self.fit_intercept:
                grad_W = np.concatenate([grad_W, grad_b.reshape(1, -1)])
            results.append((loss, grad_W))
        return results

    def _stacked_values_and_grads(
        self, coefs: Sequence[np.ndarray]
    ) -> list[tuple[float, np.ndarray]]:
        """:meth:`values_and_grads` for an X of one block (a small X in memory): the
        coefficients stacked side by side as they come and the gradients
        returned as columns of one array, without the general pass's
        bookkeeping for each point (a fixed cost per call, large next to a
        small X's arithmetic)."""
        d, k = self.n_features, self.n_outputs
        C = coefs[0] if len(coefs) == 1 else np.concatenate(coefs, axis=1)
        W = C[:d]
        if self.fit_intercept:
            b_all = C[d][:, None]
        else:
            b_all = np.zeros((C.shape[1], 1), dtype=C.dtype)
        spans = [(i * k, (i + 1) * k) for i in range(len(coefs))]
        backend = cast(HostBackend, self.backend)  # one_block: in memory only
        losses, grads_T, grads_b = backend.stacked_sums(
            self._labels(),
            self.weights,
            np.ascontiguousarray(W.T),
            b_all,
            spans,
            k == 1,
            self._pointwise,
        )
        grads = np.empty_like(C)
        grads[:d] = grads_T.T
        grads[:d] += self._l2_rows() * W
        if self.fit_intercept:
            grads[d] = grads_b
        squares = self._column_squares(W)
        return [
            (
                float(loss) + 0.5 * self.l2 * float(squares[start:end].sum()),
                grads[:, start:end],
            )
            for loss, (start, end) in zip(losses, spans, strict=True)
        ]

    def scores(self, coef: np.ndarray) -> np.ndarray:
        """``Z = X W + b`` at ``coef``, one read of X (X in memory): of
        shape (n_samples,) for a binary problem, (n_samples, n_outputs) else.
        No read where W is zero, as where a fit starts."""
        W, b = self.split(coef)
        backend = self.backend
        if not W.any():
            n = backend.shape[0]
            shape = (n,) if self.n_outputs == 1 else (n, W.shape[1])
            dtype = np.result_type(backend.dtype, W.dtype)
            Z = like(np.zeros(shape, dtype=dtype), backend.X)
        elif self.n_outputs == 1:
            Z = backend.product(W[:, 0])
        else:
            Z = backend.product(W)
        Z += like(b, Z)
        return Z

    def residual(self, scores) -> tuple[Any, Any]:
        """The loss sum and the residual ``R`` (see the module's docstring)
        of ``scores`` (not modified): their pointwise step, which reads
        nothing of X."""
        return self._residual_into(copied(scores))

    def _residual_into(self, Z) -> tuple[Any, Any]:
        """:meth:`residual` of the scores ``Z``, the residual written into
        ``Z`` (a new array of the caller's)."""
        return pointwise_in_slices(self._pointwise, Z, self._labels(), self.weights)

    def value_and_grad_at(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        grad: bool = True,
        residual: tuple[Any, Any] | None = None,
        products: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray | None]:
        """Objective (without the L1 term) at ``coef``, whose scores are
        ``scores`` (not modified), and its gradient if ``grad``: the value
        reads nothing of X, the gradient reads it once (``X^T R``).
        ``residual``: the scores' :meth:`residual`, where it is at hand;
        ``products``: its ``X^T R``, where a read made it already (the
        first moments', see ``_metrics.Geometry.for_start``)."""
        W, _ = self.split(coef)
        loss, R = self.residual(scores) if residual is None else residual
        value = float(loss) + self._l2_value(W)
        if not grad:
            return value, None
        gradient = np.empty_like(coef)
        d = self.n_features
        backend = self.backend
        if products is not None:
            gradient[:d] = products.reshape(d, -1)
        elif R.ndim == 1:
            gradient[:d] = backend.transposed_product(R).reshape(d, -1)
        else:
            gradient[:d] = backend.transposed_product(R.T).T
        gradient[:d] += self._l2_rows() * W
        if self.fit_intercept:
            gradient[d] = to_numpy(_column_sums(R))
        return value, gradient

    def line_slope(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        direction: np.ndarray,
        direction_scores: np.ndarray,
        residual: Any = None,
    ) -> Line:
        """The objective (without the L1 term) along the line ``coef - t
        direction``: see :class:`Line`. ``coef``'s scores are ``scores``,
        the direction's (``X dW + db``) ``direction_scores`` (neither
        modified); ``residual``, where given, ``coef``'s residual (see
        :meth:`residual`), for the line's curvature at its start."""
        return Line(self, coef, scores, direction, direction_scores, residual)

    def subspace(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        directions: np.ndarray | Sequence[np.ndarray],
        direction_scores: np.ndarray | Sequence[np.ndarray],
        residual: Any = None,
    ) -> Subspace:
        """The objective (without the L1 term) on the subspace ``coef -
        sum_a alpha_a directions[a]``: see :class:`Subspace`. ``coef``'s
        scores are ``scores``, each direction's ``direction_scores[a]``
        (none modified); ``residual``, where given, ``coef``'s (see
        :meth:`residual`)."""
        return Subspace(self, coef, scores, directions, direction_scores, residual)

    @property
    def _pointwise(self) -> Pointwise:
        """The loss and residual of a block of scores: sigmoid or softmax
        (of the scores shifted by their offsets, if any)."""
        pointwise = binary_pointwise if self.n_outputs == 1 else multinomial_pointwise
        return shifted(pointwise) if self.shifted else pointwise

    def _labels(self):
        """``y`` as the passes take it: for a binary problem with X in
        memory, the signs of the labels (see ``binary_pointwise``)."""
        if self.n_outputs > 1 or not self.backend.host:
            return self.y
        return self._signs

    @cached_property
    def _signs(self):
        """The labels' signs, -1 or +1, in X's dtype (with their offsets,
        if any): made once per fit."""
        codes = self.y.y if isinstance(self.y, OffsetLabels) else self.y
        signs = codes.astype(self.backend.dtype)
        signs *= 2
        signs -= 1
        if isinstance(self.y, OffsetLabels):
            return OffsetLabels(signs, self.y.offset)
        return signs

    @cached_property
    def _weight_inverses(self) -> np.ndarray | None:
        """``1 / s``, 0 where the weight ``s`` is (see :class:`Subspace`):
        made once per fit; None where one overflows (a subnormal weight),
        and the weights are then divided by."""
        with np.errstate(over="ignore", divide="ignore"):
            inverses = per_weight(np.ones_like(self.weights), self.weights)
        return inverses if np.isfinite(inverses).all() else None

    def value_and_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective (without the L1 term) and its gradient, in one pass over X."""
        return self.values_and_grads([coef])[0]

    def curvature_at(self, coef: np.ndarray) -> Reweight:
        """The curvature of the loss at ``coef``, as
        ``Backend.column_moments`` takes it (``reweight``): each sample's
        weight times the second derivative of its loss in ``z`` (see
        ``_loss.curvature_weights``).
        """
        W, b = self.split(coef)
        return partial(curvature_weights, W, b)

    def class_curvatures_at(self, coef: np.ndarray) -> Reweight:
        """Each class's curvature of the multinomial loss at ``coef``, as
        ``Backend.class_column_moments`` takes it: each sample's weight
        times ``p_k (1 - p_k)`` (see ``_loss.class_curvature_weights``)."""
        W, b = self.split(coef)
        return partial(class_curvature_weights, W, b)

    @property
    def proximal(self) -> bool:
        """Whether the objective has a part the solver steps over by its
        proximal operator (an L1 term or a box), which needs a diagonal
        metric."""
        return self.l1 != 0 or self.bounds is not None

    def l2_diagonal(self) -> np.ndarray:
        """The L2 penalty of each feature, ``l2 f_j`` (float64)."""
        if self.penalty_factor is None:
            return np.full(self.n_features, self.l2)
        return self.l2 * self.penalty_factor

    def unpenalised(self) -> np.ndarray:
        """The features with no penalty at all (a boolean mask)."""
        l1 = np.broadcast_to(self.l1_thresholds(), (self.n_features, 1))[:, 0]
        return (self.l2_diagonal() == 0) & (l1 == 0)

    def l1_thresholds(self) -> float | np.ndarray:
        """The L1 penalty of W's rows, ``l1 f_j``: a float, or a column of
        shape (n_features, 1)."""
        if self.penalty_factor is None:
            return self.l1
        return self.l1 * self.penalty_factor[:, None]

    def _l2_rows(self, ndim: int = 2) -> float | np.ndarray:
        """``l2 f_j`` to multiply W by: a float, or an array that broadcasts
        over W's rows (of ``ndim`` dimensions)."""
        if self.penalty_factor is None:
            return self.l2
        return (self.l2 * self.penalty_factor).reshape((-1,) + (1,) * (ndim - 1))

    def _l2_value(self, W: np.ndarray) -> float:
        """``l2 / 2 sum_j f_j ||W_j||^2``, in float64."""
        if self.penalty_factor is None:
            return 0.5 * self.l2 * float(_squared_norm(W))
        return 0.5 * self.l2 * float(self._column_squares(W).sum())

    def _column_squares(self, W: np.ndarray) -> np.ndarray:
        """``sum_j f_j W_jk^2`` for each column k of W, in float64."""
        if self.penalty_factor is None:
            return _squared_norm(W, axis=0)
        return self.penalty_factor @ np.square(W, dtype=np.float64).reshape(
            W.shape[0], -1
        )

    def penalty_l1(self, coef: np.ndarray) -> float:
        if self.l1 == 0:
            return 0.0
        return float((self.l1_thresholds() * np.abs(self.split(coef)[0])).sum())


def _column_sums(A):
    """The sums of ``A``'s columns (a scalar for a vector): in numpy a
    product with ones, far faster than its reduction across rows (a vector
    is reduced, no array of ones made)."""
    xp = namespace(A)
    if xp is np:
        if A.ndim == 1:  # a vector's sum: no array of ones to make
            return np.add.reduce(A)
        return np.ones(A.shape[0], dtype=A.dtype) @ A
    return xp.sum(A, axis=0)
