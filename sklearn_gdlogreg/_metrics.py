"""The step metrics: the geometry the solver steps in, and the curvature
metrics measured as a fit converges.

:class:`Geometry` is gradient descent on the centred, standardised (and
optionally decorrelated) problem, written in the original coordinates; it
also measures the optimality (``tol``'s units). :class:`ClassCoupledMetric`
and :class:`ClassBlockMetric` are the multinomial Hessian at a point, all
classes coupled or class by class. Every metric has ``direction``,
``inner`` and ``prox`` (the solver's ``StepMetric``); all of them centre
the same way, through the helpers at the end of this module, its one
owner of the centring ``c = b + mean @ W``. Which of them a fit uses, on
which rows, is the fit's plan's to say (``_plan``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, ClassVar, Protocol, cast

import numpy as np

from ._backends import Backend
from ._low_rank import LowRankMetric, sketched_spikes
from ._objective import LogisticObjective


def metric_rows(objective: LogisticObjective, stride: int) -> tuple[Backend, Any]:
    """The backend and weights of every ``stride``-th row of the objective's
    X: the rows a full metric is measured on (every row for a stride of 1;
    see ``_plan.metric_stride``). Views of X, no copy. A sum over them,
    times the stride, estimates the sum over all rows."""
    if stride == 1:
        return objective.backend, objective.weights
    return objective.backend.rows(stride), objective.weights[::stride]


# The metrics' linear algebra is numpy's: scipy's LAPACK and BLAS come in a
# second OpenBLAS (scipy's wheels bundle their own), whose threads, left
# spinning after a call, take the cores from numpy's BLAS threads and slow
# the fit's products with X for a long while after (the CHANGELOG has the
# figures).


_JITTERS = (1e-10, 1e-8, 1e-6, 1e-4, 1e-2)


def _cholesky_with_jitter(matrix: np.ndarray):
    """``matrix + jitter * I`` and its lower Cholesky factor, with the smallest
    jitter (from 1e-10, times 100 up to 1e-2) that makes it positive definite.

    ``matrix`` has a unit diagonal, so the jitter bounds its condition
    number; exactly collinear columns make it singular. (None, None) if it
    fails.
    """
    for jitter in _JITTERS:
        jittered = matrix.copy()
        jittered.flat[:: matrix.shape[0] + 1] += jitter
        # numpy's LAPACK, not scipy's (see the note above).
        try:
            factor = np.linalg.cholesky(jittered)
        except np.linalg.LinAlgError:  # not positive definite
            continue
        if np.isfinite(factor).all():
            return jittered, factor
    return None, None


def _scaled_inverse(cholesky: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(diag(std) C diag(std))^-1`` from the lower Cholesky factor of the
    unit-diagonal ``C``: made once per metric, so that each step is one
    product (a solve's call costs more, on small data, than a pass over X)."""
    # numpy's inverse, not scipy's triangular one (see the note above
    # _cholesky_with_jitter): it ignores the triangle, at a cost small next
    # to the covariance's.
    lower_inverse = np.linalg.inv(cholesky)
    inverse = lower_inverse.T @ lower_inverse
    inverse /= std[:, None]
    inverse /= std[None, :]
    return inverse


def _soft_threshold(v: np.ndarray, threshold) -> np.ndarray:
    return np.sign(v) * np.maximum(np.abs(v) - threshold, 0)


class RowMetric(Protocol):
    """A metric of W's rows, the same in every class's column: what a
    ``Geometry`` steps in once its centring is applied around it. Four
    kinds: :class:`DiagonalMetric`, :class:`FullMetric`,
    :class:`ExclusiveGroups` and :class:`LowRankMetric`."""

    # Whether the metric holds the features' whole covariance (the plan
    # measures it again as the fit converges only then).
    full: ClassVar[bool]

    def solve(self, v: np.ndarray) -> np.ndarray:
        """``metric^-1 v`` for the rows of ``W``."""
        ...

    def apply(self, v: np.ndarray) -> np.ndarray:
        """``metric v`` for the rows of ``W``."""
        ...


@dataclass(frozen=True)
class DiagonalMetric:
    """The diagonal of the Hessian bound: each row of W in its own units."""

    full: ClassVar[bool] = False

    scale: np.ndarray  # (n_features, 1), float64

    def solve(self, v: np.ndarray) -> np.ndarray:
        return v / self.scale

    def apply(self, v: np.ndarray) -> np.ndarray:
        return v * self.scale


