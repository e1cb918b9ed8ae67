"""The fit's plan: each decision follows from the objective's measured
properties (its shape, penalty and kind of X) and the estimator's parameters,
and a plan changed by hand runs to the same minimum."""

import copy
import dataclasses
import itertools
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from conftest import make_objective, one_hot
from sklearn_gdlogreg import GradientDescentLogisticRegression, _plan
from sklearn_gdlogreg._backends import backend_for, counted_passes
from sklearn_gdlogreg._class_metrics import ClassCurvatureMetric
from sklearn_gdlogreg._correlation import features_correlated
from sklearn_gdlogreg._objective import LogisticObjective
from sklearn_gdlogreg._plan import (
    CONJUGATE_SCORE_ARRAYS,
    FINISH_WITHIN,
    MAX_DECORRELATED_FEATURES,
    MIN_METRIC_ROWS,
    REMETRIC_FACTOR,
    SMALL_KEPT_SCORES,
    SMALL_REMETRIC_FACTOR,
    FitPlan,
    _momentum_costs_more_than_it_saves,
    first_geometry,
    make_plan,
    solve,
)
from sklearn_gdlogreg._remetric import RESHAPED, _mismatch, remeasure


def objective(rng, n_samples=200, n_features=5, n_outputs=1, **params):
    """Features that share a common factor (correlated: see
    test_uncorrelated_binary_features_keep_the_variances)."""
    X = rng.normal(size=(n_samples, n_features))
    X += rng.normal(size=(n_samples, 1))
    return make_objective(rng, n_outputs, X=X, **params)


def test_auto_steps_in_the_full_metric_measured_again(rng):
    plan = make_plan(objective(rng), "auto", "nesterov")
    assert plan.adaptive and plan.accelerated
    assert plan.first_step == 4.0  # a Newton step at zero: 1 / (1/4)
    assert (plan.metric, plan.remeasured) == ("full", "curvature")
    assert (plan.metric_stride, plan.remeasured_stride) == (1, 1)
    # The Hessian of a few coefficients costs little: measured often.
    assert plan.remetric_factor == SMALL_REMETRIC_FACTOR
    assert plan.finish_within == FINISH_WITHIN
    # A small X: its scores are kept, and the steps follow conjugate
    # directions (see test_conjugate); accelerated steps keep none.
    assert plan.keep_scores and plan.conjugate
    assert not make_plan(objective(rng), "auto", "gd").keep_scores


def independent(rng, n_samples, n_features, factor=0.0):
    """Independent Gaussian features, each column scaled and moved apart
    (``factor``: the weight of a factor they all share)."""
    X = rng.normal(size=(n_samples, n_features))
    X += factor * rng.normal(size=(n_samples, 1))
    return X * np.logspace(-2, 2, n_features) + np.linspace(-50, 50, n_features)


@pytest.mark.parametrize("seed", range(5))
def test_a_sample_tells_correlated_features_from_independent_ones(seed):
    rng = np.random.RandomState(seed)
    for n_samples, n_features in [(50, 3), (600, 30), (5000, 200)]:
        X = independent(rng, n_samples, n_features)
        assert not features_correlated(make_objective(rng, 1, X=X))
        # One shared factor, a correlation of 0.5 between any two features.
        X = independent(rng, n_samples, n_features, factor=1.0)
        assert features_correlated(make_objective(rng, 1, X=X))
    # The sample is taken in float64 from any precision of X; a constant
    # feature counts for none.
    X = independent(rng, 600, 30).astype(np.float32)
    X[:, 3] = 7.0
    assert not features_correlated(make_objective(rng, 1, X=X))
    X[:, 4] = X[:, 5] * 2 + 1  # two features the same
    assert features_correlated(make_objective(rng, 1, X=X))


