"""The gradient-descent loop: the notebook's loop, written once.

Each iteration is the notebook's: forward pass and loss, gradient, update,
report. Generalised in three ways, each optional:

- the step ``t`` is either constant (``w -= t * grad``) or adapted by
  backtracking: it is halved until the sufficient-decrease test of proximal
  gradient descent holds, and allowed to grow again after each accepted step
  (by ``plan.growth`` at most, or, where a step tried costs no read, by
  ``plan.growth_on_line``; not past the curvature just measured);
- the update can be accelerated (Nesterov / FISTA), with the adaptive restart
  of O'Donoghue and Candes (2015) whenever the momentum points uphill. The
  new point and the next momentum point are evaluated together, in one call
  (one read of the data), or, for a problem that keeps its scores (a
  linear model's ``X coef``), the scores of the momentum point and of the
  steps tried along a direction are combined from others', and only the
  gradients the steps need are computed: one product with X and one with
  its transpose an iteration;
- the update is a proximal step, so an L1 penalty gives exact zeros.

The solver knows nothing about logistic regression or scikit-learn. It sees a
``problem`` (``values_and_grads``, ``penalty_l1``; see :class:`ScoredProblem`
for the optional scores) and a ``geometry``
(``direction``, ``inner``, ``prox``, ``optimality``; see
``_metrics.Geometry``), never warns and never prints: it returns a
:class:`SolverResult` and reports each iteration to an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, cast

import numpy as np

if TYPE_CHECKING:  # the plan's module imports this one
    from ._plan import FitPlan


class Problem(Protocol):
    def values_and_grads(
        self, coefs: Sequence[np.ndarray]
    ) -> list[tuple[float, np.ndarray]]: ...

    def penalty_l1(self, coef: np.ndarray) -> float: ...


class ScoredProblem(Problem, Protocol):
    """A problem whose smooth part depends on ``coef`` through its scores,
    an array linear in ``coef`` (a linear model's ``X W + b``, the intercept
    ``b`` one of the coefficients): the scores of ``(1 + beta) u - beta v``
    are those of ``u`` and ``v`` combined the same way, and those of
    ``u - t d`` are ``u``'s less ``t`` times ``d``'s, without reading the
    data (TFOCS keeps ``A x`` the same way; Becker, Candes and Grant,
    2011)."""

    def scores(self, coef: np.ndarray) -> np.ndarray: ...

    def value_and_grad_at(
        self, coef: np.ndarray, scores: np.ndarray, grad: bool = True
    ) -> tuple[float, np.ndarray | None]: ...


class StepMetric(Protocol):
    def direction(self, grad: np.ndarray) -> np.ndarray: ...

    def inner(self, u: np.ndarray, v: np.ndarray) -> float: ...

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray: ...


class StepGeometry(StepMetric, Protocol):
    def optimality(self, coef: np.ndarray, grad: np.ndarray) -> float: ...

    def cancelled(self, coef: np.ndarray) -> float: ...


# callback(iteration, coef, objective, optimality, step) -> True to stop the run
Callback = Callable[[int, np.ndarray, float, float, float], bool | None]

# Backtracking: the shrink factor, and how many halvings make a failure. How
# far a step grows is the plan's (``FitPlan.growth``, ``growth_on_line``).
_SHRINK = 0.5
_MAX_HALVINGS = 60

# remetric(coef) -> (metric, first step or None) or None: see gradient_descent.
Remetric = Callable[[np.ndarray], "tuple[StepMetric, float | None] | None"]


@dataclass(frozen=True)
class SolverResult:
    """What a run of :func:`gradient_descent` returns.

    ``status`` is ``"converged"`` (optimality <= tol), ``"max_iter"``,
    ``"diverged"`` (a constant step made the objective or the coefficients
    non-finite; ``coef`` is the last finite iterate) or ``"stalled"``
    (backtracking could not decrease the objective any more: the limit of
    floating-point precision) or ``"stopped"`` (the callback asked to stop).
    ``objective_history[k]`` is the objective at the point reported after
    ``k`` iterations (index 0 is the starting point; see ``FitPlan.keep_scores``),
    and ``coef`` and ``optimality`` are the last point's.
    """

    coef: np.ndarray
    n_iter: int
    status: str
    optimality: float
    step: float
    objective_history: np.ndarray

    @property
    def converged(self) -> bool:
        return self.status == "converged"


@dataclass
class _Point:
    """An iterate, its smooth objective value and gradient, and the full
    objective; with kept scores, its scores, and ``grad`` None until the
    steps need it."""

    coef: np.ndarray
    value: float
    grad: np.ndarray | None
    total: float
    scores: np.ndarray | None = None

    @property
    def gradient(self) -> np.ndarray:
        """``grad``, where the solver has made sure it was computed."""
        if self.grad is None:
            raise RuntimeError("this point's gradient was not computed")
        return self.grad

    @property
    def kept_scores(self) -> np.ndarray:
        """``scores``, where the solver keeps them."""
        if self.scores is None:
            raise RuntimeError("this point's scores were not kept")
        return self.scores


class _Evaluator:
    """Evaluates the solver's points: all those of an iteration in one call
    (``values_and_grads``), or, with ``keep_scores``, through the scores of
    a :class:`ScoredProblem`: a new point's value from its scores (one
    product, or none along a line: see :class:`_Line`), the momentum
    point's scores combined from the new point's and the previous
    iterate's, and a gradient (one product) only where a step is taken
    from the point or a test needs it."""

    def __init__(self, problem: Problem, keep_scores: bool):
        self.problem = problem
        self.keep_scores = keep_scores

    def _point(self, coef, value, grad, scores=None) -> _Point:
        return _Point(coef, value, grad, value + self.problem.penalty_l1(coef), scores)

    def _at_scores(self, coef, scores, grad: bool) -> _Point:
        problem = cast(ScoredProblem, self.problem)  # with kept scores only
        value, gradient = problem.value_and_grad_at(coef, scores, grad=grad)
        return self._point(coef, value, gradient, scores)

    def start(self, coef: np.ndarray) -> _Point:
        """The first point, with its gradient."""
        return self.trial(coef, None, grad=True)[0]

    def trial(
        self,
        coef: np.ndarray,
        ahead: np.ndarray | None,
        grad: bool,
        scores: np.ndarray | None = None,
    ) -> tuple[_Point, _Point | None]:
        """The point at ``coef`` and, unless scores are kept, the momentum
        point at ``ahead`` (None: none), in one call. With kept scores, the
        point's value alone (its gradient too if ``grad``), from ``scores``
        where they are known (see :class:`_Line`), and no momentum point:
        :meth:`momentum` makes it once the step is accepted."""
        if self.keep_scores:
            if scores is None:
                scores = cast(ScoredProblem, self.problem).scores(coef)
            return self._at_scores(coef, scores, grad), None
        coefs = (coef,) if ahead is None else (coef, ahead)
        values_and_grads = self.problem.values_and_grads(coefs)
        points = [
            self._point(c, value, g)
            for c, (value, g) in zip(coefs, values_and_grads, strict=True)
        ]
        return points[0], (points[1] if ahead is not None else None)

    def momentum(
        self, new: _Point, x: _Point, beta: float, ahead: np.ndarray
    ) -> _Point:
        """With kept scores: the momentum point ``ahead = new + beta (new - x)``,
        its scores combined from theirs, with its gradient."""
        scores = new.kept_scores - x.kept_scores
        scores *= beta
        scores += new.kept_scores
        return self._at_scores(ahead, scores, grad=True)

    def line(self, at: _Point, direction: np.ndarray) -> _Line | None:
        """With kept scores, the line of the steps from ``at`` along
        ``-direction``; else None."""
        if not self.keep_scores:
            return None
        return _Line(cast(ScoredProblem, self.problem), at, direction)

    def with_grad(self, point: _Point) -> _Point:
        """``point`` with its gradient (from its scores, if it has none)."""
        if point.grad is not None:
            return point
        return self._at_scores(point.coef, point.kept_scores, grad=True)


class _Line:
    """The points ``at - t * direction`` of a problem whose scores are kept.

    Scores are linear in the coefficients, so those points' are ``at``'s
    less ``t`` times the direction's: one product (made at the first step
    tried) serves every step that backtracking tries along the line.
    """

    def __init__(self, problem: ScoredProblem, at: _Point, direction: np.ndarray):
        self._problem, self._at, self._direction = problem, at, direction
        self._direction_scores: np.ndarray | None = None

    def scores(self, step: float) -> np.ndarray:
        if self._direction_scores is None:
            self._direction_scores = self._problem.scores(self._direction)
        scores = self._direction_scores * -step
        scores += self._at.kept_scores
        return scores


def _is_finite(point: _Point) -> bool:
    return bool(np.isfinite(point.value) and np.isfinite(point.coef).all())


def _proximal_step(
    evaluator: _Evaluator,
    geometry: StepMetric,
    at: _Point,
    step: float,
    plan: FitPlan,
    x: _Point,
    beta: float,
    cancelled: float = 0.0,
) -> tuple[_Point | None, _Point | None, float]:
    """One (proximal) gradient step from ``at``; backtrack if ``plan.adaptive``.

    With ``beta`` nonzero (an accelerated iteration; ``x`` the last iterate)
    the momentum point ``new + beta (new - x)`` comes back with the
    new point (see ``_Evaluator``), unless the step moves back (then there
    is none) or, with kept scores, the objective went up (a restart needs
    none). Returns the new point (``None`` if no step passed the test), the
    momentum point (``None`` if there is none) and the step to try next:
    the accepted step, grown by ``plan.growth`` at most
    (``plan.growth_on_line`` on a line) and not past ``1 / curvature``
    (see :func:`_curvature` for the test), or the constant step.
    ``cancelled`` is the size of the terms that cancel in the objective's
    value (see :func:`_values_decide`).
    """
    adaptive = plan.adaptive
    direction = geometry.direction(at.gradient)
    line = evaluator.line(at, direction)
    for _ in range(_MAX_HALVINGS):
        moved = at.coef - step * direction
        new_coef = geometry.prox(moved, step)
        ahead_coef = None
        if beta != 0 and not _moving_back(geometry, x, at, new_coef):
            ahead_coef = new_coef + beta * (new_coef - x.coef)
        delta = new_coef - at.coef
        length = geometry.inner(delta, delta) if adaptive else 0.0
        by_values = adaptive and _values_decide(length, at, step, cancelled)
        # With kept scores, the new point's gradient only where the test
        # compares gradients (evaluated together, every point has its own).
        grad = adaptive and evaluator.keep_scores and not by_values
        # On the line unless the proximal step moved it (an L1 term).
        scores = None
        if line is not None and new_coef is moved:
            scores = line.scores(step)
        new, ahead = evaluator.trial(new_coef, ahead_coef, grad, scores)
        if adaptive:
            curvature = _curvature(at, new, delta, length, by_values)
            if curvature * step > 1:
                step *= _SHRINK
                continue
            # Grow the step, but not past what the curvature seen allows
            # (up to it on a line, where a step tried costs no read).
            growth = plan.growth if scores is None else plan.growth_on_line
            step = min(step * growth, 1 / max(curvature, 1e-300))
        if ahead is None and ahead_coef is not None:  # kept scores
            if _is_finite(new) and new.total <= x.total:
                ahead = evaluator.momentum(new, x, beta, ahead_coef)
        return new, ahead, step
    return None, None, step


def _moving_back(geometry: StepMetric, x: _Point, y: _Point, new: np.ndarray) -> bool:
    """Whether the step taken from ``y`` undoes the progress since ``x``.

    The gradient restart test of O'Donoghue and Candes (2015).
    """
    return geometry.inner(y.coef - new, new - x.coef) > 0


def _values_decide(
    length: float, at: _Point, step: float, cancelled: float = 0.0
) -> bool:
    """Whether the backtracking test of a step of squared length ``length``
    (in the step's metric) from ``at`` compares objective values (else
    gradients): see :func:`_curvature`.

    The value's rounding is :func:`value_rounding`'s.
    """
    return length / (2 * step) > value_rounding(at.value, at.coef.dtype, cancelled)


def value_rounding(value: float, dtype, cancelled: float = 0.0) -> float:
    """How far an objective value of coefficients of ``dtype`` may be off by
    rounding: relative to the largest terms summed to make it, the value
    itself, or ``cancelled`` (``StepGeometry.cancelled``), the size of the
    terms of the scores that cancel one another (a column's large constant
    part times its coefficient, against the intercept)."""
    return 1e3 * np.finfo(dtype).eps * max(abs(value), 1.0, cancelled)


def _curvature(
    at: _Point, new: _Point, delta: np.ndarray, length: float, by_values: bool
) -> float:
    """The curvature of the smooth objective between ``at`` and ``new``
    (``delta = new - at``, of squared length ``length`` in the step's metric;
    ``by_values`` from :func:`_values_decide`).

    A step ``t`` passes the backtracking test of proximal gradient descent
    when this is at most ``1 / t``. It is measured by the descent lemma:
    ``f(new) <= f(at) + <grad, d> + |d|^2 / (2 t)`` with ``d = new - at`` in
    the metric of ``geometry`` holds when ``2 (f(new) - f(at) - <grad, d>) /
    |d|^2 <= 1 / t``. Near the minimum the terms of that difference are far
    smaller than the rounding error of ``f`` (``|d|^2`` is quadratic in the
    distance to the minimum), so there it compares gradients instead:
    ``<grad(new) - grad(at), d> / |d|^2`` (the same number for a quadratic).
    This is the rule of TFOCS (Becker, Candes and Grant, 2011).
    """
    if not np.isfinite(new.value):
        return np.inf
    if length == 0:
        return 0.0
    if by_values:
        excess = new.value - at.value - float(np.vdot(at.grad, delta))
        return 2 * excess / length
    return float(np.vdot(new.gradient - at.gradient, delta)) / length


class Schedule:
    """When a run stops, and when it asks for a new metric: each time the
    optimality has shrunk by ``plan.remetric_factor`` since the metric in
    use was made, unless it is within ``plan.finish_within`` times ``tol``,
    and at the start where ``plan.measure_at_start`` (see
    :func:`gradient_descent`'s ``remetric``)."""

    def __init__(
        self, plan: FitPlan, tol: float, remetric: Remetric | None, optimality: float
    ):
        self.plan, self.tol, self.remetric = plan, tol, remetric
        self._next = optimality * plan.remetric_factor

    def status(self, optimality: float, stop: bool | None) -> str:
        """After a point: "converged", "stopped" (the callback asked) or
        "max_iter" (go on)."""
        if optimality <= self.tol:
            return "converged"
        return "stopped" if stop else "max_iter"

    def at_start(self, optimality: float) -> bool:
        return (
            self.plan.measure_at_start
            and self.remetric is not None
            and optimality > self.tol
        )

    def due(self, optimality: float) -> bool:
        """Whether a new metric is asked for now (the next one then once
        the optimality has shrunk again)."""
        if (
            self.remetric is None
            or optimality > self._next
            or optimality <= self.plan.finish_within * self.tol
        ):
            return False
        self._next = optimality * self.plan.remetric_factor
        return True


# A constant step that is too large overflows on its way to "diverged": that
# is detected and reported, so numpy need not warn about it.
@np.errstate(over="ignore", invalid="ignore")
def gradient_descent(
    problem: Problem,
    geometry: StepGeometry,
    coef0: np.ndarray,
    plan: FitPlan,
    *,
    max_iter: int,
    tol: float,
    callback: Callback | None = None,
    remetric: Remetric | None = None,
) -> SolverResult:
    """Minimise ``problem`` by (proximal, optionally accelerated) gradient descent.

    Parameters
    ----------
    problem : Problem
        Gives the smooth objective and its gradient, and the L1 term (for the
        reported objective).
    geometry : StepGeometry
        The metric of a step (preconditioner), the proximal operator, and the
        optimality measure compared with ``tol``.
    coef0 : ndarray
        Starting point; not modified.
    plan : FitPlan
        How the run goes (``_plan.FitPlan``): ``first_step``, the step ``t``
        (constant) or the first one tried (``adaptive``: halve ``t`` until
        the step decreases the objective enough, and let it grow again
        after each accepted step, by ``growth`` or ``growth_on_line``);
        ``accelerated``, Nesterov momentum with adaptive restart (FISTA when
        L1 is on); ``remetric_factor`` and ``finish_within`` (see
        ``remetric``); ``keep_scores``: ``problem`` is a
        :class:`ScoredProblem`, whose points' scores are kept, the momentum
        point's made from the last two iterates' and those of the steps
        tried along a direction from the direction's (no read of the data);
        a gradient is computed only where a step is taken from the point or
        the backtracking test compares gradients. An accelerated iteration
        then reads the data twice (a product with X, the direction's scores,
        and one with its transpose), halvings included. The iterate's
        gradient is then mostly not computed: the optimality is measured,
        and the result and the history and callback's points taken, at the
        momentum point instead (where the next step starts from).
    max_iter : int
        Maximum number of iterations (accepted steps).
    tol : float
        Stop when ``geometry.optimality`` is at most ``tol``.
    callback : callable, optional
        ``callback(iteration, coef, objective, optimality, step)`` at the
        start (iteration 0) and after each iteration; ``coef`` must not be
        modified. If it returns True, the run stops there.
    remetric : callable, optional
        ``remetric(coef) -> (metric, step)`` or None: a new metric for the
        steps, measured at ``coef``, and the step to try first in it (None:
        the step in use; None for both: the first metric). Asked
        for each time the optimality has shrunk by ``plan.remetric_factor``
        since the metric in use was made (a lazily updated preconditioner;
        see ``_remetric.remeasure``), unless the optimality is already within
        ``plan.finish_within`` times ``tol``, and at ``coef0`` itself where
        ``plan.measure_at_start``. The run goes on from the iterate, with
        no momentum (a Newton step in a Hessian needs none), or, where
        ``plan.keep_momentum``, from the momentum point with the momentum
        kept. The steps stay gradient steps
        in one fixed metric between updates; ``geometry`` still measures the
        optimality, so ``tol`` keeps its meaning.

    Returns
    -------
    SolverResult
    """
    # x is the iterate; y is where the gradient is taken (x itself without
    # momentum). The point reported (history, callback, optimality, result)
    # is x, or y where x's gradient was not computed (kept scores).
    evaluator = _Evaluator(problem, plan.keep_scores)
    x = y = reported = evaluator.start(coef0)
    theta = 1.0
    step = plan.first_step
    history = [x.total]
    optimality = geometry.optimality(x.coef, x.gradient)
    metric: StepMetric = geometry  # the steps' metric
    schedule = Schedule(plan, tol, remetric, optimality)
    if remetric is not None and schedule.at_start(optimality):
        update = remetric(x.coef)
        if update is not None:
            metric, new_step = update
            step = step if new_step is None else new_step
    n_iter = 0
    stop = callback is not None and callback(0, x.coef, x.total, optimality, step)
    status = schedule.status(optimality, stop)
    while status == "max_iter" and n_iter < max_iter:
        theta_next = (1 + (1 + 4 * theta**2) ** 0.5) / 2
        beta = (theta - 1) / theta_next if plan.accelerated else 0.0
        new, ahead, step = _proximal_step(
            evaluator, metric, y, step, plan, x, beta, geometry.cancelled(y.coef)
        )
        if new is None:
            status = "stalled"
            break
        if not _is_finite(new):
            status = "diverged"
            break
        n_iter += 1
        restart = plan.accelerated and (
            new.total > x.total  # the objective went up
            # the step moved back (with beta = 0, y is x: it cannot)
            or (beta != 0 and ahead is None)
            or (ahead is not None and not _is_finite(ahead))
        )
        theta = 1.0 if restart else theta_next
        if ahead is None or restart:  # the next step is taken from new
            x = y = evaluator.with_grad(new)
        else:
            x, y = new, ahead
        reported = x if x.grad is not None else y
        history.append(reported.total)
        optimality = geometry.optimality(reported.coef, reported.gradient)
        stop = callback is not None and callback(
            n_iter, reported.coef, reported.total, optimality, step
        )
        status = schedule.status(optimality, stop)
        # (none after the last iteration: no step would take it)
        if (
            status == "max_iter"
            and n_iter < max_iter
            and remetric is not None
            and schedule.due(optimality)
        ):
            metric = geometry  # the old metric goes before the new one comes
            update = remetric(x.coef)
            if update is not None:
                metric, new_step = update
                step = step if new_step is None else new_step
                if not plan.keep_momentum:  # restart from x, in the new metric
                    theta = 1.0
                    x = y = evaluator.with_grad(x)
            del update  # `metric` alone holds it now: the next update frees it
    return SolverResult(
        coef=reported.coef,
        n_iter=n_iter,
        status=status,
        optimality=optimality,
        step=step,
        objective_history=np.asarray(history),
    )
