"""The multinomial Hessian at a point as a step metric: all classes coupled
(:class:`ClassCoupledMetric`) or class by class (:class:`ClassBlockMetric`),
centred as every metric is (``_metrics``' helpers); on a sparse X, each
class's block modelled by the diagonal or one-hot groups metric
(:class:`ClassCurvatureMetric`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import cast

import numpy as np

from ._backends import DenseBackend
from ._loss import _probabilities
from ._metrics import (
    Geometry,
    _centred_coef,
    _centred_grad,
    _uncentred_step,
    metric_rows,
)
from ._objective import LogisticObjective
from ._row_metrics import _inverse_or_none, _inverses_or_none


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
    (``_plan.MAX_COUPLED_COEFFICIENTS``; it costs ``K^2`` covariances, and
    on a numpy X only where that is about a pass: see
    ``_plan._costs_about_a_pass``), dense X, no L1 term.
    """

    mean: np.ndarray | None  # None: no intercept, no centring
    # float64, (K m, K m), on the centred coefficients (``_centred_coef``)
    # raveled: feature by feature, the classes within. The centring is
    # applied around them, not folded in (see ``FullMetric._inverse``).
    hessian: np.ndarray
    inverse: np.ndarray  # its inverse (with the jitter of _inverse_or_none)

    @classmethod
    def at(
        cls,
        objective: LogisticObjective,
        coef: np.ndarray,
        mean: np.ndarray | None,
        stride: int = 1,
    ) -> ClassCoupledMetric | None:
        """The metric at ``coef``, centred on ``mean`` (with an intercept);
        None if it is not finite and positive definite (even with jitter)."""
        W, b = objective.split(coef)
        center = mean if objective.fit_intercept else None
        n_classes = objective.n_outputs
        backend, weights = metric_rows(objective, stride)
        hessian, _ = backend.information_matrix(
            weights,
            partial(_probabilities, W, b),
            n_classes,
            fit_intercept=objective.fit_intercept,
            center=center,
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

    @property
    def hessian_diagonal(self) -> np.ndarray:
        """The Hessian's diagonal, feature by feature, the classes within (a
        copy: it does not hold the Hessian)."""
        return np.diagonal(self.hessian).copy()

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

    @classmethod
    def at(
        cls,
        objective: LogisticObjective,
        coef: np.ndarray,
        mean: np.ndarray | None,
        scale: np.ndarray | None = None,
        stride: int = 1,
    ) -> ClassBlockMetric | None:
        """The metric at ``coef``, centred on ``mean`` (with an intercept);
        None if a block is not finite and positive definite (even with jitter).
        With ``scale`` (the features' variances, as ``Geometry.scale``), its
        products run in float32 in those units (see
        ``DenseBackend.class_block_moments``)."""
        W, b = objective.split(coef)
        center = mean if objective.fit_intercept else None
        m = objective.n_features + objective.fit_intercept
        backend, weights = metric_rows(objective, stride)
        units = None
        if scale is not None:
            units = np.sqrt(scale.ravel())
            if objective.fit_intercept:  # u's last entry, 1
                units = np.append(units, 1.0)
        blocks = cast(DenseBackend, backend).class_block_moments(
            weights,
            partial(_probabilities, W, b),
            center,
            objective.n_outputs,
            units,
        )
        blocks *= stride
        blocks[:, np.arange(m), np.arange(m)] += _penalty(objective)
        inverses = _inverses_or_none(blocks)
        total_inverse = None if inverses is None else _inverse_or_none(blocks.sum(0))
        if inverses is None or total_inverse is None:
            return None
        return cls(center, blocks, inverses, total_inverse)

    @property
    def hessian_diagonal(self) -> np.ndarray:
        """The blocks' diagonals, one row per class (a copy: it does not hold
        the blocks)."""
        return np.diagonal(self.blocks, axis1=1, axis2=2).copy()

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


@dataclass(frozen=True)
class ClassCurvatureMetric:
    """The multinomial Hessian's diagonal blocks at a point, one per class,
    each modelled as the metric of a sparse X models the Hessian: its
    diagonal, or its blocks of one-hot columns (``Geometry``'s
    ``"diagonal"`` and ``"groups"`` metrics).

    The metric shared by all classes (``Geometry.at_curvature``) weights
    every class's columns by one mean curvature per sample. Where the
    classes' priors differ, or some are predicted with confidence, a class's
    coefficients curve many times less than that mean says, and the shared
    metric's steps are as many times too short for them. Class k's metric is
    ``Geometry``'s of X's moments weighted by ``s_i p_ik (1 - p_ik)``, the
    curvature of class k's scores alone, centred on its own mean: the
    diagonal (or one-hot blocks) of the Hessian's block k, ``X^T diag(s p_k
    (1 - p_k)) X + l2``. As :class:`ClassBlockMetric`'s, the steps leave
    out the same change to every class, which the loss does not see. All
    classes' moments come from one read of X
    (``Backend.class_column_moments``); no L1 term. A step of 1 is a Newton
    step in each class's metric.
    """

    classes: tuple[Geometry, ...]

    @classmethod
    def at(
        cls,
        objective: LogisticObjective,
        dtype,
        coef: np.ndarray,
        metric: str = "diagonal",
        groups=(),
    ) -> ClassCurvatureMetric | None:
        """The metric at ``coef`` (``metric``, ``groups``: the first
        metric's kind, see ``Geometry.at_class_curvatures``); None where a
        class's curvature is zero."""
        classes = Geometry.at_class_curvatures(objective, dtype, coef, metric, groups)
        return None if classes is None else cls(tuple(classes))

    # Each class's Newton step is folded into ``direction``.
    newton_step = 1.0

    @property
    def hessian_diagonal(self) -> np.ndarray:
        """Each class's ``Geometry.hessian_diagonal``, one column each."""
        return np.hstack([geometry.hessian_diagonal for geometry in self.classes])

    def direction(self, grad: np.ndarray) -> np.ndarray:
        """Each class's Newton step in its metric, less the same change to
        every class's coefficients and intercept: the change of every
        class's scores alike, which the loss does not see. (Each class's
        intercept is not held at its own centre ``b_k + mean_k @ W_k`` as
        ``Geometry.direction`` holds the one shared centre: with centres
        that differ between classes, that would change the classes' scores
        unalike.) For a gradient whose rows sum to zero over the classes
        (the loss's always, the penalty's from the zero start), ``<grad,
        direction(grad)>`` is then that of the Newton steps."""
        step = np.hstack(
            [
                geometry.direction(grad[:, k : k + 1].astype(np.float64))
                / geometry.curvature
                for k, geometry in enumerate(self.classes)
            ]
        )
        step -= step.mean(axis=1, keepdims=True)
        return step.astype(grad.dtype, copy=False)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """The sum of each class's inner product in its metric. Unlike
        ``ClassBlockMetric.inner`` (the Schur complement against the same
        change to every class), it counts the part of a step that is the
        same in every class: the length of a step that ``direction`` left
        that part out of is then longer than the Newton steps' model of
        it, and the step tests measure the curvature along it as that much
        smaller. The solvers' own tests keep the steps safe (backtracking
        on the objective's values, the exact minimum along a line)."""
        return sum(
            geometry.curvature * geometry.inner(u[:, k : k + 1], v[:, k : k + 1])
            for k, geometry in enumerate(self.classes)
        )

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray:
        return coef  # no L1 term


def _penalty(objective: LogisticObjective) -> np.ndarray:
    """The L2 penalty's curvature on one class's coefficients: ``l2`` on the
    rows of W, none on the intercept."""
    m = objective.n_features + objective.fit_intercept
    return np.append(objective.l2_diagonal(), np.zeros(m - objective.n_features))


def _by_feature(matrix: np.ndarray, n_classes: int) -> np.ndarray:
    """A (K m, K m) ``matrix`` ordered class by class (``k * m + j``),
    reordered as ``coef.ravel()`` is: feature by feature, the classes within."""
    K = n_classes
    m = matrix.shape[0] // K
    return matrix.reshape(K, m, K, m).transpose(1, 0, 3, 2).reshape(K * m, K * m)
