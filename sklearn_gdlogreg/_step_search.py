"""The length of one step of the conjugate loop (``_conjugate``): the
minimum of a convex objective along a line, found from its slopes
(:func:`_line_minimum`), or a step on a subspace of a few directions by
Newton steps there (:func:`_subspace_step`, on a :class:`Subspace`).

Numerics on the functions they are given: like the loop, they know
nothing about logistic regression (``_restricted`` gives the objective on a
line or a subspace from kept scores).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np


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
