"""The objective restricted to a line or a subspace, from kept scores.

A solver that keeps each point's scores ``X W + b`` (see ``_plan.keeps_scores``)
has the scores of ``coef - t direction``, or of ``coef - sum_a alpha_a
directions[a]``, as the point's less a combination of the directions'
scores: the objective along such a line (:class:`Line`: its slopes, for
the exact line minimum of ``_conjugate``) or on such a subspace
(:class:`Subspace`: its value, gradient and Hessian in ``alpha``, for the
Newton steps on a span) then reads nothing of X. Both are made by
:meth:`_objective.LogisticObjective.line_slope` and ``subspace``, and take
the objective's residual, labels, weights and penalty from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._array_api import namespace, vdot
from ._backends import OffsetLabels
from ._loss import binary_slope, multinomial_slope, per_weight, row_sums

# The slope along a line (LogisticObjective.line_slope) takes the scores
# in slices of this many bytes: each slice's pointwise step holds a few
# temporaries its size, small next to the scores; far larger than the fixed
# cost of a dozen numpy calls a slice.
_LINE_SLICE_BYTES = 2**18


class Line:
    """The objective (without the L1 term) of a :class:`LogisticObjective`
    along the line ``coef - t direction``, from the scores of ``coef`` and
    of the direction (neither modified): nothing of X is read.

    Called with ``t``, its slope there: ``-<R, direction_scores> - l2 sum_j
    f_j <W_j - t dW_j, dW_j>`` for the residual ``R`` of the scores
    ``scores - t direction_scores``: by default from the scores in slices
    of ``_LINE_SLICE_BYTES`` on the host (``_loss.binary_slope``,
    ``multinomial_slope``: no loss; each slice's temporaries small next to
    the two arrays of scores the line holds), at once on a device.

    Given ``coef``'s residual (a multinomial line, where the plan keeps
    residuals: ``_plan.FitPlan.line_residuals``), each slope makes the
    whole residual there and keeps the last (a third array of scores): the
    softmax is most of a slope's cost, and the line's minimum is mostly its
    last slope, whose residual the gradient there then takes
    (:meth:`residual_at`) without another softmax. ``curvature`` is then
    the objective's second derivative along the line at its start (else
    None): ``sum_i s_i (p_i . D_i^2 - (p_i . D_i)^2)`` with ``s p = R + s
    onehot(y)``, plus the penalty's, for ``D`` the direction's scores: a
    few products of the scores' size, no exponential. Its Newton step is
    the line's first step tried.
    """

    def __init__(self, objective, coef, scores, direction, direction_scores, residual):
        self._objective = objective
        self._scores, self._direction_scores = scores, direction_scores
        W, _ = objective.split(coef)
        dW, _ = objective.split(direction)
        scaled = objective._l2_rows() * dW
        self._at_coef = float(np.vdot(scaled, W))
        self._along = float(np.vdot(scaled, dW))
        n = scores.shape[0]
        rows = n
        if objective.backend.host:
            rows = max(1, _LINE_SLICE_BYTES * n // max(1, scores.nbytes))
        # (... : the standard's indexing of rows)
        self._parts = [(slice(start, start + rows), ...) for start in range(0, n, rows)]
        # Given the start's residual (multinomial), the residuals of the
        # slopes are made whole and the last kept: t, loss, R.
        self._keeps = residual is not None and objective.n_outputs > 1
        self._kept: tuple[float, Any, Any] | None = None
        self.curvature = self._curvature(residual[1]) if self._keeps else None
        slope_of = binary_slope if objective.n_outputs == 1 else multinomial_slope
        self._slope_parts = (objective._labels(), objective.weights, slope_of)

    def __call__(self, t: float) -> float:
        D = self._direction_scores
        total = self._along * t - self._at_coef
        if self._keeps:
            self._kept = None  # before the next residual is made
            loss, R = self._residual(t)
            self._kept = (t, loss, R)
            return total - vdot(R, D)
        labels, weights, slope_of = self._slope_parts
        with np.errstate(over="ignore"):  # exp overflows far out: see binary_slope
            for part in self._parts:
                Z = D[part] * -t
                Z += self._scores[part]
                y = labels[part]
                if isinstance(y, OffsetLabels):
                    Z += y.offset
                    y = y.y
                total += slope_of(Z, D[part], y, weights[part])
        return total

    def residual_at(self, t: float) -> tuple[Any, Any] | None:
        """The loss sum and residual of the line's point at ``t`` where the
        last slope was there (a multinomial line's), else None: the
        residual is then made from the point's scores (see
        :meth:`LogisticObjective.residual`), once the line's are gone."""
        kept, self._kept = self._kept, None
        if kept is not None and kept[0] == t:
            return kept[1], kept[2]
        return None

    def _residual(self, t: float) -> tuple[Any, Any]:
        """The loss sum and residual of the scores ``scores - t
        direction_scores``."""
        Z = self._direction_scores * -t
        Z += self._scores
        return self._objective._residual_into(Z)

    def _curvature(self, R) -> float:
        """See the class's docstring; in slices as the slopes."""
        objective, D = self._objective, self._direction_scores
        weights = objective.weights
        labels = objective._labels()
        codes = labels.y if isinstance(labels, OffsetLabels) else labels
        xp = namespace(R)
        total = self._along
        for part in self._parts:
            R_p, D_p, s_p = R[part], D[part], weights[part]
            # With s p = R + s onehot(y), the curvature is each row's
            # variance of d under p, s (p . d^2 - (p . d)^2): that of d less
            # the true class's d, whose onehot part is then zero (and whose
            # rounding is the small residual's, not s d_y^2's):
            # a = R . d', b = R . d'^2, the row's sum b - a^2 / s.
            true = xp.take_along_axis(D_p, codes[part][:, None], axis=1)
            shifted = D_p - true
            RD = R_p * shifted
            a = row_sums(RD)
            RD *= shifted
            total += float(xp.sum(RD)) - vdot(a, per_weight(a, s_p))
        return total