def test_a_sample_weighted_onto_two_rows_tells_nothing():
    # The sample (every 31st row) has two rows of positive weight, the rows
    # it correlates: independent features count as correlated (the full
    # metric), as they do not with even weights.
    rng = np.random.RandomState(0)
    obj = make_objective(rng, 1, X=independent(rng, 2000, 10))
    assert not features_correlated(obj)
    weights = np.zeros(2000)
    weights[[0, 31]] = 0.5
    assert features_correlated(dataclasses.replace(obj, weights=weights))
    weights = np.zeros(2000)  # no sampled row weighs anything
    weights[1] = 1.0
    assert features_correlated(dataclasses.replace(obj, weights=weights))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_uncorrelated_binary_features_keep_the_variances(n_outputs):
    # The binary full metric's only gain over the variances is the
    # features' correlation: without any, its Gram matrix is not measured.
    rng = np.random.RandomState(0)
    X = independent(rng, 2000, 40)
    plan = make_plan(make_objective(rng, n_outputs, X=X), "auto", "nesterov")
    if n_outputs == 1:
        assert (plan.metric, plan.remeasured) == ("diagonal", "none")
        assert plan.accelerated and plan.conjugate
    else:  # the multinomial metric couples the classes too
        assert plan.metric == "full" and plan.remeasured != "none"
    correlated = independent(rng, 2000, 40, factor=0.5)
    assert (
        make_plan(make_objective(rng, 1, X=correlated), "auto", "nesterov").metric
        == "full"
    )
    # On a sample of a tall X's rows the full metric costs about a pass.
    tall = independent(rng, 3 * MIN_METRIC_ROWS, 5)
    plan = make_plan(make_objective(rng, 1, X=tall), "auto", "nesterov")
    assert plan.metric == "full" and plan.metric_stride > 1
    # Plain steps would not follow the curvature as it reshapes: they keep
    # the full metric, measured again.
    plan = make_plan(make_objective(rng, 1, X=X), "auto", "gd")
    assert (plan.metric, plan.remeasured) == ("full", "curvature")


def test_a_tall_X_keeps_the_full_metric_in_every_array_library():
    # A numpy X of this shape measures the full metric on a sample of its
    # rows; another library's X, on every row, takes the same plan's kind.
    xp = pytest.importorskip("array_api_strict")
    rng = np.random.RandomState(0)
    X = independent(rng, 3 * MIN_METRIC_ROWS, 5)
    for data in (X, xp.asarray(X)):
        plan = make_plan(make_objective(rng, 1, X=data), "auto", "nesterov")
        assert plan.metric == "full"


@pytest.mark.parametrize("C", [0.01, 1.0, 100.0])
def test_uncorrelated_binary_features_reach_scikit_learns_minimum(C, monkeypatch):
    rng = np.random.RandomState(1)
    X = independent(rng, 1500, 60)
    scores = (X - X.mean(axis=0)) / X.std(axis=0) @ rng.normal(size=60) / 4
    y = (rng.uniform(size=1500) < 1 / (1 + np.exp(-scores))).astype(int)
    plans = []
    made = GradientDescentLogisticRegression._plan
    monkeypatch.setattr(
        GradientDescentLogisticRegression,
        "_plan",
        lambda self, *args: plans.append(made(self, *args)) or plans[-1],
    )
    ours = GradientDescentLogisticRegression(C=C, tol=1e-10, max_iter=5000).fit(X, y)
    assert [plan.metric for plan in plans] == ["diagonal"]
    reference = LogisticRegression(
        C=C, tol=1e-12, max_iter=100_000, solver="newton-cholesky"
    ).fit(X, y)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(
        ours.coef_, reference.coef_, rtol=1e-6, atol=1e-7 * scale
    )
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-6)


def test_a_constant_step_is_the_notebooks_gradient_descent(rng):
    plan = make_plan(objective(rng), 0.5, "gd")
    assert not (plan.adaptive or plan.accelerated)
    assert plan.first_step == 0.5
    assert (plan.metric, plan.remeasured) == ("diagonal", "none")


def test_an_l1_term_keeps_the_diagonal_metric(rng):
    # Its proximal step needs a diagonal metric.
    plan = make_plan(objective(rng, l1=0.1), "auto", "nesterov")
    assert (plan.metric, plan.remeasured) == ("diagonal", "none")


@pytest.mark.parametrize(
    ("n_features", "n_outputs", "remeasured"),
    [(5, 3, "class_coupled"), (64, 10, "class_blocks"), (5, 1, "curvature")],
)
def test_the_metric_measured_again_follows_the_number_of_coefficients(
    rng, n_features, n_outputs, remeasured
):
    # The classes coupled while their Hessian is small, else its blocks.
    plan = make_plan(
        objective(rng, n_features=n_features, n_outputs=n_outputs), "auto", "nesterov"
    )
    assert plan.remeasured == remeasured