@dataclass(frozen=True)
class FullMetric:
    """The whole Hessian bound ``std * correlation * std`` (Bohning's
    bound, 1992): a step safe in every direction at once, however
    correlated the features."""

    full: ClassVar[bool] = True

    # The Cholesky factor of the bound in standardised units (a unit
    # diagonal), float64: the bound itself is not kept (see apply).
    cholesky: np.ndarray
    # (n_features, 1): the square root of the metric's own diagonal. Where
    # the covariance was measured on a sample of X's rows (see metric_rows)
    # it differs a little from ``Geometry.scale``, which is exact and
    # measures the optimality. The metric keeps its own: the sample's exact
    # collinearities are X's, and rescaling the sample to X's variances
    # would tilt them.
    std: np.ndarray

    @cached_property
    def _inverse(self) -> np.ndarray:
        """The inverse on the rows of W, made once so that each step is one
        product (a solve's call costs more, on small data, than a pass
        over X).

        The centring is applied around it (``Geometry._centred_grad_W``, and
        the intercept's ``c = b + mean @ W``), never folded into it: folded,
        the intercept's entries hold ``mean^T metric mean``, and a column of
        mean ``m`` and spread 1 loses ``m^2`` times the rounding to
        cancellation there (all of it from ``m = 1e8`` on).
        """
        return _scaled_inverse(self.cholesky, self.std[:, 0])

    def solve(self, v: np.ndarray) -> np.ndarray:
        return self._inverse @ v

    def apply(self, v: np.ndarray) -> np.ndarray:
        # Through the Cholesky factor, the one (n, n) matrix kept besides
        # the inverse (the conjugate loop's line lengths are its only use).
        return self.std * (self.cholesky @ (self.cholesky.T @ (self.std * v)))


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

    full: ClassVar[bool] = False

    starts: np.ndarray  # the first column of each group; the groups cover all
    lengths: np.ndarray
    coupling: np.ndarray  # (n_features, 1): the columns' means
    diagonal: np.ndarray  # (n_features, 1): scale + coupling^2
    denominators: np.ndarray  # (n_groups, 1): 1 - sum(coupling^2 / diagonal)

    @classmethod
    def of(cls, bounds: list[int], mean: np.ndarray, scale: np.ndarray):
        """The groups between ``bounds`` (see
        ``SparseBackend.exclusive_column_groups``)."""
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
            var = np.where(constant, np.maximum(mean**2, 1.0), var)
        scale = var + objective.l2_diagonal() / curvature
        # float64 whatever X's type: the variance of float32 features of
        # 1e20 or more is past float32's range (their steps are not).
        tiny, huge = np.finfo(np.float64).tiny, np.finfo(np.float64).max
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
            worst = float(np.abs(grad_theta).max())
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
        return float((np.abs(self.mean) @ np.abs(coef[:d])).max())

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


def _inverse_or_none(matrix: np.ndarray) -> np.ndarray | None:
    """The inverse of a symmetric positive definite ``matrix`` (with the
    jitter of ``_cholesky_with_jitter``), or None."""
    std = np.sqrt(np.diag(matrix))
    if not ((std > 0).all() and np.isfinite(matrix).all()):
        return None
    _, cholesky = _cholesky_with_jitter(matrix / std[:, None] / std[None, :])
    return None if cholesky is None else _scaled_inverse(cholesky, std)


def _inverses_or_none(matrices: np.ndarray) -> np.ndarray | None:
    """:func:`_inverse_or_none` of each of a stack of matrices (shape ``(K,
    m, m)``), None where one has none: in one call of each of numpy's
    batched factorisations (K calls cost more than the small matrices'
    arithmetic), each matrix alone where one needs more than the first
    jitter."""
    std = np.sqrt(np.diagonal(matrices, axis1=1, axis2=2))
    if not ((std > 0).all() and np.isfinite(matrices).all()):
        return None
    # Each stack freed once used: K blocks can be large next to the steps'
    # arrays (see _plan.MAX_CLASS_BLOCK_ENTRIES).
    jittered = matrices / std[:, :, None]
    jittered /= std[:, None, :]
    m = matrices.shape[1]
    jittered[:, np.arange(m), np.arange(m)] += _JITTERS[0]
    try:
        factors = np.linalg.cholesky(jittered)
    except np.linalg.LinAlgError:  # one is not positive definite
        factors = None
    del jittered
    if factors is None or not np.isfinite(factors).all():
        del factors
        inverses = [_inverse_or_none(matrix) for matrix in matrices]
        if any(inverse is None for inverse in inverses):
            return None
        return np.stack(cast(list, inverses))
    lower_inverses = np.linalg.inv(factors)
    del factors
    inverses = np.matmul(lower_inverses.transpose(0, 2, 1), lower_inverses)
    del lower_inverses
    inverses /= std[:, :, None]
    inverses /= std[:, None, :]
    return inverses