# The Hessian on k directions of a subspace is summed over slices of rows,
# each of the k directions' scores weighted by the curvature: as many rows
# as make this many scores in all, where the rows are few (one slice: a
# few numpy calls, each costing more than such a slice's arithmetic), else
# a k-th of the rows, so that the weighted slices take one array of scores
# (the plan's count, _plan.SUBSPACE_SCORE_ARRAYS).
_SUBSPACE_SLICE = 2**15


class Subspace:
    """The objective (without the L1 term) of a :class:`LogisticObjective`
    on the subspace ``coef - sum_a alpha_a directions[a]``, as a function
    of ``alpha`` (float64, one per direction), from the scores of ``coef``
    and of the directions (none modified): nothing of X is read. The
    directions and their scores come as arrays with one direction a row
    (``(k,) + coef.shape`` and ``(k,) + scores.shape``; a sequence of
    arrays is stacked, a copy), so that each sum over the directions is
    one matrix product.

    Called with ``alpha``, its value, gradient and Hessian there (with
    ``derivatives=False``: its value, and None for both): the loss of the
    scores ``scores + step_scores(alpha)``, its gradient ``-<R,
    direction_scores[a]>``, and its Hessian from the residual ``R``
    (binary: ``s p (1 - p)``; multinomial: ``s (diag(p) - p p^T)``, row by
    row), a product of the k directions' scores weighted by that curvature
    with themselves, in slices of rows (see ``_SUBSPACE_SLICE``), plus the
    penalty's (a Gram matrix of the directions, made once). At ``alpha =
    0`` it takes ``coef``'s residual where one is given (once: it is not
    held after); the residual of the last call is kept for
    :meth:`residual_at` (the step's end is mostly the last point tried),
    dropped as the next call starts.
    """

    def __init__(self, objective, coef, scores, directions, direction_scores, residual):
        self._objective = objective
        self._scores = scores
        D = np.asarray(direction_scores)
        k = D.shape[0]
        self._D = D.reshape(k, -1)  # a direction's scores a row
        self._start = residual
        W, _ = objective.split(coef)
        dW = np.asarray(directions)[:, : objective.n_features].reshape(k, -1)
        scaled = (objective._l2_rows() * dW.reshape((k, *W.shape))).reshape(k, -1)
        # The penalty at coef - sum_a alpha_a d_a is
        # base - alpha . at_coef + alpha^T gram alpha / 2.
        self._base = objective._l2_value(W)
        self._at_coef = scaled.astype(np.float64, copy=False) @ W.ravel()
        gram = scaled.astype(np.float64, copy=False) @ dW.T
        self._gram = (gram + gram.T) / 2  # symmetric to the last bit
        self._kept: tuple[np.ndarray, Any, Any] | None = None  # alpha, loss, R

    def step_scores(self, alpha: np.ndarray) -> np.ndarray:
        """The scores of the step ``-sum_a alpha_a directions[a]`` (a new
        array): the point at ``alpha`` has the scores ``step_scores(alpha)
        + scores``, to the last bit those its value was measured at."""
        D = self._D
        return (-alpha.astype(D.dtype) @ D).reshape(self._scores.shape)

    def residual_at(self, alpha: np.ndarray) -> tuple[Any, Any] | None:
        """The loss sum and residual of the point at ``alpha`` where the
        last call was there, else None."""
        kept, self._kept = self._kept, None
        if kept is not None and np.array_equal(kept[0], alpha):
            return kept[1], kept[2]
        return None

    def __call__(self, alpha: np.ndarray, derivatives: bool = True):
        objective = self._objective
        self._kept = None  # before the next residual is made
        if self._start is not None and not alpha.any():
            loss, R = self._start
            self._start = None  # kept below, if at all
        else:
            Z = self.step_scores(alpha)
            Z += self._scores
            loss, R = objective._residual_into(Z)
        gram, at_coef = self._gram, self._at_coef
        value = float(loss) + self._base - float(alpha @ at_coef)
        value += 0.5 * float(alpha @ gram @ alpha)
        self._kept = (alpha.copy(), loss, R)
        if not derivatives:
            return value, None, None
        grad = gram @ alpha - at_coef
        grad -= self._D @ R.ravel()
        return value, grad, gram + self._loss_hessian(R)

    def _loss_hessian(self, R) -> np.ndarray:
        """The loss's Hessian in alpha at the point whose residual is ``R``."""
        objective = self._objective
        inverses, weights = objective._weight_inverses, objective.weights

        def divided(v, rows: slice):
            """``v / s`` on the weights' ``rows``, 0 where the weight is."""
            if inverses is None:
                return per_weight(v, weights[rows])
            return v * inverses[rows]

        if R.ndim == 1:  # |R| = s (1 - q), q the true class's probability
            curvature = np.abs(R)
            curvature *= 1 - divided(curvature, slice(None))
        else:  # s P = R + s onehot(y), in a copy: R is kept
            labels = objective._labels()
            codes = labels.y if isinstance(labels, OffsetLabels) else labels
            curvature = R.copy()
            curvature[np.arange(R.shape[0]), codes] += weights
        D, outputs = self._D, (1 if R.ndim == 1 else R.shape[1])
        k, n = D.shape[0], R.shape[0]
        curvature = curvature.reshape(-1)
        hessian = np.zeros((k, k))
        rows = max(_SUBSPACE_SLICE // (k * outputs), -(-n // k), 1)
        for start in range(0, n, rows):
            part = slice(start * outputs, (start + rows) * outputs)
            D_part = D[:, part]
            weighted = D_part * curvature[part]
            hessian += weighted @ D_part.T
            if outputs > 1:  # less sum_i s_i (p_i . d_a,i) (p_i . d_b,i)
                means = row_sums(weighted.reshape(-1, outputs)).reshape(k, -1)
                hessian -= divided(means, slice(start, start + rows)) @ means.T
        return (hessian + hessian.T) / 2  # symmetric to the last bit