@pytest.mark.parametrize(
    ("n_samples", "remeasured", "stride"),
    [(200, "class_blocks", 1), (40_000, "class_coupled", 2)],
)
def test_the_classes_are_coupled_where_their_hessian_costs_about_a_pass(
    rng, n_samples, remeasured, stride
):
    # 5 classes of 21 coefficients: more than SMALL_METRIC coupled. On every
    # row of a small X that costs many passes (its blocks do not); on a
    # sample of a tall X's rows, about one.
    plan = make_plan(
        objective(rng, n_samples=n_samples, n_features=20, n_outputs=5),
        "auto",
        "nesterov",
    )
    assert (plan.remeasured, plan.remeasured_stride) == (remeasured, stride)
    assert plan.remetric_factor == SMALL_REMETRIC_FACTOR


def test_class_blocks_in_place_of_the_coupled_hessian_reach_its_minimum(rng):
    # 5 classes of 21 coefficients on 300 rows: the plan measures the class
    # blocks (above); the model is still scikit-learn's.
    X = rng.normal(size=(300, 20))
    y = np.argmax(X @ rng.normal(size=(20, 5)) + rng.gumbel(size=(300, 5)), axis=1)
    ours = GradientDescentLogisticRegression(tol=1e-10, max_iter=5000).fit(X, y)
    # newton-cholesky: lbfgs at tol=1e-12 stops about 1e-7 short of it.
    reference = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    np.testing.assert_allclose(
        ours.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-8
    )


@pytest.mark.parametrize("n_outputs", [1, 4])
def test_narrow_dense_X_takes_plain_steps_in_the_remeasured_metric(rng, n_outputs):
    # Its scores (3 arrays of 8 bytes a sample and class) are neither a
    # tenth of X (40 bytes a row) nor 2 MiB: no conjugate directions, and in
    # the full metric measured again at the curvature, no momentum (a
    # second point a pass for about as many iterations).
    narrow = objective(rng, n_samples=100_000, n_features=5, n_outputs=n_outputs)
    plan = make_plan(narrow, "auto", "nesterov")
    assert (plan.metric, plan.conjugate, plan.keep_scores) == ("full", False, False)
    assert plan.remeasured != "none"
    assert not plan.accelerated
    # Without a metric measured again (its bound alone), momentum stays.
    bound_only = dataclasses.replace(plan, accelerated=True, remeasured="none")
    assert not _momentum_costs_more_than_it_saves(bound_only, narrow)
    # A small X keeps its scores: conjugate directions, which need momentum.
    assert make_plan(objective(rng, n_outputs=n_outputs), "auto", "nesterov").conjugate


def test_one_hot_sparse_X_keeps_each_features_covariance(rng):
    X = one_hot(rng, n_samples=80)
    plan = make_plan(make_objective(rng, 1, X=X), "auto", "nesterov")
    assert plan.metric == "groups"
    assert plan.groups == (0, 3, 8, 10)  # the levels (3, 5, 2)
    # Without an intercept, or on other sparse data: the diagonal.
    no_intercept = make_objective(rng, 1, X=X, fit_intercept=False)
    assert make_plan(no_intercept, "auto", "nesterov").metric == "diagonal"
    text = make_objective(rng, 1, X=sp.random(80, 30, density=0.1, random_state=0))
    assert make_plan(text, "auto", "nesterov").metric == "diagonal"


def test_wide_dense_X_keeps_the_scores_in_the_low_rank_metric(rng):
    # ... corrected along the common factors the sketch finds, if any (see
    # test_metrics' low-rank tests): on a numpy X, where the steps minimise
    # over a subspace; plain steps (solver="gd") keep the diagonal.
    wide = objective(rng, n_samples=50, n_features=MAX_DECORRELATED_FEATURES + 1)
    plan = make_plan(wide, "auto", "nesterov")
    assert plan.keep_scores and plan.metric == "low_rank" and plan.history
    assert make_plan(wide, "auto", "gd").metric == "diagonal"
    # Not with too few features per class (plain steps: conjugate
    # directions keep a small X's scores whatever its width).
    many = objective(rng, n_samples=50, n_features=300, n_outputs=3)
    assert not make_plan(many, "auto", "gd").keep_scores


def sparse_rows(rng, n_samples, per_row):
    """A CSR X of ``per_row`` entries a row."""
    d = 2 * per_row
    indices = np.sort(rng.rand(n_samples, d).argsort(axis=1)[:, :per_row], axis=1)
    data = rng.normal(size=indices.size)
    indptr = np.arange(n_samples + 1) * per_row
    return sp.csr_matrix((data, indices.ravel(), indptr), shape=(n_samples, d))


