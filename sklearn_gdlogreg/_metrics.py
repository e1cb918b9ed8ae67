"""The first step metric: the geometry the solver steps in.

:class:`Geometry` is gradient descent on the centred, standardised (and
optionally decorrelated) problem, written in the original coordinates; it
also measures the optimality (``tol``'s units). Its metric of W's rows is
one of ``_row_metrics``' (or ``_low_rank``'s), applied around the
centring; the class metrics of ``_class_metrics`` centre the same way,
through the helpers at the end of this module, its one owner of the
centring ``c = b + mean @ W``. Which metric a fit uses, on which rows, is
the fit's plan's to say (``_plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np

from ._backends import Backend
from ._low_rank import LowRankMetric, sketched_spikes
from ._objective import LogisticObjective
from ._row_metrics import (
    DiagonalMetric,
    ExclusiveGroups,
    FullMetric,
    RowMetric,
    _cholesky_with_jitter,
)


def metric_rows(objective: LogisticObjective, stride: int) -> tuple[Backend, Any]:
    """The backend and weights of every ``stride``-th row of the objective's
    X: the rows a full metric is measured on (every row for a stride of 1;
    see ``_plan.metric_stride``). Views of X, no copy. A sum over them,
    times the stride, estimates the sum over all rows."""
    if stride == 1:
        return objective.backend, objective.weights
    return objective.backend.rows(stride), objective.weights[::stride]


def _soft_threshold(v: np.ndarray, threshold) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0)


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
    - the metric of W's rows (``rows``, a ``RowMetric``): the diagonal of
      the Hessian bound ``cov + l2 / curvature`` (:class:`DiagonalMetric`),
      the whole of it (:class:`FullMetric`, decorrelation), its blocks of
      one-hot encoded columns (:class:`ExclusiveGroups`), or the diagonal
      corrected along the few directions where the bound curves far more
      than in the rest (:class:`LowRankMetric`, wide correlated features).

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
    # The L1 penalty of W's rows: a float, or a column (penalty factors).
    l1: float | np.ndarray
    # The metric of W's rows (see RowMetric), float64.
    rows: RowMetric
    # The box of W (lower, upper), of W's shape; None: no box.
    bounds: tuple[np.ndarray, np.ndarray] | None = None

    @cached_property  # read at every step: computed once
    def proximal(self) -> bool:
        """Whether steps end with a proximal step (an L1 term or a box)."""
        return self.bounds is not None or bool(np.any(self.l1 != 0))

    @classmethod
    def for_objective(
        cls,
        objective: LogisticObjective,
        dtype,
        metric: str = "diagonal",
        stride: int = 1,
        groups: Sequence[int] = (),
        moments: dict | None = None,
    ) -> Geometry:
        """The geometry of ``objective``'s problem, from one read of ``X``
        (and one of every ``stride``-th row for the full metric of a tall X).

        ``metric`` is ``"diagonal"`` (the variances), ``"full"`` (the
        Hessian bound: the curvature bound times the weighted covariance of
        X, plus ``l2``; dense X, no L1 term), ``"groups"`` (the covariance
        within the groups of exclusive columns between ``groups``' bounds,
        see ``ExclusiveGroups``; a sparse X, an intercept, no L1 term) or
        ``"low_rank"`` (the variances, corrected along the directions a
        sketch of a sample of the rows finds: see :meth:`with_spikes`; a
        numpy X, no L1 term): the fit's plan says which
        (``_plan.make_plan``). ``moments``, if given, keeps the columns'
        moments for the next geometry of the same X and weights (their
        penalty aside, the moments are all a geometry reads X for, besides
        the sketch): a path of Cs reads X once.
        """
        return cls.for_start(objective, dtype, None, metric, stride, groups, moments)[0]

    @classmethod
    def for_start(
        cls,
        objective: LogisticObjective,
        dtype,
        residual,
        metric: str = "diagonal",
        stride: int = 1,
        groups: Sequence[int] = (),
        moments: dict | None = None,
    ) -> tuple[Geometry, np.ndarray | None]:
        """:meth:`for_objective`, and ``X^T residual`` from its read of
        every row of X (``Backend.column_moments_and_products``; a kind of
        X with ``moments_products``), where ``residual`` is given (that of a
        start whose scores read nothing of X): the gradient at the start
        then costs no read of its own. None where ``residual`` is, or where
        ``moments`` kept the moments (X is not read)."""
        full = metric == "full"
        sampled = full and stride > 1  # the full metric from a sample of the rows
        cache = {} if moments is None else moments
        products = None

        def summary(rows: int, covariance: bool):
            nonlocal products
            key = (rows, covariance)
            if key not in cache:
                backend, weights = metric_rows(objective, rows)
                if rows == 1 and residual is not None:  # every row: the gradient's
                    (mean, spread, _), products = backend.column_moments_and_products(
                        weights, residual, covariance
                    )
                else:
                    mean, spread, _ = backend.column_moments(weights, covariance)
                cache[key] = mean, spread
            return cache[key]

        # The mean and variances are exact: they are tol's units.
        mean, spread = summary(1, full and not sampled)
        geometry = cls._from_moments(
            objective, dtype, mean, spread, objective.curvature, full and not sampled
        )
        if sampled:
            _, sample = summary(stride, True)
            metric_ = cls._from_moments(
                objective, dtype, mean, sample, objective.curvature, True
            )
            # The sample's full metric (or where it is not positive
            # definite, the diagonal one), and X's exact scale.
            rows = metric_.rows if metric_.rows.full else geometry.rows
            geometry = replace(geometry, rows=rows)
        if metric == "low_rank":
            return geometry.with_spikes(objective), products
        return (geometry.grouped(groups) if metric == "groups" else geometry), products

    @classmethod
    def at_curvature(
        cls,
        objective: LogisticObjective,
        dtype,
        coef: np.ndarray,
        stride: int = 1,
        metric: str = "full",
        groups: Sequence[int] = (),
    ) -> Geometry | None:
        """The metric at the curvature of the loss at ``coef``.

        The moments of X weighted by the curvature there (see
        ``_loss.curvature_weights``), times its total, plus ``l2``: with
        ``metric="full"``, the Hessian at ``coef`` (multinomial: one metric
        for all classes), in one pass over every ``stride``-th row of a
        dense X; ``"diagonal"`` or ``"groups"`` (``groups``' bounds), its
        diagonal or its blocks of one-hot columns (as ``for_objective``'s),
        in one pass over X. No L1 term (the fit's plan says where it
        applies). None where the curvature is zero (every sample predicted
        with certainty).
        """
        full = metric == "full"
        backend, weights = metric_rows(objective, stride)
        mean, moments, curvature = backend.column_moments(
            weights, covariance=full, reweight=objective.curvature_at(coef)
        )
        curvature *= stride
        if not curvature > 0:
            return None
        geometry = cls._from_moments(objective, dtype, mean, moments, curvature, full)
        return geometry.grouped(groups) if metric == "groups" else geometry

    @classmethod
    def at_class_curvatures(
        cls,
        objective: LogisticObjective,
        dtype,
        coef: np.ndarray,
        metric: str = "diagonal",
        groups: Sequence[int] = (),
    ) -> list[Geometry] | None:
        """``at_curvature``'s diagonal or groups metric of each class's
        curvature at ``coef`` (multinomial): the moments of X weighted by
        ``s_i p_ik (1 - p_ik)`` (see ``_loss.class_curvature_weights``),
        each class's centred on its own mean, all from one read of X (see
        ``_class_metrics.ClassCurvatureMetric``). None where a class's
        curvature is zero (that class predicted with certainty)."""
        moments = objective.backend.class_column_moments(
            objective.weights,
            objective.class_curvatures_at(coef),
            objective.n_outputs,
        )
        geometries = []
        for mean, variances, curvature in moments:
            if not curvature > 0:
                return None
            geometry = cls._from_moments(
                objective, dtype, mean, variances, curvature, False
            )
            geometries.append(
                geometry.grouped(groups) if metric == "groups" else geometry
            )
        return geometries

    @property
    def newton_step(self) -> float:
        """The step that is a Newton step in this metric where it is the
        Hessian (see ``curvature``)."""
        return 1 / self.curvature

    @property
    def hessian_diagonal(self) -> np.ndarray:
        """The diagonal the metric gives the Hessian of W's rows, (d, 1):
        its scale in the Hessian's units (times its curvature)."""
        return self.scale * self.curvature

    def with_spikes(self, objective: LogisticObjective) -> Geometry:
        """This (diagonal) geometry corrected along the directions in which
        the Hessian bound curves far more than in the rest, where there are
        any (:class:`LowRankMetric`, :func:`sketched_spikes`)."""
        spikes = sketched_spikes(objective, self.mean, self.scale)
        if spikes is None:
            return self
        return replace(self, rows=LowRankMetric(self.scale, *spikes))

    def grouped(self, groups: Sequence[int]) -> Geometry:
        """This geometry with the covariance kept within the groups of
        one-hot columns between ``groups``' bounds (see
        ``ExclusiveGroups``; itself where there are none)."""
        if not groups or self.mean is None:
            return self
        exclusive = ExclusiveGroups.of(list(groups), self.mean, self.scale)
        return replace(self, rows=exclusive)

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
            if constant.any():
                var = np.where(constant, np.maximum(mean**2, 1.0), var)
        scale = var + objective._l2_rows(ndim=1) / curvature
        # float64 whatever X's type: the variance of float32 features of
        # 1e20 or more is past float32's range (their steps are not).
        tiny, huge = np.finfo(np.float64).tiny, np.finfo(np.float64).max
        if not (scale.min() >= tiny and scale.max() <= huge):  # (NaN: not)
            scale = np.clip(np.where(scale > 0, scale, 1.0), tiny, huge)
        rows: RowMetric = DiagonalMetric(scale[:, None])
        if decorrelate:
            std = np.sqrt(scale)
            correlation = moments / std[:, None] / std[None, :]
            np.fill_diagonal(correlation, 1.0)
            _, cholesky = _cholesky_with_jitter(correlation)
            del correlation
            if cholesky is not None:
                rows = FullMetric(cholesky, std[:, None])
        return cls(
            curvature=curvature,
            mean=mean if objective.fit_intercept else None,
            scale=scale[:, None],
            l1=objective.l1_thresholds(),
            rows=rows,
            bounds=objective.bounds,
        )

    @cached_property
    def _std(self) -> np.ndarray:
        return np.sqrt(self.scale)

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
        in it, unseen by the objective, without bound. Dropping it keeps the
        coefficients' class means at zero, where the minimum has them.
        """
        step = self.rows.solve(self._centred_grad_W(grad))
        if self.mean is not None:  # the intercept keeps c = b + mean @ W
            step = np.concatenate([step, (grad[-1] - self.mean @ step)[None]])
        if step.shape[1] > 1 and not self.proximal:
            _drop_common_part(step, self.mean)
        return step.astype(grad.dtype, copy=False)

    def inner(self, u: np.ndarray, v: np.ndarray) -> float:
        """``<u, P^-1 v>``, the inner product of the transformed coordinates."""
        d = self.scale.shape[0]
        value = float(np.vdot(u[:d], self.rows.apply(v[:d])))
        if self.mean is not None:
            value += float(np.vdot(u[d] + self.mean @ u[:d], v[d] + self.mean @ v[:d]))
        return value

    def optimality(self, coef: np.ndarray, grad: np.ndarray) -> float:
        """Max-norm of the gradient of the standardised problem.

        With the L1 term or a box, of the proximal-gradient mapping with
        unit step, ``theta - prox(theta - grad_theta)``, which is the
        gradient without them and zero exactly at the minimum (where the
        KKT conditions hold). On standardised data
        (zero mean, unit variance, no penalty) this is the max-norm of the
        plain gradient: ``LogisticRegression``'s lbfgs stopping rule.
        """
        d = self.scale.shape[0]
        std = self._std
        grad_theta = self._centred_grad_W(grad) / std
        if not self.proximal:
            worst = float(np.abs(grad_theta, out=grad_theta).max())
        else:
            theta = coef[:d] * std
            moved = _soft_threshold(theta - grad_theta, self.l1 / std)
            if self.bounds is not None:
                lower, upper = self.bounds
                moved = np.clip(moved, lower * std, upper * std)
            worst = float(np.abs(theta - moved).max())
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
        return float((self._abs_mean @ np.abs(coef[:d])).max())

    @cached_property  # read at every step: computed once
    def _abs_mean(self) -> np.ndarray:
        assert self.mean is not None
        return np.abs(self.mean)

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray:
        """Proximal operator of ``step * l1 * ||W||_1`` and the box in this
        (diagonal) metric.

        The intercept is free, so in the centred coordinates it is left where
        it is (``c = b + mean @ W`` unchanged) and each row of ``W`` is
        soft-thresholded by ``step * l1_j / scale_j``, then clipped to the
        box: in one coordinate the proximal operator of ``|w|`` and an
        interval's indicator together is the interval's projection of that
        of ``|w|``.
        """
        if not self.proximal:
            return coef
        d = self.scale.shape[0]
        out = coef.copy()
        out[:d] = _soft_threshold(coef[:d], step * self.l1 / self.scale)
        if self.bounds is not None:
            np.clip(out[:d], *self.bounds, out=out[:d])
        if self.mean is not None:
            out[d] += self.mean @ (coef[:d] - out[:d])
        return out


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
