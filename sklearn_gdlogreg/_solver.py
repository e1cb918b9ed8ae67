"""The gradient-descent loop: the notebook's loop, written once.

Each iteration is the notebook's: forward pass and loss, gradient, update,
report. Generalised in three ways, each optional:

- the step ``t`` is either constant (``w -= t * grad``) or adapted by
  backtracking: it is halved until the sufficient-decrease test of proximal
  gradient descent holds, and allowed to grow again after each accepted step
  (by ``_GROW`` at most, and not past the curvature just measured);
- the update can be accelerated (Nesterov / FISTA), with the adaptive restart
  of O'Donoghue and Candes (2015) whenever the momentum points uphill. The
  new point and the next momentum point are evaluated together, in one call
  (one read of the data);
- the update is a proximal step, so an L1 penalty gives exact zeros.

The solver knows nothing about logistic regression or scikit-learn. It sees a
``problem`` (``values_and_grads``, ``penalty_l1``) and a ``geometry``
(``direction``, ``inner``, ``prox``, ``optimality``; see
``_objective.Geometry``), never warns and never prints: it returns a
:class:`SolverResult` and reports each iteration to an optional callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Problem(Protocol):
    def values_and_grads(
        self, coefs: Sequence[np.ndarray]
    ) -> list[tuple[float, np.ndarray]]: ...

    def penalty_l1(self, coef: np.ndarray) -> float: ...


class StepMetric(Protocol):
    def direction(self, grad: np.ndarray) -> np.ndarray: ...

    def inner(self, u: np.ndarray, v: np.ndarray) -> float: ...

    def prox(self, coef: np.ndarray, step: float) -> np.ndarray: ...


class StepGeometry(StepMetric, Protocol):
    def optimality(self, coef: np.ndarray, grad: np.ndarray) -> float: ...


# callback(iteration, coef, objective, optimality, step) -> True to stop the run
Callback = Callable[[int, np.ndarray, float, float, float], bool | None]

# Backtracking: shrink and growth factors, and how many halvings make a failure.
_SHRINK = 0.5
_GROW = 1.25
_MAX_HALVINGS = 60

# remetric(coef) -> (metric, first step) or None: see gradient_descent.
Remetric = Callable[[np.ndarray], "tuple[StepMetric, float] | None"]


@dataclass(frozen=True)
class SolverResult:
    """What a run of :func:`gradient_descent` returns.

    ``status`` is ``"converged"`` (optimality <= tol), ``"max_iter"``,
    ``"diverged"`` (a constant step made the objective or the coefficients
    non-finite; ``coef`` is the last finite iterate) or ``"stalled"``
    (backtracking could not decrease the objective any more: the limit of
    floating-point precision) or ``"stopped"`` (the callback asked to stop).
    ``objective_history[k]`` is the objective
    after ``k`` iterations (index 0 is the starting point).
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
    """An iterate, its smooth objective value and gradient, and the full objective."""

    coef: np.ndarray
    value: float
    grad: np.ndarray
    total: float


def _evaluate(problem: Problem, *coefs: np.ndarray) -> list[_Point]:
    """The points at ``coefs``, all from one call (one read of the data)."""
    values_and_grads = problem.values_and_grads(coefs)
    return [
        _Point(coef, value, grad, value + problem.penalty_l1(coef))
        for coef, (value, grad) in zip(coefs, values_and_grads, strict=True)
    ]


def _is_finite(point: _Point) -> bool:
    return bool(np.isfinite(point.value) and np.isfinite(point.coef).all())


# extrapolate(new_coef) -> the next point to evaluate along with new_coef, or None
Extrapolate = Callable[[np.ndarray], np.ndarray | None]


def _proximal_step(
    problem: Problem,
    geometry: StepMetric,
    at: _Point,
    step: float,
    adaptive: bool,
    extrapolate: Extrapolate,
) -> tuple[_Point | None, _Point | None, float]:
    """One (proximal) gradient step from ``at``; backtrack if ``adaptive``.

    The momentum point ``extrapolate(new)`` is evaluated together with the
    new point, so an accelerated iteration reads the data once. Returns the
    new point (``None`` if no step passed the test), the momentum point
    (``None`` if there is none) and the step to try next: the accepted step,
    grown by ``_GROW`` at most and not past ``1 / curvature`` (see
    :func:`_curvature` for the test), or the constant step.
    """
    direction = geometry.direction(at.grad)
    for _ in range(_MAX_HALVINGS):
        new_coef = geometry.prox(at.coef - step * direction, step)
        ahead_coef = extrapolate(new_coef)
        if ahead_coef is None:
            new, ahead = _evaluate(problem, new_coef)[0], None
        else:
            new, ahead = _evaluate(problem, new_coef, ahead_coef)
        if not adaptive:
            return new, ahead, step
        curvature = _curvature(geometry, at, new, step)
        if curvature * step <= 1:
            # Grow the step, but not past what the curvature seen allows.
            return new, ahead, min(step * _GROW, 1 / max(curvature, 1e-300))
        step *= _SHRINK
    return None, None, step