def test_sparse_X_keeps_the_scores_where_they_are_small(rng):
    """A sparse X keeps each point's scores where those the solver holds
    take at most a tenth of X, or fit a small block: conjugate directions
    (a smooth fit with momentum) hold fewer of them than accelerated steps
    (here plain ones, solver="gd")."""
    small = make_objective(rng, 1, X=sparse_rows(rng, 200, 3))
    for solver in ("nesterov", "gd"):
        assert make_plan(small, "auto", solver).keep_scores
    assert make_plan(small, "auto", "nesterov").conjugate
    assert not make_plan(small, "auto", "gd").conjugate
    # Past a small block: where a row has few entries (the scores held are
    # large next to X), not kept; where it has many, kept. A row of 8 bytes
    # and an index of 4 each entry: the conjugate rule keeps them from 20
    # entries a row (3 arrays), the other from 80 (12 arrays).
    n = SMALL_KEPT_SCORES // (CONJUGATE_SCORE_ARRAYS * 8) + 1_000
    for per_row, conjugate, other in [
        (2, False, False),
        (40, True, False),
        (100, True, True),
    ]:
        objective = make_objective(rng, 1, X=sparse_rows(rng, n, per_row))
        # In blocks (not one, whose pass holds every row's scores anyway).
        blocked = backend_for(objective.backend.X, block_bytes=2**16)
        objective = dataclasses.replace(objective, backend=blocked)
        plan = make_plan(objective, "auto", "nesterov")
        assert plan.keep_scores == plan.conjugate == conjugate, per_row
        assert make_plan(objective, "auto", "gd").keep_scores == other, per_row


def rare_positives(rng, n_samples=1_500, levels=(60,) * 8):
    """One-hot X whose positives are rare (about 5%): at a weak penalty most rows
    come to be predicted with confidence, unevenly across the levels."""
    X = one_hot(rng, levels=levels, n_samples=n_samples)
    effects = rng.normal(size=X.shape[1])
    scores = X @ effects - 5.5
    y = (rng.uniform(size=n_samples) < 1 / (1 + np.exp(-scores))).astype(int)
    return X, y


def sparse_objective(X, y, C, n_outputs=1):
    weights = np.full(X.shape[0], 1 / X.shape[0])
    return LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=weights,
        n_outputs=n_outputs,
        fit_intercept=True,
        l2=1 / (C * X.shape[0]),
        l1=0.0,
    )


def test_a_sparse_X_measures_its_metric_again_where_it_reshapes(rng):
    """On a sparse X the diagonal (or groups) metric is measured again at
    the curvature, and taken only where it reshapes the one in use: with rare
    positives at a weak penalty, near the minimum; where the curvature is
    still the bound's shape (at zero), never, and none is measured again."""
    X, y = rare_positives(rng)
    obj = sparse_objective(X, y, C=30.0)
    plan = make_plan(obj, "auto", "nesterov")
    assert (plan.metric, plan.remeasured) == ("groups", "curvature")
    assert plan.keep_momentum and plan.finish_within == 0
    assert plan.remetric_factor == SMALL_REMETRIC_FACTOR
    geometry, _ = first_geometry(obj, np.float64, plan)
    reference = LogisticRegression(C=30.0, tol=1e-10, max_iter=10_000).fit(X, y)
    minimum = np.append(reference.coef_[0], reference.intercept_)[:, None]
    remetric = remeasure(obj, np.float64, geometry, plan)
    metric, step = remetric(minimum)
    assert metric is not geometry and step == 1 / metric.curvature
    assert _mismatch(metric, geometry) >= RESHAPED
    # At zero the curvature is the bound's (a multiple of it): the one in
    # use is kept with its step, and no pass is made from then on.
    remetric = remeasure(obj, np.float64, geometry, plan)
    assert remetric(np.zeros_like(minimum)) == (geometry, None)
    with counted_passes() as passes:
        assert remetric(minimum) == (geometry, None)
    assert not passes
    assert _mismatch(geometry, geometry) == pytest.approx(1.0)


