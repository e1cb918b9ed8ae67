"""Conjugate directions with exact line minima (``_conjugate``): the slope
along a line, the line's minimum, and the loop's minimum, statuses and plan."""

import dataclasses
import warnings
from collections import deque

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

import sklearn_gdlogreg._conjugate as conjugate_module
import sklearn_gdlogreg._restricted as restricted_module
from conftest import make_objective, one_hot
from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._backends import OffsetLabels, backend_for
from sklearn_gdlogreg._conjugate import _Span
from sklearn_gdlogreg._objective import LogisticObjective
from sklearn_gdlogreg._plan import (
    CONJUGATE_SCORE_ARRAYS,
    SMALL_KEPT_SCORES,
    SUBSPACE_HISTORY,
    make_plan,
    solve,
)
from sklearn_gdlogreg._step_search import (
    _ARMIJO,
    _DECREMENT_FRACTION,
    _MAX_SLOPES,
    _SLOPE_FRACTION,
    _line_minimum,
    _modelled_root,
    _newton_step,
    _subspace_step,
)


def text_objective(rng, n_outputs=1, C=10.0, n_samples=400, n_features=300):
    """A sparse X (tf-idf-like: a few positive entries a row) and its
    objective at a weak penalty, with sample weights and penalty factors."""
    X = sp.random(n_samples, n_features, density=0.03, format="csr", random_state=rng)
    X.data = np.abs(X.data) + 0.1
    return labelled_objective(rng, X, n_outputs, C, scale=5.0)


def labelled_objective(rng, X, n_outputs, C, scale):
    """Labels drawn from a linear model of ``X`` (coefficients of ``scale``),
    sample weights and penalty factors, and their objective at ``C``."""
    n_samples, n_features = X.shape
    n_classes = max(2, n_outputs)
    scores = X @ rng.normal(scale=scale, size=(n_features, n_classes))
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    weights = rng.uniform(0.5, 2, size=n_samples)
    objective = LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=weights / weights.sum(),
        n_outputs=n_outputs,
        fit_intercept=True,
        l2=1 / (C * weights.sum()),
        l1=0.0,
        penalty_factor=rng.uniform(0.5, 2, size=n_features),
    )
    return X, y, weights, objective


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("variant", ["plain", "offsets", "no intercept"])
def test_the_slope_along_a_line_is_the_objectives_derivative(
    rng, n_outputs, variant, monkeypatch
):
    _, _, _, objective = text_objective(rng, n_outputs)
    if variant == "offsets":
        n = objective.backend.shape[0]
        offset = rng.normal(size=(n,) if n_outputs == 1 else (n, n_outputs))
        labels = OffsetLabels(objective.y, offset)
        objective = dataclasses.replace(objective, y=labels, shifted=True)
    elif variant == "no intercept":
        objective = dataclasses.replace(objective, fit_intercept=False)
    shape = (objective.n_features + objective.fit_intercept, n_outputs)
    coef, direction = rng.normal(size=shape), rng.normal(size=shape)
    scores, direction_scores = objective.scores(coef), objective.scores(direction)
    kept = scores.copy(), direction_scores.copy()

    def value(t):
        return objective.value_and_grad_at(
            coef - t * direction, objective.scores(coef - t * direction), grad=False
        )[0]

    slope = objective.line_slope(coef, scores, direction, direction_scores)
    # In slices of a few rows each: the same slopes.
    monkeypatch.setattr(restricted_module, "_LINE_SLICE_BYTES", 64)
    sliced = objective.line_slope(coef, scores, direction, direction_scores)
    h = 1e-6
    for t in (0.0, 0.3, -0.2):
        central = (value(t + h) - value(t - h)) / (2 * h)
        assert slope(t) == pytest.approx(central, rel=1e-6, abs=1e-9)
        assert sliced(t) == pytest.approx(slope(t), rel=1e-12, abs=1e-15)
    # Minus the gradient's inner product with the direction at each point,
    # far along the line too (where the exponentials overflow).
    for t in (0.0, 0.3, -0.2, 1e3, -1e3):
        point = coef - t * direction
        _, grad = objective.value_and_grad_at(point, objective.scores(point))
        assert slope(t) == pytest.approx(-np.vdot(grad, direction), rel=1e-10)
        assert sliced(t) == pytest.approx(slope(t), rel=1e-12, abs=1e-15)
    # Neither array of scores is touched.
    np.testing.assert_array_equal(scores, kept[0])
    np.testing.assert_array_equal(direction_scores, kept[1])


