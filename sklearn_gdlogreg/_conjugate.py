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
(``_subspace_step``: halved until it lowers the value enough, repeated
only where it had to be). Each step is still a combination of gradients in
the metric and earlier steps, with no curvature estimated from gradient
differences (Narkiss and Zibulevsky's sequential subspace optimisation,
2005, there minimised exactly on each span). It follows the curvature's
changes along the way, as one direction and its last cannot.

Like ``_solver.gradient_descent``, the loop knows nothing about logistic
regression: it sees a problem with kept scores, ``line_slope`` and ``subspace`` (see
:class:`SlopedProblem`) and a geometry (``direction``, ``optimality``), and
returns a ``_solver.SolverResult``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
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


class Subspace(Protocol):
    """The objective on a subspace: called with ``alpha``, its value,
    gradient and Hessian there (the gradient and Hessian None where
    ``derivatives`` is False); the scores of the step to its point at
    ``alpha`` (the point's are those plus the start's), and the residual
    there where the last call was at ``alpha``
    (:meth:`SlopedProblem.residual`'s; else None)."""

    def __call__(
        self, alpha: np.ndarray, derivatives: bool = True
    ) -> tuple[float, np.ndarray | None, np.ndarray | None]: ...

    def step_scores(self, alpha: np.ndarray) -> Any: ...

    def residual_at(self, alpha: np.ndarray) -> Any: ...


# The line is minimised until the slope there is this small next to the
# slope at its start: close enough that the directions stay conjugate (a
# tenth of it costs steps), in about three slopes a line (each a pass over
# the scores, not over X).
_SLOPE_FRACTION = 1e-2
# At most this many slopes a line.
_MAX_SLOPES = 60
# While no slope has come out positive, the next step tried is the secant's
# (where the slope would be zero if it were linear), between _GROW and
# _REACH times the furthest step tried: where the loss flattens out the
# secant falls short, and growing geometrically brackets a far minimum in a
# few steps. Once the slope is within _NEAR of the start's, the slope is
# about linear to the minimum and the secant about right: the step tried
# is _PAST of the way to it, so that its slope is within _SLOPE_FRACTION
# (a tenth of a tenth) or it brackets the minimum.
_GROW, _REACH = 1.25, 16.0
_NEAR, _PAST = 0.1, 1.1
# Once bracketed, a secant step that falls outside the bracket or within
# this share of its width from one end is replaced by the bracket's middle:
# the secant of a slope far steeper at one end than at the other (an
# overflow far out) creeps along the other end.
_EDGE = 1e-3


def _line_minimum(
    line_slope: Callable[[float], float],
    start_slope: float,
    guess: float,
    start_curvature: float | None = None,
) -> float:
    """The step ``t > 0`` that minimises a convex objective along a line
    (``line_slope(t)``: its slope at ``t``, non-decreasing), to within
    ``_SLOPE_FRACTION`` of the slope ``start_slope`` (negative) at ``t =
    0``, from the first step tried ``guess``: the secant method through
    the last two steps tried, kept inside the bracket of the furthest step
    known downhill and the nearest known uphill (see ``_REACH``, ``_NEAR`` and
    ``_EDGE``). A slope that is not finite (an overflow, far out) counts as
    uphill. With no step uphill in ``_MAX_SLOPES`` (an objective still
    falling, as with no penalty on separable data), the last step tried;
    else the end of the bracket whose slope is nearer zero.

    With ``start_curvature`` (the slope's derivative at ``t = 0``), the
    second step tried is the root of the quadratic slope through the start's
    slope and curvature and the first step's slope (see
    :func:`_modelled_root`), where it has one on the side of the first step
    that the minimum is: the secant then mostly falls short, as the
    curvature of a logistic loss mostly falls along a line."""
    target = _SLOPE_FRACTION * -start_slope
    low, low_slope = 0.0, start_slope
    high, high_slope = math.inf, math.inf
    last, last_slope = 0.0, start_slope
    t = guess
    for _ in range(_MAX_SLOPES):
        s = line_slope(t)
        if not math.isfinite(s):
            s = math.inf
        elif abs(s) <= target:
            return t
        if s < 0:
            low, low_slope = t, s
        else:
            high, high_slope = t, s
        secant = math.nan
        if math.isfinite(s) and s != last_slope:
            secant = t - s * (t - last) / (s - last_slope)
        root = math.nan
        if last == 0.0 and start_curvature is not None and math.isfinite(s):
            root = _modelled_root(start_slope, start_curvature, t, s)
        last, last_slope = t, s
        if low < root < high:
            t = min(root, _REACH * low) if high == math.inf else root
            continue
        if high == math.inf:  # no step uphill yet: reach further
            if not secant > low:
                t = 2 * low
            elif s > _NEAR * start_slope:  # near: just past the secant's root
                t = min(low + _PAST * (secant - low), _REACH * low)
            else:
                t = min(max(secant, _GROW * low), _REACH * low)
            continue
        edge = _EDGE * (high - low)
        t = secant if low + edge < secant < high - edge else (low + high) / 2
        if not low < t < high:  # rounding: the bracket has closed
            break
    if high == math.inf or abs(low_slope) <= abs(high_slope):
        return low
    return high