def test_rare_positives_at_a_weak_penalty_reach_scikit_learns_minimum(rng):
    """The metric measured again (momentum kept across it) and the kept
    scores of a small sparse X move no minimum, and save steps: fewer
    than with the first metric throughout."""
    X, y = rare_positives(rng)
    obj = sparse_objective(X, y, C=30.0)
    plan = make_plan(obj, "auto", "nesterov")
    assert plan.keep_scores
    coef0 = np.zeros((X.shape[1] + 1, 1))
    result = solve(obj, plan, coef0, max_iter=10_000, tol=1e-9)
    first_only = dataclasses.replace(plan, remeasured="none")
    slower = solve(obj, first_only, coef0, max_iter=10_000, tol=1e-9)
    assert result.status == slower.status == "converged"
    reference = LogisticRegression(C=30.0, tol=1e-12, max_iter=10_000).fit(X, y)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(
        result.coef[:-1, 0], reference.coef_[0], atol=1e-5 * scale
    )
    np.testing.assert_allclose(result.coef[-1], reference.intercept_, atol=1e-5 * scale)
    assert result.n_iter < slower.n_iter


def rare_classes(rng, n_samples=3_000, levels=(12,) * 6):
    """One-hot X and five classes whose priors fall from 1 to 1/100."""
    X = one_hot(rng, levels=levels, n_samples=n_samples)
    priors = np.log([1.0, 0.3, 0.1, 0.03, 0.01])
    scores = X @ rng.normal(size=(X.shape[1], 5)) + priors
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    return X, y


def test_rare_classes_of_a_sparse_X_take_each_classs_curvature(rng):
    """Multinomial on a sparse X, the metric measured again is each class's
    curvature (``ClassCurvatureMetric``): with classes of priors far apart
    it reaches scikit-learn's minimum in fewer steps than the metric shared
    by all classes, in the plan's own loop (conjugate directions on this
    small X) and in accelerated steps."""
    X, y = rare_classes(rng)
    C = 30.0
    obj = sparse_objective(X, y, C, n_outputs=5)
    plan = make_plan(obj, "auto", "nesterov")
    assert (plan.metric, plan.remeasured) == ("groups", "class_curvature")
    reference = LogisticRegression(
        C=C, solver="newton-cholesky", tol=1e-12, max_iter=1_000
    ).fit(X, y)
    scale = np.abs(reference.coef_).max()
    minimum = np.vstack([reference.coef_.T, reference.intercept_])
    geometry, _ = first_geometry(obj, np.float64, plan)
    metric, step = remeasure(obj, np.float64, geometry, plan)(minimum)
    assert isinstance(metric, ClassCurvatureMetric) and step == 1.0
    assert _mismatch(metric, geometry) >= RESHAPED
    coef0 = np.zeros((X.shape[1] + 1, 5))
    for loop in (plan, dataclasses.replace(plan, conjugate=False, keep_scores=False)):
        result = solve(obj, loop, coef0, max_iter=10_000, tol=1e-9)
        shared = dataclasses.replace(loop, remeasured="curvature")
        slower = solve(obj, shared, coef0, max_iter=10_000, tol=1e-9)
        assert result.status == slower.status == "converged"
        np.testing.assert_allclose(
            result.coef[:-1], reference.coef_.T, atol=1e-5 * scale
        )
        np.testing.assert_allclose(
            result.coef[-1], reference.intercept_, atol=1e-5 * scale
        )
        assert result.n_iter < slower.n_iter


def test_a_tall_X_measures_its_metrics_on_a_sample_of_the_rows(rng):
    tall = objective(rng, n_samples=40_000, n_features=4)
    plan = make_plan(tall, "auto", "nesterov")
    assert plan.metric_stride == plan.remeasured_stride == 40_000 // 8192
    # Such a metric costs about a pass: measured often, to the end (or
    # until it settles: see below).
    assert (plan.remetric_factor, plan.finish_within) == (SMALL_REMETRIC_FACTOR, 0)
    # Many coefficients of all the rows: measured less often.
    wide = objective(rng, n_samples=300, n_features=100)
    assert make_plan(wide, "auto", "nesterov").remetric_factor == REMETRIC_FACTOR


