"""The metric measured again as a fit converges: what the solver's
``remetric(coef)`` gives it, on the schedule the plan sets
(``_plan.FitPlan``'s ``remeasured``, ``remetric_factor`` and
``finish_within``; ``_solver.Schedule`` asks).

A full metric (dense X) is the Hessian, or the classes' coupled Hessian or
blocks, at the current coefficients; on a sample of a tall X's rows it is
the last once it has settled (:func:`_remeasured_full`). A sparse X's
diagonal or groups metric is taken only where it reshapes the one in use
(:func:`_reshaping`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._class_metrics import ClassBlockMetric, ClassCoupledMetric, ClassCurvatureMetric
from ._metrics import Geometry
from ._objective import LogisticObjective

if TYPE_CHECKING:  # the plan's module imports this one
    from ._plan import FitPlan

# On a sparse X the metric measured again (diagonal, or one-hot groups)
# replaces the one in use where their diagonals differ in shape by this
# factor at least: accelerated steps' count goes as the square root of such
# a mismatch, so the new one halves it at least. Where the mismatch is
# smaller, the curvature has settled as far as such a metric sees it: none
# is measured again (the rest of the fit costs no more passes).
RESHAPED = 4.0


def remeasure(objective: LogisticObjective, dtype, geometry: Geometry, plan: FitPlan):
    """The plan's ``remetric(coef)`` for the solver (see
    ``_solver.gradient_descent``): the metric at the coefficients ``coef``
    and the step that is a Newton step in it, or None (no such metric
    there); None where the plan measures none. ``geometry`` is the first
    metric: its mean is every metric's centre, its scale the class blocks'
    units. A diagonal or groups metric (a sparse X) is taken only where it
    reshapes the one in use (see :func:`_reshaping`), and a full metric of
    a sample of the rows only until it has settled (see
    :func:`_remeasured_full`): else the one in use, with no step (the
    directions go on)."""
    if plan.remeasured == "none":
        return None
    if plan.metric != "full":
        return _reshaping(objective, dtype, geometry, plan)
    return _remeasured_full(objective, dtype, geometry, plan)


def _reshaping(objective: LogisticObjective, dtype, geometry: Geometry, plan: FitPlan):
    """``remetric`` for the diagonal or groups metric of a sparse X: the
    metric at the curvature (multinomial: at each class's, with a step of
    1, its Newton step) where its diagonal differs from the one in use in
    shape, by ``RESHAPED`` at least; else the one in use, with its step,
    and none is measured again."""
    in_use: Geometry | ClassCurvatureMetric = geometry
    settled = False

    def remetric(coef):
        nonlocal in_use, settled
        metric: Geometry | ClassCurvatureMetric | None = None
        if not settled and plan.remeasured == "class_curvature":
            metric = ClassCurvatureMetric.at(
                objective, dtype, coef, metric=plan.metric, groups=plan.groups
            )
        elif not settled:
            metric = Geometry.at_curvature(
                objective, dtype, coef, metric=plan.metric, groups=plan.groups
            )
        if metric is None or _mismatch(metric, in_use) < RESHAPED:
            settled = True
            return in_use, None
        in_use = metric
        return metric, metric.newton_step

    return remetric


def _mismatch(
    metric: Geometry | ClassCurvatureMetric, other: Geometry | ClassCurvatureMetric
) -> float:
    """How far apart in shape two metrics' diagonals (in the Hessian's
    units, ``hessian_diagonal``: one column, or one per class) are: the
    largest ratio of the two over the smallest, 1 where one is a multiple
    of the other."""
    ratio = metric.hessian_diagonal / other.hessian_diagonal
    return float(ratio.max() / ratio.min())


def _remeasured_full(
    objective: LogisticObjective, dtype, geometry: Geometry, plan: FitPlan
):
    """:func:`remeasure` for the full metric (dense X): the Hessian, or the
    class blocks or coupled classes' Hessian, at ``coef``.

    Measured on a sample of the rows (``plan.remeasured_stride`` above 1),
    such a metric is off the Hessian by the sample's own error, about
    ``sqrt(size / rows)`` relative to it for a metric of ``size``
    coefficients from ``rows`` rows (:func:`_sample_error`), and measuring
    it again cannot take it closer. So once a new one's diagonal differs
    from the last one's by no more than that anywhere (the curvature has
    settled, as far as the sample sees it), it is the last: the one in use
    goes on to the end, and no pass is spent on another."""
    if not geometry.rows.full:
        return None
    mean, scale, stride = geometry.mean, geometry.scale, plan.remeasured_stride
    n_rows = objective.backend.shape[0]
    m = objective.n_features + objective.fit_intercept
    # The last metric measured's Hessian diagonal, and the one kept to the
    # end once settled.
    last: np.ndarray | None = None
    settled: Geometry | ClassBlockMetric | ClassCoupledMetric | None = None

    def measured(coef):
        by_class = None
        if plan.remeasured == "class_coupled":
            by_class = ClassCoupledMetric.at(objective, coef, mean, stride=stride)
        elif plan.remeasured == "class_blocks":
            by_class = ClassBlockMetric.at(objective, coef, mean, scale, stride=stride)
        if by_class is not None:
            return by_class, 1.0
        # The curvature metric, or where a by-class one is not positive
        # definite, the one shared by all classes (of the first's rows).
        metric = Geometry.at_curvature(
            objective, dtype, coef, stride=plan.metric_stride
        )
        if metric is None or not metric.rows.full:
            return None
        return metric, metric.newton_step

    def remetric(coef):
        nonlocal last, settled
        if settled is not None:
            return settled, None
        update = measured(coef)
        if update is None:
            return update
        metric = update[0]
        # The rows it was measured on, and its own size: the coupled
        # classes' Hessian is of every coefficient; the blocks, and the
        # curvature metric (shared by the classes), of one class's.
        rows_stride, size = stride, m
        if isinstance(metric, Geometry):
            rows_stride = plan.metric_stride
        elif isinstance(metric, ClassCoupledMetric):
            size = objective.n_coefficients
        diagonal: np.ndarray | None = metric.hessian_diagonal
        if rows_stride == 1:  # every row: measured whenever asked
            diagonal = None
        elif last is not None and last.shape == diagonal.shape:
            change = float(np.max(np.abs(diagonal / last - 1)))
            if change <= _sample_error(n_rows, rows_stride, size):
                settled = metric
        last = diagonal
        return update

    return remetric


def _sample_error(n_rows: int, stride: int, size: int) -> float:
    """The relative error of a metric of ``size`` coefficients measured on
    every ``stride``-th of ``n_rows`` rows: ``sqrt(size / rows)``, the
    order of a sample covariance's (and of the rate at which steps in it
    converge, where it stands in for the Hessian)."""
    return math.sqrt(size / -(-n_rows // stride))