@pytest.mark.parametrize("variant", ["plain", "offsets", "zero weights"])
def test_a_line_given_the_residual_keeps_its_last_and_knows_its_curvature(
    rng, variant, monkeypatch
):
    """A multinomial line given its start's residual: the same slopes, its
    curvature at the start is the slope's derivative there, and the residual
    it keeps is the one the scores at its last step give."""
    _, _, _, objective = text_objective(rng, 3)
    n = objective.backend.shape[0]
    if variant == "offsets":
        labels = OffsetLabels(objective.y, rng.normal(size=(n, 3)))
        objective = dataclasses.replace(objective, y=labels, shifted=True)
    elif variant == "zero weights":
        weights = objective.weights.copy()
        weights[::3] = 0.0
        objective = dataclasses.replace(objective, weights=weights / weights.sum())
    shape = (objective.n_features + 1, 3)
    coef, direction = rng.normal(size=shape), rng.normal(size=shape)
    scores, direction_scores = objective.scores(coef), objective.scores(direction)
    kept = scores.copy(), direction_scores.copy()
    residual = objective.residual(scores)
    plain = objective.line_slope(coef, scores, direction, direction_scores)
    # The slopes' residuals whole, the start's curvature in slices.
    monkeypatch.setattr(restricted_module, "_LINE_SLICE_BYTES", 64)
    line = objective.line_slope(coef, scores, direction, direction_scores, residual)
    assert plain.curvature is None
    h = 1e-5
    central = (line(h) - line(-h)) / (2 * h)
    assert line.curvature == pytest.approx(central, rel=1e-6)
    for t in (0.0, 0.3, -0.2, 1e3):
        assert line(t) == pytest.approx(plain(t), rel=1e-12, abs=1e-15)
    loss, R = line.residual_at(1e3)
    expected = objective.residual(scores - 1e3 * direction_scores)
    assert loss == pytest.approx(expected[0], rel=1e-12)
    np.testing.assert_allclose(R, expected[1], rtol=1e-12, atol=1e-18)
    # Once: and none at a step the last slope was not at.
    assert line.residual_at(1e3) is None
    line(0.5)
    assert line.residual_at(0.25) is None
    np.testing.assert_array_equal(scores, kept[0])
    np.testing.assert_array_equal(direction_scores, kept[1])


def test_a_lines_curvature_keeps_its_digits_where_predictions_are_confident(rng):
    """Rows whose true class is predicted with confidence add a curvature
    far below their weight times their direction's size: in float32 the
    line's curvature is still float64's to float32's precision."""
    _, _, _, objective = text_objective(rng, 3)
    shape = (objective.n_features + 1, 3)
    coef, direction = rng.normal(size=shape), rng.normal(size=shape)
    curvatures = []
    for dtype in (np.float64, np.float32):
        X = objective.backend.X.astype(dtype)
        at = dataclasses.replace(objective, backend=backend_for(X))
        scores = at.scores(coef)
        # Margins of about 20: each row's curvature about 2e-9 of its weight.
        margins = np.zeros_like(scores)
        margins[np.arange(scores.shape[0]), at.y] = 20.0
        scores = (margins + 1e-3 * scores).astype(dtype)
        line = at.line_slope(
            coef, scores, direction, at.scores(direction), at.residual(scores)
        )
        curvatures.append(line.curvature - line._along)
    assert curvatures[1] == pytest.approx(curvatures[0], rel=1e-3)