@pytest.mark.parametrize(
    "n_outputs, remeasured",
    [(1, "curvature"), (3, "class_coupled"), (3, "class_blocks")],
)
def test_a_sampled_metric_is_the_last_once_it_has_settled(rng, n_outputs, remeasured):
    """A metric of a sample of the rows is off the Hessian by the sample's
    error: once two in a row differ by less than that, no more is measured
    (the one in use goes on, its directions kept); a metric of every row is
    measured whenever asked."""
    tall = objective(rng, n_samples=40_000, n_features=4, n_outputs=n_outputs)
    plan = dataclasses.replace(
        make_plan(tall, "auto", "nesterov"), remeasured=remeasured
    )
    assert plan.remeasured_stride == 40_000 // 8192
    coef = 0.3 * rng.normal(size=(5, n_outputs))
    far = 4 * coef

    def asked(remetric, at):
        with counted_passes() as passes:
            update = remetric(at)
        return update, sum(passes.values())

    geometry, _ = first_geometry(tall, np.float64, plan)
    remetric = remeasure(tall, np.float64, geometry, plan)
    # Far apart: not settled; the same point twice: settled (the second one
    # is taken, with its step), and then the one in use goes on.
    for at in (coef, far, far):
        update, passes = asked(remetric, at)
        assert passes == 1 and update[1] is not None
    (last, step), passes = asked(remetric, coef)
    assert passes == 0 and last is update[0] and step is None
    # Every row: measured whenever asked, the same point or not.
    every = dataclasses.replace(plan, metric_stride=1, remeasured_stride=1)
    remetric = remeasure(tall, np.float64, geometry, every)
    for at in (far, far, coef):
        update, passes = asked(remetric, at)
        assert passes == 1 and update[1] is not None


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_settled_sampled_metric_reaches_scikit_learns_minimum(
    rng, monkeypatch, n_classes
):
    X = rng.normal(size=(40_000, 4)) * [1.0, 3.0, 0.3, 10.0] + 2.0
    scores = X @ rng.normal(size=(4, n_classes))
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    asked = []

    def counted(*args):  # the fit's remetric, each call counted
        remetric = remeasure(*args)
        return lambda coef: asked.append(coef) or remetric(coef)

    monkeypatch.setattr(_plan, "remeasure", counted)
    with counted_passes() as passes:
        fitted = GradientDescentLogisticRegression(tol=1e-10).fit(X, y)
    reference = LogisticRegression(tol=1e-12, max_iter=10_000).fit(X, y)
    # Its metrics are of a sample of the rows: asked for more often than
    # measured, once settled (see above); the minimum is all the rows'.
    measured = passes["information_matrix"] + passes["curvature_moments"]
    assert 0 < measured < len(asked)
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(fitted.coef_, reference.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(
        fitted.intercept_, reference.intercept_, atol=1e-6 * scale
    )


@pytest.mark.parametrize(
    "n_samples, n_classes, expected",
    [(300, 3, True), (300, 2, False), (40_000, 3, False)],
)
def test_lines_keep_residuals_of_small_multinomial_scores(
    rng, n_samples, n_classes, expected
):
    """Multinomial lines keep residuals where the arrays of scores held are
    small; binary ones, and larger scores, take their slopes in slices."""
    n_outputs = 1 if n_classes == 2 else n_classes
    obj = objective(rng, n_samples=n_samples, n_features=200, n_outputs=n_outputs)
    plan = make_plan(obj, "auto", "nesterov")
    assert plan.conjugate and not plan.history
    assert plan.line_residuals is expected
    held = CONJUGATE_SCORE_ARRAYS * n_samples * n_outputs * 8
    assert expected == (n_classes > 2 and held <= SMALL_KEPT_SCORES)


def test_describe_names_every_field(rng):
    plan = make_plan(objective(rng), "auto", "nesterov")
    text = plan.describe()
    for field in dataclasses.fields(FitPlan):
        if field.name != "groups":
            assert f"{field.name}=" in text


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"metric": "diagonal", "remeasured": "none"},
        {"keep_scores": True},
        {"accelerated": False},
        {"remeasured": "none"},
    ],
)
def test_every_path_reaches_the_same_minimum(rng, changes):
    # A plan picks the path; the minimum is the objective's: scikit-learn's.
    obj = objective(rng, n_samples=300, n_features=6, l2=1 / 300)
    X, y = obj.backend.X, obj.y
    plan = dataclasses.replace(make_plan(obj, "auto", "nesterov"), **changes)
    result = solve(obj, plan, np.zeros((7, 1)), max_iter=5000, tol=1e-10)
    assert result.status == "converged"
    reference = LogisticRegression(tol=1e-12, max_iter=10_000, C=1.0).fit(
        X, y, sample_weight=obj.weights * len(y)
    )
    np.testing.assert_allclose(result.coef[:-1, 0], reference.coef_[0], rtol=1e-6)
    np.testing.assert_allclose(result.coef[-1], reference.intercept_, rtol=1e-6)


