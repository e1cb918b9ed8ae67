"""The logistic objective: loss, gradient, penalty and the geometry of a step.

Notation (the same as ``../shared/DESIGN.md`` and scikit-learn's
``LinearModelLoss``). Labels are integer codes ``y_i`` in ``{0, ..., K-1}``;
``s_i`` are the sample weights (class weights folded in) divided by their sum
``S``, so that ``sum_i s_i = 1``. The coefficients are one array ``coef`` of
shape ``(n_features + fit_intercept, n_outputs)``: the rows of ``W`` first,
the intercept ``b`` last. ``n_outputs`` is 1 for a binary problem (sigmoid)
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

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ._backends import column_moments, linear_pass

# The curvature of the loss in z is at most 1/4 (sigmoid) or 1/2 (softmax):
# the constant ``c`` of the Lipschitz bound ``c * ||[X, 1]||^2``.
BINARY_CURVATURE = 0.25
MULTINOMIAL_CURVATURE = 0.5


def _soft_threshold(v: np.ndarray, threshold) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0)


@dataclass(frozen=True)
class LogisticObjective:
    """Weighted, penalised binary or multinomial logistic loss.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer class codes (float 0/1 for the binary case).
    weights : ndarray of shape (n_samples,)
        Normalised sample weights, summing to one.
    n_outputs : int
        1 (binary, sigmoid) or the number of classes (softmax).
    fit_intercept : bool
    l2, l1 : float
        Penalty strengths, already divided by ``C * S``.
    """

    X: object
    y: np.ndarray
    weights: np.ndarray
    n_outputs: int
    fit_intercept: bool
    l2: float
    l1: float

    @property
    def n_features(self) -> int:
        return self.X.shape[1]  # type: ignore[attr-defined]

    @property
    def curvature(self) -> float:
        return BINARY_CURVATURE if self.n_outputs == 1 else MULTINOMIAL_CURVATURE

    def split(self, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(W, b)`` views of ``coef``; ``b`` is zeros without an intercept."""
        W = coef[: self.n_features]
        if self.fit_intercept:
            return W, coef[self.n_features]
        return W, np.zeros(self.n_outputs, dtype=coef.dtype)

    def _binary_pointwise(self, Z: np.ndarray, rows: slice):
        z = Z[:, 0]
        y, s = self.y[rows], self.weights[rows]
        # log(1 + e^z) - y z, finite for any finite z.
        loss = s @ (np.logaddexp(0, z) - y * z)
        R = s * (expit(z) - y)
        return float(loss), R[:, None]

    def _multinomial_pointwise(self, Z: np.ndarray, rows: slice):
        y, s = self.y[rows], self.weights[rows]
        rows_idx = np.arange(Z.shape[0])
        # log-sum-exp with the row maximum subtracted: exp never overflows.
        Z_max = Z.max(axis=1, keepdims=True)
        E = np.exp(Z - Z_max)
        sum_E = E.sum(axis=1)
        log_norm = Z_max[:, 0] + np.log(sum_E)
        loss = s @ (log_norm - Z[rows_idx, y])
        E /= sum_E[:, None]  # E is now the softmax P
        E[rows_idx, y] -= 1
        E *= s[:, None]
        return float(loss), E

    def value_and_grad(self, coef: np.ndarray) -> tuple[float, np.ndarray]:
        """Objective (without the L1 term) and its gradient, in one pass over X."""
        W, b = self.split(coef)
        pointwise = (
            self._binary_pointwise
            if self.n_outputs == 1
            else self._multinomial_pointwise
        )
        loss, grad_W, grad_b = linear_pass(self.X, W, b, pointwise)
        loss += 0.5 * self.l2 * float(np.vdot(W, W))
        grad_W += self.l2 * W
        grad = np.concatenate([grad_W, grad_b[None]]) if self.fit_intercept else grad_W
        return loss, grad

    def penalty_l1(self, coef: np.ndarray) -> float:
        if self.l1 == 0:
            return 0.0
        return self.l1 * float(np.abs(self.split(coef)[0]).sum())


@dataclass(frozen=True)
class Geometry:
    """The metric of a step: gradient descent on the centred, standardised problem.

    Gradient descent crawls when columns have very different scales or when
    the intercept is far from zero (raw features around 100). Both are fixed
    by an exact change of variables, written here in the original
    coordinates so that nothing else needs to know about it:

    - centring: with an unpenalised intercept, ``c = b + mean @ W`` and
      ``X - mean`` describe the same model; the intercept then no longer
      fights the slope;
    - scaling: each row ``j`` of ``W`` is measured in units of
      ``sqrt(scale_j)``, with ``scale_j = var_j + l2 / curvature`` (the
      diagonal of the Hessian bound, divided by the curvature constant).

    A step ``coef - t * direction(grad)`` is then plain gradient descent with
    step ``t`` on the standardised problem: on data that is already
    standardised (zero mean, unit variance) and without penalty it is exactly
    the notebook's ``w -= learning_rate * grad``. ``prox`` is the proximal
    operator of the L1 term in the same metric, ``inner`` the inner product
    that the backtracking test uses, and ``optimality`` measures the gradient
    in the same coordinates, so that ``tol`` means the same whatever the
    units of the features. None of this moves the minimum.
    """

    mean: np.ndarray | None  # None: no intercept, no centring
    scale: np.ndarray
    l1: float

    @classmethod
    def for_objective(cls, objective: LogisticObjective, dtype) -> Geometry:
        mean, var = column_moments(objective.X, objective.weights)
        if not objective.fit_intercept:
            # Without an intercept there is nothing to absorb the mean:
            # scale by the second moment and do not centre.
            var = var + mean**2
        else:
            # A constant column (variance at rounding level) carries no
            # information once centred; give it a scale that keeps its
            # rounding noise from moving it.
            constant = var <= (16 * np.finfo(dtype).eps * mean) ** 2
            var = np.where(constant, np.maximum(mean**2, 1.0), var)
        scale = var + objective.l2 / objective.curvature
        tiny, huge = np.finfo(dtype).tiny, np.finfo(dtype).max
        scale = np.clip(np.where(scale > 0, scale, 1.0), tiny, huge)
        return cls(
            mean=mean.astype(dtype) if objective.fit_intercept else None,
            scale=scale.astype(dtype)[:, None],
            l1=objective.l1,
        )

    def _centred_grad_W(self, grad: np.ndarray) -> np.ndarray:
        """The gradient for ``W`` with the intercept held at ``c = b + mean @ W``."""
        d = self.scale.shape[0]
        if self.mean is None:
            return grad[:d]
        return grad[:d] - np.outer(self.mean, grad[d])

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """``P grad``: the gradient of the standardised problem, mapped back."""
        step_W = self._centred_grad_W(grad) / self.scale
        if self.mean is None:
            return step_W
        step_b = grad[-1] - self.mean @ step_W
        return np.concatenate([step_W, step_b[None]])

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """``<u, P^-1 v>``, the inner product of the standardised coordinates."""
        d = self.scale.shape[0]
        value = float(np.vdot(u[:d] * self.scale, v[:d]))
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
        std = np.sqrt(self.scale)
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