@pytest.mark.parametrize("slices", ["one slice", "three slices"])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize(
    "variant", ["plain", "offsets", "zero weights", "a subnormal weight"]
)
def test_the_subspace_gives_the_objectives_value_gradient_and_hessian(
    rng, n_outputs, variant, slices, monkeypatch
):
    """Along three directions at once: the value is the objective's at the
    combined point, the gradient its central differences, the Hessian the
    gradient's (all in alpha), none of the scores modified; the Hessian
    summed over one slice of rows (these few rows) or over three (a k-th of
    the rows each, as for many rows)."""
    if slices == "three slices":
        monkeypatch.setattr(restricted_module, "_SUBSPACE_SLICE", 1)
    _, _, _, objective = text_objective(rng, n_outputs)
    n = objective.backend.shape[0]
    if variant == "offsets":
        offset = rng.normal(size=(n,) if n_outputs == 1 else (n, n_outputs))
        labels = OffsetLabels(objective.y, offset)
        objective = dataclasses.replace(objective, y=labels, shifted=True)
    elif variant == "zero weights":  # rows of weight 0 add nothing
        weights = objective.weights.copy()
        weights[::3] = 0.0
        objective = dataclasses.replace(objective, weights=weights / weights.sum())
    elif variant == "a subnormal weight":  # whose inverse overflows
        weights = objective.weights.copy()
        weights[0] = 1e-310
        with np.errstate(over="ignore"):
            assert not np.isfinite(np.float64(1.0) / weights[0])
        objective = dataclasses.replace(objective, weights=weights)
    shape = (objective.n_features + objective.fit_intercept, n_outputs)
    coef = rng.normal(size=shape)
    directions = [rng.normal(size=shape) for _ in range(3)]
    scores = objective.scores(coef)
    direction_scores = [objective.scores(d) for d in directions]
    kept = [scores.copy()] + [Z.copy() for Z in direction_scores]
    at = objective.subspace(coef, scores, directions, direction_scores)

    def value(alpha):
        point = coef - sum(a * d for a, d in zip(alpha, directions, strict=True))
        return objective.value_and_grad_at(point, objective.scores(point), grad=False)[
            0
        ]

    h = 1e-5
    for alpha in (np.zeros(3), np.array([0.3, -0.2, 0.1])):
        got, grad, hessian = at(alpha)
        assert got == pytest.approx(value(alpha), rel=1e-12)
        assert at(alpha, False) == (got, None, None)  # the value alone
        for a, unit in enumerate(np.eye(3)):
            central = (value(alpha + h * unit) - value(alpha - h * unit)) / (2 * h)
            assert grad[a] == pytest.approx(central, rel=1e-6, abs=1e-9)
            second = (at(alpha + h * unit)[1] - at(alpha - h * unit)[1]) / (2 * h)
            np.testing.assert_allclose(hessian[a], second, rtol=1e-5, atol=1e-8)
        np.testing.assert_array_equal(hessian, hessian.T)
    # Given the point's residual, alpha = 0 takes it (unmodified); the last
    # call keeps its residual, that of the scores of its step plus the
    # point's.
    residual = objective.residual(scores)
    given = residual[1].copy()
    started = objective.subspace(coef, scores, directions, direction_scores, residual)
    at_zero, from_scores = started(np.zeros(3)), at(np.zeros(3))
    assert at_zero[0] == pytest.approx(from_scores[0], rel=1e-14)
    np.testing.assert_allclose(at_zero[1], from_scores[1], rtol=1e-12)
    np.testing.assert_allclose(at_zero[2], from_scores[2], rtol=1e-12)
    np.testing.assert_array_equal(residual[1], given)
    alpha = np.array([0.3, -0.2, 0.1])
    combined = scores - sum(a * Z for a, Z in zip(alpha, direction_scores, strict=True))
    step_scores = started.step_scores(alpha)
    np.testing.assert_allclose(step_scores + scores, combined, rtol=1e-12)
    expected = objective.residual(started.step_scores(alpha) + scores)
    for derivatives in (True, False):  # the last call's, with them or not
        started(2 * alpha)
        started(alpha, derivatives)
        loss, R = started.residual_at(alpha)
        assert loss == expected[0]
        np.testing.assert_array_equal(R, expected[1])
        assert started.residual_at(alpha) is None  # once
    started(alpha)
    started(2 * alpha, False)
    assert started.residual_at(alpha) is None  # the last call's point only
    for array, copy in zip([scores, *direction_scores], kept, strict=True):
        np.testing.assert_array_equal(array, copy)


@pytest.mark.parametrize("guess", [1e-3, 0.7, 5e3])
def test_the_line_minimum_is_the_slopes_root(guess):
    calls = []

    def slope(t):  # convex, minimum at t = 2
        calls.append(t)
        with np.errstate(over="ignore"):  # inf far out: uphill
            return np.expm1(t - 2) * 4

    start = slope(0.0)
    t = _line_minimum(slope, start, guess)
    assert abs(slope(t)) <= _SLOPE_FRACTION * -start * (1 + 1e-12)
    # Within the slope's tolerance over its derivative (4 at the minimum).
    assert t == pytest.approx(2, abs=1.01 * _SLOPE_FRACTION)
    assert len(calls) <= _MAX_SLOPES + 1


@pytest.mark.parametrize("curvature", [0.3, 2.0])
def test_the_line_minimum_from_the_start_curvature_models_the_slope(curvature):
    """Given the slope's derivative at the start, the second step tried is
    the root of the quadratic through it and the first step's slope: a
    quadratic slope's root, found in two slopes (the secant would take
    more), from a first step short of the root or past it."""
    calls = []

    def slope(t):  # the curvature falls along the line: root at t = 2
        calls.append(t)
        return (t - 2) * (curvature - 0.05 * (t + 2))

    start = slope(0.0)  # its derivative at 0 is the curvature
    for guess in (1.0, 3.0):
        calls.clear()
        t = _line_minimum(slope, start, guess, curvature)
        assert t == pytest.approx(2, rel=1e-9)
        assert len(calls) == 2
    calls.clear()
    t = _line_minimum(slope, start, 1.0)  # the secant's steps
    assert abs(slope(t)) <= _SLOPE_FRACTION * -start * (1 + 1e-12)
    assert len(calls) > 3