def test_a_warm_start_measures_the_metric_where_it_starts(rng):
    obj = objective(rng)
    start = np.zeros((6, 1))
    assert not make_plan(obj, "auto", "nesterov", start).measure_at_start
    start[0] = 0.5
    assert make_plan(obj, "auto", "nesterov", start).measure_at_start
    # Only where the metric is measured again at all.
    assert not make_plan(obj, 0.5, "gd", start).measure_at_start


def test_a_warm_started_path_takes_fewer_iterations_than_cold_fits():
    # Along a path of C (as the CV estimator walks it), each fit starts at
    # the last one's minimum: the metric is measured there, not at zero (the
    # bound at zero is far from the curvature near a confident model). The
    # same models as cold fits, in fewer iterations.
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    warm = GradientDescentLogisticRegression(warm_start=True, tol=1e-8)
    warm_iterations, cold_iterations = 0, 0
    for C in np.logspace(-2, 3, 6):
        warm.set_params(C=C).fit(X, y)
        cold = GradientDescentLogisticRegression(C=C, tol=1e-8).fit(X, y)
        warm_iterations += warm.n_iter_
        cold_iterations += cold.n_iter_
        scale = np.abs(cold.coef_).max()
        np.testing.assert_allclose(warm.coef_, cold.coef_, atol=1e-5 * scale)
    assert warm_iterations < cold_iterations


@pytest.mark.parametrize("kind", ["dense", "sparse"])
def test_a_sparse_fit_holds_blas_on_one_thread_throughout(rng, kind):
    # Between its passes a sparse fit works on vectors, where BLAS threads
    # woken would spin on the cores its passes need: BLAS stays on one
    # thread for the whole solve, and gets its threads back after it. A
    # dense fit's BLAS keeps them between its passes.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    X = rng.normal(size=(300, 6))
    obj = make_objective(rng, 1, X=sp.csr_matrix(X) if kind == "sparse" else X)
    plan = make_plan(obj, "auto", "nesterov")
    seen = []

    def blas_threads():
        return {
            info["num_threads"]
            for info in threadpoolctl.threadpool_info()
            if info["user_api"] == "blas"
        }

    def callback(*args):
        seen.append(blas_threads())

    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        solve(obj, plan, np.zeros((7, 1)), max_iter=50, tol=1e-8, callback=callback)
        assert blas_threads() == before
    if before != {2}:
        pytest.skip("BLAS here cannot run two threads")
    assert seen and all(
        threads == ({1} if kind == "sparse" else {2}) for threads in seen
    )


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_wide_correlated_X_takes_fewer_steps_in_the_low_rank_metric(n_outputs):
    # Past MAX_DECORRELATED_FEATURES, features sharing three strong common
    # factors: the diagonal metric crawls across them; corrected along the
    # directions the sketch finds, the subspace steps reach tol in under
    # half as many iterations (about a third here), at the same minimum.
    rng = np.random.RandomState(0)
    n, d = 1500, MAX_DECORRELATED_FEATURES + 44
    X = 3 * rng.normal(size=(n, 3)) @ rng.normal(size=(3, d)) + rng.normal(size=(n, d))
    obj = make_objective(rng, n_outputs, X=X, l2=1e-3)
    plan = make_plan(obj, "auto", "nesterov")
    assert plan.metric == "low_rank"
    coef0 = np.zeros((d + 1, n_outputs))
    low_rank = solve(obj, plan, coef0, max_iter=5000, tol=1e-8)
    diagonal = dataclasses.replace(plan, metric="diagonal")
    slow = solve(obj, diagonal, coef0, max_iter=5000, tol=1e-8)
    assert low_rank.status == slow.status == "converged"
    assert slow.n_iter >= 2 * low_rank.n_iter
    y = rng.randint(n_outputs + (n_outputs == 1), size=n)
    ours = GradientDescentLogisticRegression(C=0.1, tol=1e-8).fit(X, y)
    reference = LogisticRegression(C=0.1, solver="newton-cholesky", tol=1e-12)
    reference.fit(X, y)
    np.testing.assert_allclose(
        ours.predict_proba(X), reference.predict_proba(X), rtol=0, atol=1e-6
    )


