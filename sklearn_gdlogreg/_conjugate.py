"""Conjugate directions, each step minimised along its line: the loop of a
smooth objective whose scores are kept.

Where the solver keeps each point's scores (``X W + b``, see
``_solver.ScoredProblem``) and the objective has no L1 term or box, a step
along a direction ``d`` costs one product, the direction's scores ``X d``;
every step length along that line then costs no read of X (the scores of
``coef - t d`` are the point's less ``t`` times the direction's), so the
line is minimised exactly, by the root of the objective's slope along it.
The direction is the gradient in the metric plus a multiple of the last
direction, the Polak-Ribiere choice kept non-negative ("PR+"; Gilbert and
Nocedal, 1992): on a quadratic these are conjugate gradients, which take
the fewest steps of any method whose steps combine the gradients seen. Each
iteration reads X twice (the direction's scores, then the gradient at the
new point: ``X^T R``), the same as an accelerated iteration with kept
scores, with no backtracking and no restart needed when it overshoots.

Where the plan keeps a history (``FitPlan.history``: a dense X whose metric
stays a diagonal bound), each step is taken on the span of the gradient
in the metric and the last few steps and gradients in the metric, not on
one line: their scores are kept too, so the objective on that span, with
its gradient and Hessian there, costs no read of X, and the step is a
Newton step there, from the exact objective on the span
(``_step_search._subspace_step``: halved until it lowers the value
enough, repeated only where it had to be). Each step is still a
combination of gradients in the metric and earlier steps, with no
curvature estimated from gradient differences (Narkiss and Zibulevsky's
sequential subspace optimisation, 2005, there minimised exactly on each
span). It follows the curvature's changes along the way, as one
direction and its last cannot.

Like ``_solver.gradient_descent``, the loop knows nothing about logistic
regression: it sees a problem with kept scores, ``line_slope`` and ``subspace`` (see
:class:`SlopedProblem`) and a geometry (``direction``, ``optimality``), and
returns a ``_solver.SolverResult``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ._solver import (
    Callback,
    Remetric,
    Schedule,
    ScoredProblem,
    SolverResult,
    StepGeometry,
    StepMetric,
    value_rounding,
)
from ._step_search import Subspace, _line_minimum, _subspace_step

if TYPE_CHECKING:  # the plan's module imports this one
    from ._plan import FitPlan


class Start:
    """A start's residual (``(loss, R)``) and ``X^T R`` (None: not made),
    made before the loop (``_plan.first_geometry``; its scores read nothing
    of X, and are made again). The loop takes them out (:meth:`take`), so
    that whoever holds this holds no array of the fit's rows once the loop
    moves on (a fit's memory is a share of X's, see
    ``tests/test_memory.py``)."""

    def __init__(self, residual: tuple[Any, Any], products) -> None:
        self._parts: tuple | None = (residual, products)

    def take(self) -> tuple[tuple[Any, Any], Any]:
        """The residual and products, once."""
        parts, self._parts = self._parts, None
        assert parts is not None, "a start is taken once"
        return parts


class Line(Protocol):
    """The objective along a line ``coef - t direction``: its slope at
    ``t``, its curvature at ``t = 0`` (None where unknown), and the
    residual of its point at ``t`` where the last slope made it there
    (:meth:`SlopedProblem.residual`'s; else None)."""

    curvature: float | None

    def __call__(self, t: float) -> float: ...

    def residual_at(self, t: float) -> Any: ...


class SlopedProblem(ScoredProblem, Protocol):
    """A :class:`_solver.ScoredProblem` that gives its objective along a
    line ``coef - t direction`` (:class:`Line`), and its value, gradient
    and Hessian on a subspace ``coef - sum_a alpha_a directions[a]`` as a
    function of ``alpha``, from the scores of ``coef`` and of the
    directions (reading no data; the directions and their scores as arrays
    with one direction a row, or sequences of them). ``residual(scores)``
    is what the value and gradient at a point take from its scores
    (reading no data), and what a line may take for its curvature (and
    then keep its slopes')."""

    def residual(self, scores: np.ndarray) -> Any: ...

    def value_and_grad_at(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        grad: bool = True,
        residual: Any = None,
        products: Any = None,
    ) -> tuple[float, np.ndarray | None]: ...

    def line_slope(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        direction: np.ndarray,
        direction_scores: np.ndarray,
        residual: Any = None,
    ) -> Line: ...

    def subspace(
        self,
        coef: np.ndarray,
        scores: np.ndarray,
        directions: np.ndarray | Sequence[np.ndarray],
        direction_scores: np.ndarray | Sequence[np.ndarray],
        residual: Any = None,
    ) -> Subspace: ...


def _conjugate(
    metric_grad: np.ndarray,
    grad: np.ndarray,
    last: np.ndarray | None,
    last_metric_grad: np.ndarray | None,
    last_gradient_norm: float,
) -> np.ndarray:
    """The next direction: the gradient in the metric ``metric_grad``, plus
    the last direction ``last`` times Polak-Ribiere's ``beta``, kept
    non-negative (PR+; none after a restart: ``last`` None)."""
    if last is None or last_metric_grad is None or not last_gradient_norm > 0:
        return metric_grad
    change = float(np.vdot(grad, metric_grad - last_metric_grad))
    beta = max(change / last_gradient_norm, 0.0)
    return metric_grad + beta * last if beta > 0 else metric_grad


def _ratio(numerator: float, denominator: float, otherwise: float) -> float:
    """``numerator / denominator`` where that is finite and positive, else
    ``otherwise`` (a line of no length, or a step that underflowed)."""
    # Python's floats, not numpy's: a few of these a line, where numpy's
    # scalar calls would cost more than a slope on small data.
    try:
        value = float(numerator) / float(denominator)  # inf where it overflows
    except ZeroDivisionError:
        return otherwise
    return value if value > 0 and math.isfinite(value) else otherwise


# An overflow far along a line counts as uphill (see _line_minimum): numpy
# need not warn about it.
@np.errstate(over="ignore", invalid="ignore")
def conjugate_gradients(
    problem: SlopedProblem,
    geometry: StepGeometry,
    coef0: np.ndarray,
    plan: FitPlan,
    *,
    max_iter: int,
    tol: float,
    callback: Callback | None = None,
    remetric: Remetric | None = None,
    start: Start | None = None,
) -> SolverResult:
    """Minimise a smooth ``problem`` whose scores are kept by conjugate
    directions in ``geometry``'s metric, each step the line's minimum, or
    where ``plan.history`` is positive, each step a Newton step on the
    span of the gradient in the metric, the last ``plan.history`` steps and
    the last ``plan.history`` gradients in the metric (their scores kept).

    The parameters and the result are ``_solver.gradient_descent``'s: the
    run stops where ``geometry.optimality`` is at most ``tol``, after
    ``max_iter`` steps, where ``callback`` asks, or ``"stalled"`` where a
    line (or the gradient alone) no longer lowers the objective (the limit
    of floating-point precision). The first step tried along a line is the
    minimum of the quadratic of the curvature the last line measured, per
    squared length in the metric (along the first line, and after a new
    metric, the step the plan or the metric gives: a Newton step in it);
    where the plan keeps residuals (``plan.line_residuals``), the Newton
    step of the line's own curvature at its start, and the second step
    tried the root of the quadratic slope through that curvature and the
    first step's slope (see :func:`_line_minimum`). A subspace's step is
    made of Newton steps in it (``_subspace_step``), from the point's
    residual (kept from its gradient), and the gradient at its end takes
    the last Newton step's residual.
    ``remetric`` is asked for a new metric on ``plan``'s schedule
    (``remetric_factor``, ``finish_within``, ``measure_at_start``); the
    directions then start again from the gradient in it. ``start``:
    ``coef0``'s residual and ``X^T R``, where they were made already (see
    :class:`Start`). The reported points are the iterates; the reported
    step is the line's, or on a subspace the coefficient of the gradient
    in the metric.
    """
    coef = coef0
    scores = problem.scores(coef)
    if start is None:
        residual, products = problem.residual(scores), None
    else:
        residual, products = start.take()
    # The point's residual, kept for the next subspace (its start), or the
    # next line where the plan says so (plan.line_residuals).
    keep_residual = bool(plan.history) or plan.line_residuals
    value, grad = problem.value_and_grad_at(
        coef, scores, residual=residual, products=products
    )
    del products
    assert grad is not None
    if not keep_residual:
        residual = None
    history = [value]
    optimality = geometry.optimality(coef, grad)
    metric: StepMetric = geometry
    schedule = Schedule(plan, tol, remetric, optimality)
    step, n_iter = plan.first_step, 0
    if remetric is not None and schedule.at_start(optimality):
        residual = None  # as for a new metric below
        update = remetric(coef)
        if update is not None:
            metric, step = update[0], update[1] or step
    # The curvature along the last line over its squared length in the
    # metric (see the docstring).
    curvature = 1 / step
    direction: np.ndarray | None = None  # the last line's, until a restart
    last_gradient_norm = 0.0  # <grad, P grad> at the last line's start
    last_metric_grad: np.ndarray | None = None
    # The subspace's directions, with their scores (plan.history).
    span = _Span(plan.history, coef, scores) if plan.history else None
    stop = callback is not None and callback(0, coef, value, optimality, step)
    status = schedule.status(optimality, stop)
    while status == "max_iter" and n_iter < max_iter:
        metric_grad = metric.direction(grad)
        gradient_norm = float(np.vdot(grad, metric_grad))
        # How far the value may round (the step is downhill by its slopes or
        # its Newton model; its value may still round above the last one
        # near the minimum).
        rounding = value_rounding(value, coef.dtype, geometry.cancelled(coef))
        if plan.history:
            if not gradient_norm > 0:  # no descent left at this precision
                status = "stalled"
                break
            assert span is not None
            gradient_row = span.add_gradient(metric_grad, problem.scores(metric_grad))
            vectors, vector_scores = span.directions()
            subspace = problem.subspace(coef, scores, vectors, vector_scores, residual)
            del residual
            alpha = _subspace_step(subspace, len(vectors), rounding)
            moved = -alpha.astype(vectors.dtype) @ vectors.reshape(len(vectors), -1)
            moved = moved.reshape(coef.shape)
            new_coef = coef + moved
            moved_scores = subspace.step_scores(alpha)
            new_scores = moved_scores + scores  # as the subspace's (see Subspace)
            residual = subspace.residual_at(alpha)
            del subspace, vectors, vector_scores
            step = float(alpha[gradient_row])
            from_gradient_alone = len(alpha) == 1
        else:
            direction = _conjugate(
                metric_grad, grad, direction, last_metric_grad, last_gradient_norm
            )
            start_slope = -float(np.vdot(grad, direction))
            if not start_slope < 0:  # not downhill: start again from the gradient
                direction = metric_grad
                start_slope = -gradient_norm
            if not start_slope < 0:  # no descent left at this precision
                status = "stalled"
                break
            direction_scores = problem.scores(direction)
            line = problem.line_slope(
                coef, scores, direction, direction_scores, residual
            )
            del residual
            length = metric.inner(direction, direction)
            # The Newton step of the line's curvature at its start, else
            # the last line's (see the docstring).
            guess = _ratio(-start_slope, curvature * length, step)
            if line.curvature is not None:
                guess = _ratio(-start_slope, line.curvature, guess)
            step = _line_minimum(line, start_slope, guess, line.curvature)
            curvature = _ratio(-start_slope, step * length, curvature)
            new_coef = coef - step * direction
            new_scores = direction_scores
            new_scores *= -step
            new_scores += scores
            # The last point's scores go before the gradient's residual
            # comes (they are made again in the rare case that the step is
            # not taken).
            del direction_scores, scores
            residual = line.residual_at(step)
            del line
            if keep_residual and residual is None:  # for the next line
                residual = problem.residual(new_scores)
            from_gradient_alone = direction is metric_grad
        new_value, new_grad = problem.value_and_grad_at(
            new_coef, new_scores, residual=residual
        )
        if not keep_residual:
            residual = None
        if (
            new_grad is None
            or not math.isfinite(new_value)
            or new_value > value + rounding
            or (new_coef == coef).all()
        ):
            if from_gradient_alone:  # the gradient's own line: no way down
                status = "stalled"
                break
            # A line search that found no minimum along a conjugate
            # direction (or a subspace step that did not go down): start
            # again from the gradient, at the same point.
            residual = None  # the rejected point's
            if not plan.history:
                scores = problem.scores(coef)
            if keep_residual:
                residual = problem.residual(scores)
            direction = last_metric_grad = None
            if span is not None:
                span.clear()
            continue
        n_iter += 1
        if span is not None:
            span.add_step(moved, moved_scores)
            del moved, moved_scores
        coef, scores, value, grad = new_coef, new_scores, new_value, new_grad
        last_metric_grad, last_gradient_norm = metric_grad, gradient_norm
        history.append(value)
        optimality = geometry.optimality(coef, grad)
        stop = callback is not None and callback(n_iter, coef, value, optimality, step)
        status = schedule.status(optimality, stop)
        # (none after the last iteration: no step would take it)
        if (
            status == "max_iter"
            and n_iter < max_iter
            and remetric is not None
            and schedule.due(optimality)
        ):
            # The old metric goes before the new one comes, as in
            # gradient_descent (None: no such metric here, the first one).
            first_in_use = metric is geometry
            metric = geometry
            # The point's residual goes before the metric's arrays come
            # (the next line tries the step the metric gives first).
            residual = None
            update = remetric(coef)
            if update is not None:
                metric = update[0]
            # A step of None, or None where the first metric is in use: the
            # metric in use goes on (see remetric), and so do the
            # directions; else they start again in the new one.
            if (update is None and not first_in_use) or (
                update is not None and update[1] is not None
            ):
                direction = last_metric_grad = None
                if span is not None:
                    span.clear()
                curvature = 1 / update[1] if update and update[1] else curvature
            del update
    return SolverResult(
        coef=coef,
        n_iter=n_iter,
        status=status,
        optimality=optimality,
        step=step,
        objective_history=np.asarray(history),
    )


class _Span:
    """The directions of the steps on a subspace (``plan.history``): the
    gradient in the metric, the last ``history`` steps and the last
    ``history`` gradients in the metric before it, each with its scores,
    held as rows of two arrays (``directions``) that the subspace takes
    as they are: a new direction takes the row of the oldest of its kind,
    where it has ``history`` others (the gradient: ``history`` earlier
    ones), else the next row free; ``clear`` (a restart) frees them all.
    The rows in use are always the first ones."""

    def __init__(self, history: int, coef: np.ndarray, scores: np.ndarray):
        rows = 2 * history + 1
        self._vectors = np.empty((rows, *coef.shape), dtype=coef.dtype)
        self._scores = np.empty((rows, *scores.shape), dtype=scores.dtype)
        self._history = history
        self._gradients: deque[int] = deque()
        self._steps: deque[int] = deque()
        self._used = 0

    def clear(self) -> None:
        self._gradients.clear()
        self._steps.clear()
        self._used = 0

    def directions(self) -> tuple[np.ndarray, np.ndarray]:
        """The directions in use and their scores, one a row (views)."""
        return self._vectors[: self._used], self._scores[: self._used]

    def add_gradient(self, vector: np.ndarray, scores: np.ndarray) -> int:
        """Take the gradient in the metric ``vector`` (its scores ``scores``):
        its row."""
        return self._add(self._gradients, self._history + 1, vector, scores)

    def add_step(self, vector: np.ndarray, scores: np.ndarray) -> int:
        """Take the step ``vector`` (its scores ``scores``): its row."""
        return self._add(self._steps, self._history, vector, scores)

    def _add(self, kind: deque, most: int, vector, scores) -> int:
        if len(kind) == most:
            row = kind.popleft()
        else:
            row, self._used = self._used, self._used + 1
        kind.append(row)
        self._vectors[row] = vector
        self._scores[row] = scores
        return row