@pytest.mark.parametrize(
    "slope, curvature, t, slope_t",
    [
        (-1.0, 1e200, 1e200, -0.5),
        (-1.0, 1.0, 1e-170, -1.0),
        (-1e300, 1e-300, 1.0, 1e300),
    ],
)
def test_the_modelled_root_of_extreme_slopes_is_a_number_or_nan(
    slope, curvature, t, slope_t
):
    # Far out, or a curvature that is noise next to the slope: no exception.
    root = _modelled_root(slope, curvature, t, slope_t)
    assert np.isnan(root) or root >= 0


def test_the_line_minimum_counts_an_overflow_as_uphill():
    # Past t = 3 the slope overflows: NaN or inf count as positive.
    def slope(t):
        return np.nan if t > 3 else t - 1

    t = _line_minimum(slope, -1.0, 100.0)
    assert t == pytest.approx(1, abs=_SLOPE_FRACTION)


def test_a_line_still_falling_ends_at_its_last_step():
    # No penalty, separable data: the objective falls along the whole line.
    calls = []

    def slope(t):
        calls.append(t)
        return -0.5 - 1 / (1 + t)

    t = _line_minimum(slope, slope(0.0), 1.0)
    assert t == calls[-1] > 1 and np.isfinite(t)
    assert len(calls) == _MAX_SLOPES + 1  # slope(0.0) above, then the line's


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_conjugate_directions_reach_scikit_learns_minimum(rng, n_outputs):
    X, y, weights, objective = text_objective(rng, n_outputs)
    plan = make_plan(objective, "auto", "nesterov")
    assert plan.conjugate and plan.keep_scores
    coef0 = np.zeros((X.shape[1] + 1, n_outputs))
    result = solve(objective, plan, coef0, max_iter=1000, tol=1e-10)
    assert result.status == "converged"
    # The objective falls at every step (within the rounding the loop allows:
    # 1e3 eps of the value).
    history = result.objective_history
    assert len(history) == result.n_iter + 1
    rounding = 1e3 * np.finfo(float).eps * np.maximum(np.abs(history[:-1]), 1)
    assert np.all(np.diff(history) <= rounding)
    assert_at_scikit_learns_minimum(result.coef, X, y, weights, objective, C=10.0)


def assert_at_scikit_learns_minimum(coef, X, y, weights, objective, **params):
    """``coef`` is ``LogisticRegression(**params)``'s minimum (at
    ``tol=1e-12``), within 1e-6 of its largest coefficient: its penalty is
    ours in ``V = sqrt(f) W``, the features divided by ``sqrt(f)``."""
    root = np.sqrt(objective.penalty_factor)
    reference = LogisticRegression(tol=1e-12, max_iter=10_000, **params).fit(
        X @ sp.diags(1 / root), y, sample_weight=weights
    )
    expected = reference.coef_.T / root[:, None]
    if objective.n_outputs == 1:
        expected = expected[:, :1]
    scale = np.abs(expected).max()
    np.testing.assert_allclose(coef[:-1], expected, atol=1e-6 * scale)
    np.testing.assert_allclose(coef[-1], reference.intercept_, atol=1e-6 * scale)


def test_conjugate_directions_take_fewer_steps_than_accelerated_ones(rng):
    """One-hot data at a weak penalty: conjugate directions, each minimised
    along its line, reach the same minimum in fewer steps than the
    accelerated gradient steps with backtracking."""
    X = one_hot(rng, levels=(50,) * 10, n_samples=3_000)
    scores = X @ rng.normal(size=X.shape[1])
    y = (scores + rng.logistic(size=X.shape[0]) > 0).astype(int)
    objective = LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=np.full(X.shape[0], 1 / X.shape[0]),
        n_outputs=1,
        fit_intercept=True,
        l2=1 / (100.0 * X.shape[0]),
        l1=0.0,
    )
    plan = make_plan(objective, "auto", "nesterov")
    assert plan.conjugate
    coef0 = np.zeros((X.shape[1] + 1, 1))
    conjugate = solve(objective, plan, coef0, max_iter=5000, tol=1e-8)
    accelerated = solve(
        objective,
        dataclasses.replace(plan, conjugate=False),
        coef0,
        max_iter=5000,
        tol=1e-8,
    )
    assert conjugate.status == accelerated.status == "converged"
    f_conjugate = conjugate.objective_history[-1]
    f_accelerated = accelerated.objective_history[-1]
    assert abs(f_conjugate - f_accelerated) <= 1e-10 * abs(f_accelerated)
    assert conjugate.n_iter < accelerated.n_iter