@pytest.mark.parametrize(
    "kind",
    [
        "dense",
        "dense float32",
        "wide dense",
        "tall dense",
        "sparse",
        "3 classes",
        "offset",
        "weights",
    ],
)
def test_a_fit_from_zero_takes_its_first_gradient_from_the_moments_read(
    rng, monkeypatch, kind
):
    from sklearn_gdlogreg._backends._kinds import DenseBackend

    # At zero the scores read nothing of X, so the first moments' read of a
    # dense X makes the start's X^T R too: one read of X fewer (a transposed
    # product), and the same iterates up to rounding. A tall X's full metric
    # is measured on a sample of its rows: the products come from the read
    # of every row. A warm start reads as before, as does a sparse X (its
    # X^T R costs less in a read of its own).
    n_samples = 40_000 if kind == "tall dense" else 400
    n_features = 300 if kind == "wide dense" else 6
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 3, n_features)
    noise = rng.normal(size=n_samples)
    y = (X[:, :3] @ [1.0, -2.0, 0.5] + noise > 0).astype(int)
    fit_params = {}
    if kind == "dense float32":
        X = X.astype(np.float32)
    elif kind == "sparse":
        X[rng.uniform(size=X.shape) < 0.7] = 0
        X = sp.csr_matrix(X)
    elif kind == "3 classes":
        y = y + (X[:, 3] > 0.5)
    elif kind == "offset":
        fit_params["offset"] = rng.normal(size=n_samples)
    elif kind == "weights":  # some of none: their residual is zero too
        fit_params["sample_weight"] = rng.uniform(0, 2, n_samples) * (noise > -1)

    def three_iterations():
        model = GradientDescentLogisticRegression(max_iter=3, warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            with counted_passes() as passes:
                model.fit(X, y, **fit_params)
            cold, fitted = dict(passes), copy.deepcopy(model)
            with counted_passes() as passes:
                model.fit(X, y, **fit_params)  # from the last fit's coefficients
        return fitted, cold, dict(passes)

    fused, fused_cold, fused_warm = three_iterations()
    # X^T R in a read of its own, as other kinds of X take it.
    monkeypatch.setattr(DenseBackend, "moments_products", False)
    plain, plain_cold, plain_warm = three_iterations()
    assert fused.n_iter_ == plain.n_iter_ == 3
    saved = 0 if kind == "sparse" else 1
    assert fused_cold["transposed_product"] == plain_cold["transposed_product"] - saved
    # A tall X's full metric: one more read, of a sample of the rows.
    reads = 2 if kind == "tall dense" else 1
    assert fused_cold["column_moments"] == plain_cold["column_moments"] == reads
    assert fused_warm == plain_warm

    rtol = 1e-4 if kind == "dense float32" else 1e-9
    scale = np.abs(plain.coef_).max()
    np.testing.assert_allclose(fused.coef_, plain.coef_, rtol=0, atol=rtol * scale)
    np.testing.assert_allclose(
        fused.intercept_, plain.intercept_, rtol=0, atol=rtol * (1 + scale)
    )


@pytest.mark.parametrize("solver", ["nesterov", "gd"])  # conjugate, plain steps
def test_no_metric_is_measured_after_the_last_iteration(rng, solver):
    # The Hessian measured again as the fit converges is for the steps that
    # follow: a fit that max_iter ends measures none after its last step,
    # and its iterates are those of a longer fit.
    obj = objective(rng, n_samples=500, n_features=8)
    plan = make_plan(obj, "auto", solver)
    assert plan.remeasured == "curvature"
    start = np.zeros((9, 1))

    def run(max_iter):
        iterates = []

        def keep(n_iter, coef, *args):
            iterates.append(coef.copy())

        with counted_passes() as passes:
            solve(obj, plan, start, max_iter=max_iter, tol=1e-12, callback=keep)
        return iterates, passes["curvature_moments"]

    runs = [run(max_iter) for max_iter in range(1, 7)]
    measured = [count for _, count in runs]
    assert measured[0] == 0 and measured[-1] > 0
    # One step more measures at most one metric more: the one it takes.
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(measured))
    longest = runs[-1][0]
    for iterates, _ in runs:
        assert len(iterates) <= len(longest)
        for got, expected in zip(iterates, longest[: len(iterates)], strict=True):
            np.testing.assert_array_equal(got, expected)