def _moving_back(geometry: StepMetric, x: _Point, y: _Point, new: np.ndarray) -> bool:
    """Whether the step taken from ``y`` undoes the progress since ``x``.

    The gradient restart test of O'Donoghue and Candes (2015).
    """
    return geometry.inner(y.coef - new, new - x.coef) > 0


def _curvature(geometry: StepMetric, at: _Point, new: _Point, step: float) -> float:
    """The curvature of the smooth objective between ``at`` and ``new``.

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
    delta = new.coef - at.coef
    length = geometry.inner(delta, delta)
    if length == 0:
        return 0.0
    rounding = 1e3 * np.finfo(at.coef.dtype).eps * max(abs(at.value), 1.0)
    if length / (2 * step) > rounding:
        excess = new.value - at.value - float(np.vdot(at.grad, delta))
        return 2 * excess / length
    return float(np.vdot(new.grad - at.grad, delta)) / length


# A constant step that is too large overflows on its way to "diverged": that
# is detected and reported, so numpy need not warn about it.
@np.errstate(over="ignore", invalid="ignore")
def gradient_descent(
    problem: Problem,
    geometry: StepGeometry,
    coef0: np.ndarray,
    *,
    learning_rate: float,
    adaptive: bool,
    accelerated: bool,
    max_iter: int,
    tol: float,
    callback: Callback | None = None,
    remetric: Remetric | None = None,
    remetric_factor: float = 1e-2,
    finish_within: float = 0.0,
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
    learning_rate : float
        The step ``t`` (constant), or the first step tried (``adaptive``).
    adaptive : bool
        Backtrack (halve ``t`` until the step decreases the objective enough)
        and let ``t`` grow again after each accepted step.
    accelerated : bool
        Nesterov momentum with adaptive restart (FISTA when L1 is on).
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
        steps, measured at ``coef``, and the step to try first in it. Asked
        for each time the optimality has shrunk by ``remetric_factor`` since
        the metric in use was made (a lazily updated preconditioner; see
        ``_objective.curvature_metric``), unless the optimality is already
        within ``finish_within`` times ``tol``. The steps stay gradient steps in
        one fixed metric between updates; ``geometry`` still measures the
        optimality, so ``tol`` keeps its meaning.
    remetric_factor : float, default=1e-2
        See ``remetric``.
    finish_within : float, default=0.0
        No new metric once the optimality is within this factor of ``tol``:
        where a metric costs several iterations, the one in use finishes
        the run for less.

    Returns
    -------
    SolverResult
    """
    # x is the iterate; y is where the gradient is taken (x itself without momentum).
    x = y = _evaluate(problem, coef0)[0]
    theta = 1.0
    step = learning_rate
    history = [x.total]
    optimality = geometry.optimality(x.coef, x.grad)
    metric: StepMetric = geometry  # the steps' metric
    remetric_at = optimality * remetric_factor
    status = "converged" if optimality <= tol else "max_iter"
    n_iter = 0
    stop = callback is not None and callback(0, x.coef, x.total, optimality, step)
    if stop and status != "converged":
        status = "stopped"
    while status == "max_iter" and n_iter < max_iter:
        theta_next = (1 + (1 + 4 * theta**2) ** 0.5) / 2
        beta = (theta - 1) / theta_next if accelerated else 0.0

        def extrapolate(new_coef, x=x, y=y, beta=beta, metric=metric):
            if beta == 0 or _moving_back(metric, x, y, new_coef):
                return None
            return new_coef + beta * (new_coef - x.coef)

        new, ahead, step = _proximal_step(
            problem, metric, y, step, adaptive, extrapolate
        )
        if new is None:
            status = "stalled"
            break
        if not _is_finite(new):
            status = "diverged"
            break
        n_iter += 1
        if not accelerated:
            y = new
        elif (
            new.total > x.total  # the objective went up: restart
            # extrapolate found the step moving back (with beta = 0, y is x:
            # it cannot move back)
            or (beta != 0 and ahead is None)
            or (ahead is not None and not _is_finite(ahead))
        ):
            theta, y = 1.0, new
        else:
            theta, y = theta_next, new if ahead is None else ahead
        x = new
        history.append(x.total)
        optimality = geometry.optimality(x.coef, x.grad)
        stop = callback is not None and callback(
            n_iter, x.coef, x.total, optimality, step
        )
        if optimality <= tol:
            status = "converged"
        elif stop:
            status = "stopped"
        elif (
            remetric is not None
            and optimality <= remetric_at
            and optimality > finish_within * tol
        ):
            remetric_at = optimality * remetric_factor
            del extrapolate  # it holds the old metric too
            metric = geometry  # the old metric goes before the new one comes
            update = remetric(x.coef)
            if update is not None:  # restart from x, in the new metric
                (metric, step), theta, y = update, 1.0, x
            del update  # `metric` alone holds it now: the next update frees it
    return SolverResult(
        coef=x.coef,
        n_iter=n_iter,
        status=status,
        optimality=optimality,
        step=step,
        objective_history=np.asarray(history),
    )