def test_the_conjugate_loop_stops_where_it_is_told(rng):
    _, _, _, objective = text_objective(rng)
    plan = make_plan(objective, "auto", "nesterov")
    coef0 = np.zeros((objective.n_features + 1, 1))
    short = solve(objective, plan, coef0, max_iter=2, tol=1e-10)
    assert (short.status, short.n_iter) == ("max_iter", 2)
    seen = []

    def callback(iteration, coef, value, optimality, step):
        seen.append((iteration, value))
        return iteration == 3

    stopped = solve(objective, plan, coef0, max_iter=100, tol=1e-10, callback=callback)
    assert (stopped.status, stopped.n_iter) == ("stopped", 3)
    assert [i for i, _ in seen] == [0, 1, 2, 3]
    np.testing.assert_allclose([v for _, v in seen], stopped.objective_history)
    # From the minimum itself: converged at once, no step taken.
    minimum = solve(objective, plan, coef0, max_iter=1000, tol=1e-10)
    assert minimum.status == "converged"
    again = solve(objective, plan, minimum.coef, max_iter=100, tol=1e-9)
    assert (again.status, again.n_iter) == ("converged", 0)


def test_conjugate_directions_where_the_objective_is_smooth(rng):
    sparse = make_objective(rng, 1, X=sp.random(50, 10, density=0.3, format="csr"))
    assert make_plan(sparse, "auto", "nesterov").conjugate
    # A constant step, plain gradient descent, or an L1 term: not smooth or
    # not asked for.
    assert not make_plan(sparse, 0.5, "nesterov").conjugate
    assert not make_plan(sparse, "auto", "gd").conjugate
    l1 = make_objective(rng, 1, l1=0.1, X=sp.random(50, 10, density=0.3, format="csr"))
    assert not make_plan(l1, "auto", "nesterov").conjugate
    # A dense X by the same rule (the scores held small; in memory or on a
    # device alike), and where accelerated steps would keep them (a wide X).
    wide = make_objective(rng, 1, X=rng.normal(size=(50, 300)))
    assert make_plan(wide, "auto", "nesterov").conjugate
    # There (a diagonal metric, never measured again) each step minimises
    # over a subspace of earlier steps where their scores take at most a
    # tenth of X: not with many classes; nor on a narrower X or a sparse one.
    assert make_plan(wide, "auto", "nesterov").history == SUBSPACE_HISTORY
    classes = make_objective(rng, 4, X=rng.normal(size=(50, 300)))
    assert make_plan(classes, "auto", "nesterov").conjugate
    assert make_plan(classes, "auto", "nesterov").history == 0
    assert make_plan(sparse, "auto", "nesterov").history == 0
    narrow = make_objective(rng, 1)
    assert make_plan(narrow, "auto", "nesterov").conjugate
    assert make_plan(narrow, "auto", "nesterov").history == 0
    # A tall narrow X in blocks, whose 3 arrays of scores are past 2 MiB and
    # a tenth of X: accelerated steps at two points stacked, no scores kept.
    n = SMALL_KEPT_SCORES // (CONJUGATE_SCORE_ARRAYS * 8) + 1_000
    tall = make_objective(rng, 1, X=rng.normal(size=(n, 5)))
    tall = dataclasses.replace(
        tall, backend=backend_for(tall.backend.X, block_bytes=2**16)
    )
    plan = make_plan(tall, "auto", "nesterov")
    assert not (plan.conjugate or plan.keep_scores)
    # Where the scores are large next to a sparse X (many classes, few
    # entries a row): only where X is one block for the accelerated steps'
    # pass at two points, which then holds every row's scores anyway.
    X = sp.random(20_000, 40, density=0.05, format="csr", random_state=0)
    many = make_objective(rng, 20, X=X)
    assert many.backend.one_block(2 * 20) is not None
    assert make_plan(many, "auto", "nesterov").conjugate
    blocked = dataclasses.replace(many, backend=backend_for(X, block_bytes=2**16))
    plan = make_plan(blocked, "auto", "nesterov")
    assert not (plan.conjugate or plan.keep_scores)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_offsets_and_bounds_on_sparse_X(rng, dtype, monkeypatch):
    """Offsets keep the conjugate directions, which reach the model the
    accelerated steps reach; bounds take accelerated proximal steps."""
    X, y, _, _ = text_objective(rng)
    X = X.astype(dtype)
    plans = []
    original = GradientDescentLogisticRegression._plan

    def planned(conjugate):
        def plan(self, objective, start):
            made = original(self, objective, start)
            plans.append(made)
            return dataclasses.replace(made, conjugate=made.conjugate and conjugate)

        return plan

    offset = rng.normal(size=X.shape[0]).astype(dtype)
    # As close as each precision gets: the two loops' models within that.
    tol, agree = (1e-10, 1e-6) if dtype == np.float64 else (1e-4, 1e-2)
    fits = []
    for conjugate in (True, False):
        monkeypatch.setattr(
            GradientDescentLogisticRegression, "_plan", planned(conjugate)
        )
        model = GradientDescentLogisticRegression(C=10.0, tol=tol)
        fits.append(model.fit(X, y, offset=offset))
    assert plans[0].conjugate
    assert fits[0].coef_.dtype == dtype
    scale = np.abs(fits[1].coef_).max()
    atol = agree * scale
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, atol=atol)
    np.testing.assert_allclose(fits[0].intercept_, fits[1].intercept_, atol=atol)
    bounded = GradientDescentLogisticRegression(lower_bounds=0.0, C=10.0).fit(X, y)
    assert not plans[-1].conjugate
    assert bounded.coef_.min() >= 0