def _modelled_root(slope: float, curvature: float, t: float, slope_t: float) -> float:
    """The smallest positive root of the quadratic ``slope + curvature u +
    a u^2`` that is ``slope_t`` at ``u = t`` (``slope`` negative,
    ``curvature`` positive), NaN where it has none."""
    if not (curvature > 0 and math.isfinite(curvature) and t > 0):
        return math.nan
    # Products, not powers: Python's floats overflow to inf there, where a
    # power raises (far out, or a curvature that is noise next to the slope).
    a = ((slope_t - slope) / t - curvature) / t
    discriminant = curvature * curvature - 4 * a * slope
    if not discriminant >= 0:
        return math.nan
    # The root in the form that does not cancel as a goes to 0 (-slope /
    # curvature, Newton's step).
    return -2 * slope / (curvature + math.sqrt(discriminant))


# A step on the subspace (see conjugate_gradients' ``plan.history``) is a
# Newton step there, halved until it lowers the value enough, and more
# Newton steps only while one had to be halved (the quadratic model
# overshot): the step ends at the first taken whole, as a quasi-Newton
# method's ends at its unit step, not at the subspace's minimum. Minimising
# each subspace exactly is greedy: it lowers each step's value most, not
# the fit's. On wide dense data all but separated (a weak penalty) it took
# more iterations to the same gap, elsewhere about as many (a few fewer or
# more), and more evaluations on each subspace (the figures: the user
# guide, *A subspace of earlier steps*).
# Minimised (``to_minimum``), Newton steps go on until the Newton decrement
# (the squared gradient in the inverse Hessian) is this small next to the
# first one: the same hundredth of the gradient, in its own metric, as a
# line's slope (_SLOPE_FRACTION).
_DECREMENT_FRACTION = _SLOPE_FRACTION**2
# At most this many Newton steps a subspace, each halved at most _HALVINGS
# times (Armijo's rule, _ARMIJO of the decrease the step's model predicts).
_MAX_NEWTON, _HALVINGS, _ARMIJO = 20, 30, 1e-4
# Directions whose curvature in the subspace is below this share of the
# largest are left out of a Newton step (they repeat the others).
_DEPENDENT = 1e-12


def _subspace_step(
    at: Subspace, k: int, rounding: float, *, to_minimum: bool = False
) -> np.ndarray:
    """The ``alpha`` of a step on a convex objective's subspace of ``k``
    directions (``at``: see :class:`Subspace`), from ``alpha = 0``: Newton
    steps until one is taken whole (unless ``to_minimum``) or the Newton
    decrement is within ``_DECREMENT_FRACTION`` of the first (the
    subspace's minimum; see the note above). Each Newton step is
    halved until it lowers the value as Armijo's rule asks,
    over the directions of positive curvature (an eigendecomposition of
    the k x k Hessian scaled to a unit diagonal, so that the directions'
    lengths do not matter: dependent directions add none). Where the
    decrease a step's model predicts is within ``rounding`` of the value,
    the values cannot tell: the whole step is taken if its value does not
    rise beyond that. Stops early where no step lowers the value (the
    limit of floating-point precision)."""
    alpha = np.zeros(k)
    value, grad, hessian = at(alpha)
    first = None
    for _ in range(_MAX_NEWTON):
        assert grad is not None and hessian is not None
        step = _newton_step(grad, hessian)
        if step is None:
            break
        decrement = -float(grad @ step)
        if first is None:
            first = decrement
        if not decrement > _DECREMENT_FRACTION * first:
            break
        # The whole step is mostly taken: where the steps go on past it
        # (to_minimum), its derivatives come with its value, for the next
        # step; a halved one's are taken once it passes.
        t, trial = 1.0, at(alpha + step, to_minimum)
        for _ in range(_HALVINGS):
            if trial[0] <= value - _ARMIJO * t * decrement or (
                t == 1.0 and decrement <= rounding and trial[0] <= value + rounding
            ):
                break
            t /= 2
            trial = at(alpha + t * step, False)
        else:
            break
        alpha = alpha + t * step
        if t == 1.0 and not to_minimum:
            break
        value, grad, hessian = trial if t == 1.0 else at(alpha)
    return alpha


def _newton_step(grad: np.ndarray, hessian: np.ndarray) -> np.ndarray | None:
    """``-H^+ g`` over the directions of positive curvature (see
    :func:`_subspace_step`), None where there are none or the Hessian or
    the gradient is not finite (or so large that its sum overflows)."""
    if not math.isfinite(float(hessian.sum()) + float(grad.sum())):
        return None
    diagonal = hessian.diagonal()
    usable = diagonal > 0
    if not usable.all():  # directions of no curvature left out
        if not usable.any():
            return None
        part = _newton_step(grad[usable], hessian[np.ix_(usable, usable)])
        if part is None:
            return None
        step = np.zeros_like(grad)
        step[usable] = part
        return step
    # Few numpy calls: each costs more than the arithmetic on such small
    # arrays, the more so as each read of X leaves the caches cold.
    units = np.sqrt(diagonal)
    try:
        curvatures, vectors = np.linalg.eigh(hessian / np.multiply.outer(units, units))
    except np.linalg.LinAlgError:  # not finite
        return None
    smallest = _DEPENDENT * curvatures[-1]  # eigh's are ascending
    if not curvatures[0] > smallest:
        keep = curvatures > smallest
        if not keep.any():
            return None
        vectors, curvatures = vectors[:, keep], curvatures[keep]
    step = vectors @ ((vectors.T @ (grad / -units)) / curvatures)
    step /= units
    return step if np.isfinite(step).all() else None


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