def wide_objective(rng, n_outputs=1, n_samples=1000, n_features=400, C=1.0):
    """A dense X past the full metric's width (correlated columns) and its
    objective at a weak penalty, with sample weights and penalty factors:
    conjugate steps there are taken on a subspace of earlier steps."""
    factors = rng.normal(size=(n_samples, 5))
    X = factors @ rng.normal(size=(5, n_features)) + rng.normal(
        size=(n_samples, n_features)
    )
    return labelled_objective(rng, X, n_outputs, C, scale=0.2)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_the_subspace_of_a_float32_x_is_the_float64_ones_to_its_precision(
    rng, n_outputs
):
    """On a float32 X (its coefficients float32, as a fit keeps them) the
    scores stay float32 (the step's too) while the value, gradient and
    Hessian in alpha are float64, and they agree with the same subspace of
    the float64 X to float32's precision."""
    X, _, _, objective = wide_objective(rng, n_outputs, n_samples=300)
    shape = (X.shape[1] + 1, n_outputs)
    coef = rng.normal(scale=0.05, size=shape)
    directions = np.stack([rng.normal(scale=0.05, size=shape) for _ in range(3)])
    alpha = np.array([0.5, -0.3, 0.2])
    results = []
    for dtype in (np.float64, np.float32):
        at = dataclasses.replace(
            objective,
            backend=backend_for(X.astype(dtype)),
            weights=objective.weights.astype(dtype),  # as a fit makes them
        )
        point, vectors = coef.astype(dtype), directions.astype(dtype)
        scores = at.scores(point)
        direction_scores = np.stack([at.scores(d) for d in vectors])
        subspace = at.subspace(point, scores, vectors, direction_scores)
        value, grad, hessian = subspace(alpha)
        assert scores.dtype == subspace.step_scores(alpha).dtype == dtype
        assert grad.dtype == hessian.dtype == np.float64
        results.append((value, grad, hessian))
    (value64, grad64, hessian64), (value32, grad32, hessian32) = results
    assert value32 == pytest.approx(value64, rel=1e-5)
    np.testing.assert_allclose(grad32, grad64, atol=1e-4 * np.abs(grad64).max())
    np.testing.assert_allclose(
        hessian32, hessian64, atol=1e-4 * np.abs(hessian64).max()
    )


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_the_subspace_steps_reach_scikit_learns_minimum(rng, n_outputs):
    X, y, weights, objective = wide_objective(rng, n_outputs)
    plan = make_plan(objective, "auto", "nesterov")
    assert plan.conjugate and plan.history == SUBSPACE_HISTORY
    coef0 = np.zeros((X.shape[1] + 1, n_outputs))
    result = solve(objective, plan, coef0, max_iter=1000, tol=1e-10)
    assert result.status == "converged"
    history = result.objective_history
    rounding = 1e3 * np.finfo(float).eps * np.maximum(np.abs(history[:-1]), 1)
    assert np.all(np.diff(history) <= rounding)
    # newton-cholesky: lbfgs stops short of the minimum on these correlated
    # columns.
    assert_at_scikit_learns_minimum(
        result.coef, X, y, weights, objective, C=1.0, solver="newton-cholesky"
    )


def test_the_subspace_takes_fewer_steps_than_one_line(rng):
    """On wide dense data the span of earlier steps and gradients follows
    the curvature's changes that one conjugate direction loses: the same
    minimum in fewer steps."""
    X, _, _, objective = wide_objective(rng, n_samples=2_000, n_features=600)
    plan = make_plan(objective, "auto", "nesterov")
    coef0 = np.zeros((X.shape[1] + 1, 1))
    subspace = solve(objective, plan, coef0, max_iter=5000, tol=1e-8)
    line = solve(
        objective, dataclasses.replace(plan, history=0), coef0, max_iter=5000, tol=1e-8
    )
    assert subspace.status == line.status == "converged"
    # The minimum to the stopping rule's tolerance: at tol=1e-8 these runs
    # stop up to a few 1e-10 above it, relatively (its gradient squared over
    # the smallest curvature), which a run to tol=1e-12 pins.
    best = solve(objective, plan, coef0, max_iter=5000, tol=1e-12)
    f_best = best.objective_history[-1]
    for run in (subspace, line):
        assert abs(run.objective_history[-1] - f_best) <= 1e-9 * abs(f_best)
    assert subspace.n_iter < line.n_iter


@pytest.mark.parametrize("history", [1, 2, 3])
def test_the_span_holds_the_gradient_and_the_last_steps_and_gradients(rng, history):
    """The span's rows in use are the gradient in the metric just taken,
    the last ``history`` gradients before it and the last ``history``
    steps (each with its scores), the first rows of its arrays, through
    any order of new gradients, new steps and restarts."""
    coef, scores = np.zeros((3, 1)), np.zeros(4)
    span = _Span(history, coef, scores)
    gradients: deque = deque(maxlen=history + 1)  # the reference
    steps: deque = deque(maxlen=history)
    for label in range(400):
        event = rng.choice(["gradient", "step", "restart"], p=[0.45, 0.45, 0.1])
        if event == "restart":
            span.clear()
            gradients.clear()
            steps.clear()
            continue
        # Each vector and its scores carry the label, so a row's two match.
        vector, vector_scores = np.full_like(coef, label), np.full_like(scores, label)
        if event == "gradient":
            row = span.add_gradient(vector, vector_scores)
            gradients.append(label)
        else:
            row = span.add_step(vector, vector_scores)
            steps.append(label)
        vectors, held_scores = span.directions()
        assert vectors[row, 0, 0] == label
        assert len(vectors) == len(gradients) + len(steps)
        # Each row whole: its vector's entries and its scores' all the label.
        np.testing.assert_array_equal(vectors, vectors[:, :1, :1] + 0 * vectors)
        np.testing.assert_array_equal(held_scores, vectors[:, 0, :1] + 0 * held_scores)
        assert sorted(vectors[:, 0, 0]) == sorted([*gradients, *steps])


def test_a_subspace_of_repeated_directions_is_their_line(rng):
    """Directions that repeat one another (a singular Hessian in alpha) add
    nothing: the minimum is the line's, where its slope is zero."""
    _, _, _, objective = text_objective(rng)
    shape = (objective.n_features + 1, 1)
    coef, direction = rng.normal(size=shape), rng.normal(size=shape)
    scores, direction_scores = objective.scores(coef), objective.scores(direction)
    repeated = [direction, -2 * direction, direction]
    at = objective.subspace(
        coef,
        scores,
        repeated,
        [direction_scores, -2 * direction_scores, direction_scores],
    )
    alpha = _subspace_step(at, 3, rounding=0.0, to_minimum=True)
    t = alpha[0] - 2 * alpha[1] + alpha[2]
    slope = objective.line_slope(coef, scores, direction, direction_scores)
    assert abs(slope(t)) <= _SLOPE_FRACTION * abs(slope(0.0))


def test_a_newton_step_on_a_subspace_is_none_where_it_is_not_finite(rng):
    """The Newton step is the linear system's solution where the Hessian
    is positive definite; over the directions of positive curvature where
    some have none; None where the Hessian or the gradient holds a NaN or
    an infinity (wherever it is: the eigensolver reads one triangle)."""
    A = rng.normal(size=(4, 4))
    hessian, grad = A @ A.T + np.eye(4), rng.normal(size=4)
    np.testing.assert_allclose(
        _newton_step(grad, hessian), -np.linalg.solve(hessian, grad), rtol=1e-10
    )
    flat = hessian.copy()
    flat[3, :] = flat[:, 3] = 0.0  # no curvature along the last direction
    step = _newton_step(grad, flat)
    np.testing.assert_allclose(
        step[:3], -np.linalg.solve(hessian[:3, :3], grad[:3]), rtol=1e-10
    )
    assert step[3] == 0.0
    for bad in (np.nan, np.inf):
        for entry in [(0, 0), (0, 3), (3, 0)]:
            broken = hessian.copy()
            broken[entry] = bad
            assert _newton_step(grad, broken) is None
        broken_grad = grad.copy()
        broken_grad[1] = bad
        assert _newton_step(broken_grad, hessian) is None


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_a_subspace_step_ends_at_its_first_whole_newton_step(rng, n_outputs):
    """The step on a subspace is its Newton step from alpha = 0 where that
    step passes Armijo's test whole, not the subspace's minimum; where a
    Newton step had to be halved the steps go on, and end at a Newton step
    taken whole or at the minimum (the decrement rule), below the start.
    The residual kept is the step's end's."""
    X, _, _, objective = wide_objective(rng, n_outputs)
    k = 3
    shape = (X.shape[1] + 1, n_outputs)
    directions = [rng.normal(size=shape) for _ in range(k)]

    def subspace(coef):
        return objective.subspace(
            coef,
            objective.scores(coef),
            directions,
            [objective.scores(direction) for direction in directions],
        )

    def newton_from(at, alpha):
        value, grad, hessian = at(alpha)
        step = -np.linalg.solve(hessian, grad)
        return value, grad, step, float(-grad @ step)

    # Near zero coefficients the loss is about quadratic: the first Newton
    # step passes whole, and ends the step short of the minimum.
    at = subspace(rng.normal(scale=1e-3, size=shape))
    value, _, newton, decrement = newton_from(at, np.zeros(k))
    assert at(newton, False)[0] <= value - _ARMIJO * decrement
    calls = []  # each point tried, and whether with derivatives, in turn

    def recorded(alpha, derivatives=True):
        calls.append((alpha.copy(), derivatives))
        return at(alpha, derivatives)

    step = _subspace_step(recorded, k, 0.0)
    np.testing.assert_allclose(step, newton, rtol=1e-10)
    # Derivatives at the start alone: the step ends at its trial, whose
    # value is all it needs, and whose residual is kept.
    assert [derivatives for _, derivatives in calls] == [True, False]
    assert at.residual_at(step) is not None
    minimum = _subspace_step(at, k, 0.0, to_minimum=True)
    assert not np.allclose(minimum, newton, rtol=1e-3)

    # Far out along a direction (most rows' loss about linear, their
    # curvature about zero): the first Newton step overshoots and is
    # halved, so the steps go on.
    at = subspace(directions[0])
    value, _, newton, first = newton_from(at, np.zeros(k))
    assert not at(newton, False)[0] <= value - _ARMIJO * first
    calls.clear()
    step = _subspace_step(recorded, k, 0.0)
    starts = [alpha for alpha, derivatives in calls if derivatives]  # Newton's
    assert len(starts) > 1
    np.testing.assert_array_equal(calls[-1][0], step)  # the end, tried last
    assert at.residual_at(step) is not None
    _, _, last, _ = newton_from(at, starts[-1])
    whole = np.allclose(step, starts[-1] + last, rtol=1e-8)
    _, _, _, decrement = newton_from(at, step)
    assert whole or decrement <= _DECREMENT_FRACTION * first
    minimum = _subspace_step(at, k, 0.0, to_minimum=True)
    assert at(minimum, False)[0] <= at(step, False)[0] < value


def test_a_subspace_that_does_not_go_down_starts_again_from_the_gradient(
    rng, monkeypatch
):
    """A subspace minimum that raises the objective (here made so, once)
    is not taken: the next try is the gradient's alone, and the run goes
    on to the minimum."""
    X, _, _, objective = wide_objective(rng)
    plan = make_plan(objective, "auto", "nesterov")
    coef0 = np.zeros((X.shape[1] + 1, 1))
    expected = solve(objective, plan, coef0, max_iter=1000, tol=1e-10)
    sizes = []

    def once_uphill(at, k, rounding):
        alpha = _subspace_step(at, k, rounding)
        first = k > 1 and all(size == 1 for size in sizes)
        sizes.append(k)
        return -10 * alpha if first else alpha

    monkeypatch.setattr(conjugate_module, "_subspace_step", once_uphill)
    result = solve(objective, plan, coef0, max_iter=1000, tol=1e-10)
    assert result.status == "converged"
    # After the step refused, a subspace of the gradient alone.
    refused = next(i for i, k in enumerate(sizes) if k > 1)
    assert sizes[refused + 1] == 1
    scale = np.abs(expected.coef).max()
    np.testing.assert_allclose(result.coef, expected.coef, atol=1e-6 * scale)


def test_float32_subspace_steps_reach_the_float64_model(rng):
    """float32 rounding near the minimum (where values cannot tell a
    Newton step's decrease) neither stalls the subspace early nor stops it
    short: past tol=1e-6, the float64 minimum within float32's reach."""
    X, y, _, objective = wide_objective(rng)
    assert make_plan(objective, "auto", "nesterov").history == SUBSPACE_HISTORY
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        single = GradientDescentLogisticRegression(tol=1e-7).fit(
            X.astype(np.float32), y
        )
    minimum = GradientDescentLogisticRegression(tol=1e-10).fit(X, y)
    assert single.coef_.dtype == np.float32
    scale = np.abs(minimum.coef_).max()
    np.testing.assert_allclose(single.coef_, minimum.coef_, atol=1e-3 * scale)
    np.testing.assert_allclose(single.intercept_, minimum.intercept_, atol=1e-3 * scale)
