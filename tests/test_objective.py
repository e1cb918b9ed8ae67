"""The objective: finite-difference gradients, stability, and the geometry."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

from conftest import one_hot
from sklearn_gdlogreg._objective import (
    ClassBlockMetric,
    ClassCoupledMetric,
    Geometry,
    LogisticObjective,
    _cholesky_with_jitter,
    binary_pointwise,
    metric_rows,
    multinomial_pointwise,
)


def make_objective(rng, n_outputs, fit_intercept=True, l2=0.1, l1=0.0, X=None):
    n_samples, n_features = 40, 4
    if X is None:
        X = rng.normal(size=(n_samples, n_features)) * [1, 3, 0.5, 10] + [0, 5, 0, -2]
    n_classes = 2 if n_outputs == 1 else n_outputs
    y = rng.randint(n_classes, size=X.shape[0])
    weights = rng.uniform(0.1, 2, size=X.shape[0])
    return LogisticObjective(
        X=X,
        y=y,
        weights=weights / weights.sum(),
        n_outputs=n_outputs,
        fit_intercept=fit_intercept,
        l2=l2,
        l1=l1,
    )


def coef_shape(obj):
    return (obj.n_features + obj.fit_intercept, obj.n_outputs)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_block_pass_equals_the_blocked_pass(rng, n_outputs, fit_intercept, dtype):
    # An X of one block takes its points stacked (_stacked_values_and_grads);
    # blocks of 8 rows take the general pass: the same values and gradients,
    # one point or two, and the gradients each point's own.
    obj = make_objective(rng, n_outputs, fit_intercept=fit_intercept, l2=0.3)
    obj = dataclasses.replace(obj, X=obj.X.astype(dtype))
    blocked = dataclasses.replace(obj, block_bytes=8 * obj.X.shape[1] * obj.X.itemsize)
    coefs = [rng.normal(size=coef_shape(obj)).astype(dtype) for _ in range(2)]
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for points in (coefs[:1], coefs):
        got, expected = obj.values_and_grads(points), blocked.values_and_grads(points)
        for (value, grad), (value_b, grad_b), coef in zip(
            got, expected, points, strict=True
        ):
            assert value == pytest.approx(value_b, rel=rtol)
            assert grad.shape == coef.shape and grad.dtype == dtype
            np.testing.assert_allclose(grad, grad_b, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_value_and_grad_at_scores_equal_the_pass(rng, n_outputs, fit_intercept, dtype):
    # What the solver uses with kept scores: scores(coef) is X W + b, and the
    # value and gradient at those scores are the pass's; the scores are left
    # as they were, and no gradient is computed unless asked for.
    X = rng.normal(size=(50, 7)) * [1, 3, 0.5, 10, 1, 2, 1] + [0, 5, 0, -2, 1, 0, 3]
    obj = make_objective(rng, n_outputs, fit_intercept=fit_intercept, l2=0.3, X=X)
    obj = dataclasses.replace(obj, X=obj.X.astype(dtype))
    coef = rng.normal(scale=0.3, size=coef_shape(obj)).astype(dtype)
    W, b = obj.split(coef)
    scores = obj.scores(coef)
    expected_scores = (obj.X.astype(np.float64) @ W + b).reshape(scores.shape)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    assert scores.dtype == dtype
    np.testing.assert_allclose(scores, expected_scores, rtol=rtol, atol=rtol)
    kept = scores.copy()
    value, grad = obj.value_and_grad_at(coef, scores)
    value_only, none = obj.value_and_grad_at(coef, scores, grad=False)
    ((expected_value, expected_grad),) = obj.values_and_grads([coef])
    np.testing.assert_array_equal(scores, kept)
    assert none is None and value_only == value
    assert value == pytest.approx(expected_value, rel=rtol)
    assert grad.shape == coef.shape and grad.dtype == dtype
    np.testing.assert_allclose(grad, expected_grad, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_gradient_matches_finite_differences(rng, n_outputs, fit_intercept, l2):
    obj = make_objective(rng, n_outputs, fit_intercept, l2)
    shape = coef_shape(obj)

    def value(flat):
        return obj.value_and_grad(flat.reshape(shape))[0]

    def grad(flat):
        return obj.value_and_grad(flat.reshape(shape))[1].ravel()

    for _ in range(3):
        coef = rng.normal(scale=0.3, size=shape).ravel()
        error = check_grad(value, grad, coef, epsilon=1e-7)
        assert error < 1e-6 * max(1.0, np.linalg.norm(grad(coef)))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_value_matches_direct_formula(rng, n_outputs):
    obj = make_objective(rng, n_outputs, l2=0.2)
    # Moderate margins: the naive formula below loses digits in log(1 - p).
    coef = rng.normal(scale=0.1, size=coef_shape(obj))
    W, b = coef[:-1], coef[-1]
    Z = obj.X @ W + b
    if n_outputs == 1:
        p = 1 / (1 + np.exp(-Z[:, 0]))
        losses = -(obj.y * np.log(p) + (1 - obj.y) * np.log(1 - p))
    else:
        P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
        losses = -np.log(P[np.arange(len(obj.y)), obj.y])
    expected = obj.weights @ losses + 0.1 * (W**2).sum()
    np.testing.assert_allclose(obj.value_and_grad(coef)[0], expected, rtol=1e-12)


def test_notebook_backprop_is_not_the_gradient(rng):
    # The notebook multiplied the residual by sigmoid'(residual); the true
    # gradient of the log-loss is X^T (p - y). Check both against finite
    # differences: ours agrees, the notebook's does not.
    obj = make_objective(rng, 1, fit_intercept=False, l2=0.0)
    coef = rng.normal(size=coef_shape(obj))
    _, grad = obj.value_and_grad(coef)
    residual = 1 / (1 + np.exp(-(obj.X @ coef)[:, 0])) - obj.y
    sigmoid_derivative = (1 / (1 + np.exp(-residual))) * (
        1 - 1 / (1 + np.exp(-residual))
    )
    notebook = obj.X.T @ (obj.weights * sigmoid_derivative * residual)
    ours = obj.X.T @ (obj.weights * residual)
    np.testing.assert_allclose(grad[:, 0], ours, rtol=1e-12)
    assert np.abs(notebook - ours).max() > 0.1 * np.abs(ours).max()


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_huge_margins_give_finite_loss_and_gradient(rng, n_outputs):
    obj = make_objective(rng, n_outputs, l2=0.0)
    coef = np.full(coef_shape(obj), 1e4) * rng.choice([-1, 1], size=coef_shape(obj))
    value, grad = obj.value_and_grad(coef)
    assert np.isfinite(value) and np.isfinite(grad).all()
    assert value > 100  # huge margins on the wrong side cost a lot, not inf


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_sparse_and_dense_give_the_same_pass(rng, n_outputs):
    dense = make_objective(rng, n_outputs)
    sparse = dataclasses.replace(dense, X=sp.csr_matrix(dense.X))
    coef = rng.normal(size=coef_shape(dense))
    for a, b in zip(
        dense.value_and_grad(coef), sparse.value_and_grad(coef), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_blocked_pass_equals_single_block(rng):
    from dataclasses import replace

    obj = make_objective(rng, 3)
    coef = rng.normal(size=coef_shape(obj))
    expected = obj.value_and_grad(coef)
    got = replace(obj, block_bytes=3 * 8 * obj.n_features).value_and_grad(coef)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


@pytest.mark.parametrize("decorrelate", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_geometry_is_a_metric_and_its_inverse(rng, fit_intercept, decorrelate):
    # direction = P g and inner(u, v) = <u, P^-1 v>: so inner(P g, v) = <g, v>
    # for every v that changes the predictions (multinomial: P leaves out the
    # same change to every class's coefficients, so v sums to zero over them).
    obj = make_objective(rng, 3, fit_intercept=fit_intercept)
    geometry = Geometry.for_objective(obj, np.float64, decorrelate=decorrelate)
    assert (geometry.cholesky is not None) == decorrelate
    g, v = rng.normal(size=(2, *coef_shape(obj)))
    v -= v.mean(axis=1, keepdims=True)
    direction = geometry.direction(g)
    np.testing.assert_allclose(geometry.inner(direction, v), np.vdot(g, v), rtol=1e-10)
    np.testing.assert_allclose(direction[: obj.n_features].sum(axis=1), 0, atol=1e-12)
    assert geometry.inner(v, v) > 0


@pytest.mark.parametrize(
    ("off_diagonal", "jitter"), [(0.5, 1e-10), (1 + 1e-9, 1e-8), (2.0, None)]
)
def test_cholesky_takes_the_smallest_jitter_that_factors(off_diagonal, jitter):
    # Eigenvalues 1 +- off_diagonal: positive definite, -1e-9 (1e-10 is not
    # enough, 1e-8 is) and -1 (no jitter up to 1e-2 is).
    matrix = np.array([[1.0, off_diagonal], [off_diagonal, 1.0]])
    jittered, factor = _cholesky_with_jitter(matrix)
    if jitter is None:
        assert jittered is None and factor is None
        return
    np.testing.assert_allclose(jittered, matrix + jitter * np.eye(2), rtol=1e-15)
    assert factor[0, 1] == 0  # lower triangular
    np.testing.assert_allclose(factor @ factor.T, jittered, rtol=1e-12)


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_metric_of_one_hot_features_keeps_each_features_covariance(rng, n_outputs, fmt):
    # The metric of W is the weighted covariance of X's columns within each
    # one-hot feature (zero between features), plus l2 / curvature.
    X = one_hot(rng, n_samples=80).asformat(fmt)
    obj = make_objective(rng, n_outputs, l2=0.02, X=X)
    geometry = Geometry.for_objective(obj, np.float64, decorrelate=True)
    assert geometry.groups is not None
    dense = X.toarray()
    mean = obj.weights @ dense
    covariance = (dense - mean).T @ (obj.weights[:, None] * (dense - mean))
    feature = np.repeat([0, 1, 2], [3, 5, 2])
    metric = np.where(feature[:, None] == feature[None, :], covariance, 0)
    metric += obj.l2 / geometry.curvature * np.eye(10)
    u, v = rng.normal(size=(2, *coef_shape(obj)))
    centred = (u[-1] + mean @ u[:-1]) @ (v[-1] + mean @ v[:-1])
    np.testing.assert_allclose(
        geometry.inner(u, v), np.vdot(u[:-1], metric @ v[:-1]) + centred, rtol=1e-10
    )
    v -= v.mean(axis=1, keepdims=True)  # a change of the predictions
    np.testing.assert_allclose(
        geometry.inner(geometry.direction(u), v), np.vdot(u, v), rtol=1e-8
    )
    # The diagonal metric, and no groups, where the steps are constant.
    plain = Geometry.for_objective(obj, np.float64, decorrelate=False)
    assert plain.groups is None


def test_prox_soft_thresholds_and_keeps_centred_intercept(rng):
    obj = make_objective(rng, 1, l2=0.0, l1=0.05)
    geometry = Geometry.for_objective(obj, np.float64)
    coef = rng.normal(scale=0.1, size=coef_shape(obj))
    out = geometry.prox(coef, step=1.0)
    d = obj.n_features
    threshold = 0.05 / geometry.scale
    expected = np.sign(coef[:d]) * np.maximum(np.abs(coef[:d]) - threshold, 0)
    np.testing.assert_allclose(out[:d], expected)
    # The centred intercept b + mean @ W is unchanged by the prox.
    np.testing.assert_allclose(
        out[d] + geometry.mean @ out[:d], coef[d] + geometry.mean @ coef[:d]
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_reference_objective_is_log_loss_plus_penalty_and_our_loss_curve(n_classes):
    """The tests' and benchmarks' reference (written from the formula) is
    scikit-learn's weighted log-loss plus the penalty, and the objective
    that the estimator reports."""
    from sklearn.datasets import make_classification
    from sklearn.metrics import log_loss

    from sklearn_gdlogreg import GradientDescentLogisticRegression
    from sklearn_gdlogreg._reference import reference_objective

    X, y = make_classification(
        n_samples=200, n_features=5, n_informative=3, n_classes=n_classes,
        random_state=0,
    )  # fmt: skip
    weights = np.random.RandomState(1).uniform(0.5, 2, size=len(y))
    clf = GradientDescentLogisticRegression(C=0.3, l1_ratio=0.25).fit(X, y, weights)
    penalty = (0.75 / 2 * (clf.coef_**2).sum() + 0.25 * np.abs(clf.coef_).sum()) / (
        0.3 * weights.sum()
    )
    expected = log_loss(y, clf.predict_proba(X), sample_weight=weights) + penalty
    value = reference_objective(clf, X, y, sample_weight=weights)
    assert value == pytest.approx(expected, rel=1e-12)
    assert value == pytest.approx(clf.loss_curve_[-1], rel=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_metric_at_the_curvature_is_the_hessian_there(rng, fit_intercept):
    # t * <u, metric v> = u^T H v, H the Hessian of the binary objective at coef.
    obj = make_objective(rng, 1, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    geometry = Geometry.at_curvature(obj, np.float64, coef)
    W, b = obj.split(coef)
    p = 1 / (1 + np.exp(-(obj.X @ W[:, 0] + b[0])))
    X1 = np.hstack([obj.X, np.ones((obj.X.shape[0], 1))])[:, : coef.shape[0]]
    H = X1.T @ ((obj.weights * p * (1 - p))[:, None] * X1)
    H[: obj.n_features, : obj.n_features] += obj.l2 * np.eye(obj.n_features)
    u, v = rng.normal(size=(2, *coef.shape))
    got = geometry.curvature * geometry.inner(u, v)
    np.testing.assert_allclose(got, u[:, 0] @ H @ v[:, 0], rtol=1e-7)
    # A Newton step: the direction of the gradient in this metric, times 1 / t.
    g = rng.normal(size=coef.shape)
    np.testing.assert_allclose(
        geometry.direction(g) / geometry.curvature,
        np.linalg.solve(H, g[:, 0])[:, None],
        rtol=1e-6,
    )


def test_metric_at_a_point_of_certain_predictions_is_none(rng):
    # Every sample predicted with certainty: no curvature at all, no metric
    # (and no division by the zero total weight on the way).
    X = np.repeat([[-1e3], [1e3]], 5, axis=0) + rng.uniform(size=(10, 1))
    y = (X[:, 0] > 0).astype(int)
    obj = LogisticObjective(
        X=X,
        y=y,
        weights=np.full(10, 0.1),
        n_outputs=1,
        fit_intercept=True,
        l2=0.1,
        l1=0.0,
    )
    assert Geometry.at_curvature(obj, np.float64, np.array([[100.0], [0.0]])) is None


def tall_objective(rng, n_outputs):
    """40 000 rows, badly scaled, with one column a combination of two others."""
    X = rng.normal(size=(40_000, 3)) * [1, 10, 0.1] + [0, 5, 0]
    X = np.column_stack([X, X[:, 0] + 0.1 * X[:, 1]])
    return make_objective(rng, n_outputs, X=X, l2=1e-4)


def test_full_metric_of_a_tall_X_comes_from_evenly_spaced_rows(rng):
    obj = tall_objective(rng, 1)
    X, weights, stride = metric_rows(obj.X, obj.weights, obj.n_coefficients)
    assert stride == 40_000 // 8192  # at least MIN_METRIC_ROWS rows
    assert np.shares_memory(X, obj.X) and X.shape[0] == len(range(0, 40_000, stride))
    np.testing.assert_array_equal(X[1], obj.X[stride])
    np.testing.assert_array_equal(weights[1], obj.weights[stride])
    for small in (obj.X[:1279], sp.csr_matrix(obj.X)):  # every row: stride 1
        assert metric_rows(small, obj.weights, obj.n_coefficients)[2] == 1
    # The optimality's units stay exact; the steps' metric is the sample's
    # covariance (plus the penalty), with its own diagonal.
    full = Geometry.for_objective(obj, np.float64, decorrelate=True)
    diagonal = Geometry.for_objective(obj, np.float64)
    np.testing.assert_array_equal(full.scale, diagonal.scale)
    centred = X - weights @ X / weights.sum()
    covariance = centred.T @ (weights[:, None] * centred) / weights.sum()
    covariance += obj.l2 / obj.curvature * np.eye(obj.n_features)
    np.testing.assert_allclose(full._metric(), covariance, rtol=1e-6, atol=1e-9)
    g, v = rng.normal(size=(2, *coef_shape(obj)))
    np.testing.assert_allclose(full.inner(full.direction(g), v), np.vdot(g, v))


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_metric_of_a_tall_X_from_a_sample_is_close_to_the_hessian(rng, n_outputs):
    # The Hessian at a point (binary: Geometry.at_curvature; multinomial: the
    # classes coupled), measured on a sample of the rows and scaled by the
    # stride: within 10% of the Hessian of all the rows, in 50 random
    # directions the loss sees. Without the scaling it is stride times off.
    obj = tall_objective(rng, n_outputs)
    assert metric_rows(obj.X, obj.weights, obj.n_coefficients)[2] > 1
    coef = rng.normal(size=coef_shape(obj)) * 0.3
    if n_outputs == 1:
        metric = Geometry.at_curvature(obj, np.float64, coef)
        curvature = metric.curvature
    else:
        metric = ClassCoupledMetric.at(obj, coef, obj.weights @ obj.X)
        curvature = 1.0
    H = finite_difference_hessian(obj, coef)
    ratios = []
    for _ in range(50):
        u = rng.normal(size=coef.shape)
        u -= u.mean(axis=1, keepdims=True) if n_outputs > 1 else 0
        ratios.append(curvature * metric.inner(u, u) / (u.ravel() @ H @ u.ravel()))
    assert 0.9 < min(ratios) and max(ratios) < 1.1


def finite_difference_hessian(obj, coef, h=1e-5):
    """The Hessian of the smooth objective, by central differences of its
    gradient, over the entries of ``coef`` in C order."""
    columns = []
    for i in range(coef.size):
        step = np.zeros(coef.size)
        step[i] = h
        step = step.reshape(coef.shape)
        plus = obj.value_and_grad(coef + step)[1]
        minus = obj.value_and_grad(coef - step)[1]
        columns.append(((plus - minus) / (2 * h)).ravel())
    return np.array(columns).T


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_class_coupled_metric_is_the_multinomial_hessian(rng, fit_intercept):
    # <u, H v> and H^-1 g for the finite-difference Hessian, in the directions
    # the softmax sees (each row's classes summing to zero: the gradient's).
    obj = make_objective(rng, 3, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    metric = ClassCoupledMetric.at(obj, coef, obj.weights @ obj.X)
    H = finite_difference_hessian(obj, coef)

    def seen(v):  # each row's mean over the classes removed
        return v - v.mean(axis=1, keepdims=True)

    u, v, g = (seen(rng.normal(size=coef.shape)) for _ in range(3))
    np.testing.assert_allclose(metric.inner(u, v), u.ravel() @ H @ v.ravel(), rtol=1e-6)
    direction = metric.direction(g)
    np.testing.assert_allclose((H @ direction.ravel()).reshape(g.shape), g, atol=1e-6)
    size = np.abs(direction).max()
    np.testing.assert_allclose(direction.sum(axis=1), 0, atol=1e-10 * size)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("units", ["float64", "float32"])
def test_class_block_metric_keeps_each_classs_hessian_block(rng, fit_intercept, units):
    obj = make_objective(rng, 4, fit_intercept=fit_intercept, l2=0.05)
    coef = rng.normal(size=coef_shape(obj))
    mean = obj.weights @ obj.X
    # With the features' scales, its products run in float32 in those units
    # (as in a fit): float32's rounding, no more.
    scale = (
        Geometry.for_objective(obj, np.float64).scale if units == "float32" else None
    )
    rtol = 1e-10 if scale is None else 1e-5
    metric = ClassBlockMetric.at(obj, coef, mean, scale)
    # Block k: sum_i s_i p_ik (1 - p_ik) u_i u_i^T + l2 on W, by the formula
    # (and the finite-difference Hessian's own blocks without an intercept).
    W, b = obj.split(coef)
    Z = obj.X @ W + b
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    U = obj.X - mean if fit_intercept else obj.X
    if fit_intercept:
        U = np.hstack([U, np.ones((U.shape[0], 1))])
    m = U.shape[1]
    penalty = np.diag(np.where(np.arange(m) < obj.n_features, obj.l2, 0.0))
    for k in range(4):
        curvature = obj.weights * P[:, k] * (1 - P[:, k])
        expected = U.T @ (curvature[:, None] * U) + penalty
        size = np.abs(expected).max()
        np.testing.assert_allclose(
            metric.blocks[k], expected, rtol=rtol, atol=rtol * 1e-1 * size
        )
    if not fit_intercept:
        H = finite_difference_hessian(obj, coef)  # C order: feature, then class
        for k in range(4):
            np.testing.assert_allclose(
                metric.blocks[k], H[k::4, k::4], rtol=1e-5, atol=1e-8
            )
    # Its steps are gradient steps in the metric inner() measures, among the
    # changes of the predictions (each row summing to zero over the classes,
    # as the gradient's do from a start that does), and they make only such
    # changes.
    g, v = rng.normal(size=(2, *coef.shape))
    g -= g.mean(axis=1, keepdims=True)
    v -= v.mean(axis=1, keepdims=True)
    direction = metric.direction(g)
    np.testing.assert_allclose(metric.inner(direction, v), np.vdot(g, v), rtol=1e-8)
    np.testing.assert_allclose(direction.sum(axis=1), 0, atol=1e-12)
    assert metric.inner(v, v) > 0


@pytest.mark.parametrize("factor", [1e-25, 1e25])
def test_class_block_metric_in_float32_units_is_the_same_at_any_scale(rng, factor):
    # Its float32 products are taken in the features' own units: X scaled by
    # 1e25 (past float32's range, squared) or 1e-25 (below it) gives the
    # same blocks, in the scaled units, as X itself.
    obj = make_objective(rng, 4, l2=0.05)
    scaled = dataclasses.replace(obj, X=obj.X * factor, l2=obj.l2 * factor**2)
    coef = rng.normal(size=coef_shape(obj))
    coef_scaled = coef.copy()
    coef_scaled[:-1] /= factor
    blocks = []
    for o, c in ((obj, coef), (scaled, coef_scaled)):
        geometry = Geometry.for_objective(o, np.float64)
        metric = ClassBlockMetric.at(o, c, geometry.mean, geometry.scale)
        assert metric is not None and np.isfinite(metric.blocks).all()
        blocks.append(metric.blocks)
    units = np.append(np.full(obj.n_features, factor), 1.0)
    np.testing.assert_allclose(
        blocks[1] / units[:, None] / units[None, :], blocks[0], rtol=1e-5, atol=1e-9
    )


def test_class_block_metric_of_a_tall_X_comes_from_a_sample(rng, monkeypatch):
    # Each block within 10% of the same block over all the rows, in random
    # directions: the sample's sums are scaled by the stride.
    import sklearn_gdlogreg._objective as objective_module

    obj = tall_objective(rng, 3)
    coef = rng.normal(size=coef_shape(obj)) * 0.3
    mean = obj.weights @ obj.X
    assert metric_rows(obj.X, obj.weights, obj.n_features + 1)[2] > 1
    sampled = ClassBlockMetric.at(obj, coef, mean).blocks
    monkeypatch.setattr(objective_module, "METRIC_ROWS_PER_COEFFICIENT", 10**9)
    exact = ClassBlockMetric.at(obj, coef, mean).blocks
    u = rng.normal(size=(50, exact.shape[1]))
    for k in range(3):
        ratios = np.einsum("ni,ij,nj->n", u, sampled[k], u) / np.einsum(
            "ni,ij,nj->n", u, exact[k], u
        )
        assert 0.9 < ratios.min() and ratios.max() < 1.1


@pytest.mark.parametrize("n_outputs", [1, 3, 20])
def test_curvature_at_zero_is_the_losss_at_the_start(rng, n_outputs):
    # The largest eigenvalue of the loss's Hessian in z at z = 0, by finite
    # differences of its gradient (the residual of one sample of weight 1).
    obj = make_objective(rng, n_outputs)

    def gradient(z):
        if n_outputs == 1:  # binary: d/dz log(1 + e^z) - y z, y = 0
            return np.array([1 / (1 + np.exp(-z[0]))])
        return multinomial_pointwise(z[None, :].copy(), np.array([0]), np.ones(1))[1][0]

    h = 1e-6
    hessian = np.column_stack(
        [(gradient(h * e) - gradient(-h * e)) / (2 * h) for e in np.eye(n_outputs)]
    )
    largest = np.linalg.eigvalsh((hessian + hessian.T) / 2).max()
    assert obj.curvature_at_zero == pytest.approx(largest, rel=1e-6)


def test_binary_pointwise_takes_several_points_at_once(rng):
    """Rows of z are points, as a host pass gives them (see ``Pointwise``):
    the same losses and residuals as one point at a time, also where one
    row's e^-margin overflows (that row's loss needs log_expit)."""
    n = 40
    y = rng.randint(0, 2, size=n)
    s = rng.uniform(size=n)
    s /= s.sum()
    Z = rng.normal(scale=3, size=(3, n))
    Z[2, :5] = -800 * (2 * y[:5] - 1)  # margins of -800: e^800 overflows
    with np.errstate(over="ignore"):
        losses, R = binary_pointwise(Z.copy(), y, s)
        for i in range(3):
            loss_i, R_i = binary_pointwise(Z[i].copy(), y, s)
            assert np.isfinite(loss_i)
            assert losses[i] == pytest.approx(loss_i, rel=1e-12)
            np.testing.assert_allclose(R[i], R_i, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("offset", [-1000.0, -720.0, 0.0, 710.0])
def test_multinomial_pointwise_is_exact_for_scores_past_exps_range(rng, offset):
    # Rows whose scores all underflow exp (or whose largest is subnormal), or
    # overflow it: the softmax of their differences, as scipy computes it.
    import scipy.special

    Z = rng.normal(size=(30, 5)) * 3
    Z[::2] += offset  # every other row shifted
    y = rng.randint(5, size=30)
    s = rng.uniform(size=30) / 30
    log_p = scipy.special.log_softmax(Z, axis=1)
    expected_R = s[:, None] * (np.exp(log_p) - np.eye(5)[y])
    with np.errstate(over="ignore"):  # as a pass calls it (see Pointwise)
        loss, R = multinomial_pointwise(Z.copy(), y, s)
    np.testing.assert_allclose(loss, -s @ log_p[np.arange(30), y], rtol=1e-12)
    np.testing.assert_allclose(R, expected_R, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("scale", [1.0, 60.0, 200.0, 1e3])
def test_multinomial_pointwise_float32_matches_float64_for_large_scores(rng, scale):
    # Scores past float32's exp range (about 88) must take the shifted path.
    # (Called as a pass calls it: overflow warnings off, see Pointwise.)
    Z = rng.normal(size=(50, 4)) * scale
    y = rng.randint(4, size=50)
    s = rng.uniform(size=50) / 50
    with np.errstate(over="ignore"):
        loss64, R64 = multinomial_pointwise(Z.copy(), y, s)
        loss32, R32 = multinomial_pointwise(
            Z.astype(np.float32), y, s.astype(np.float32)
        )
    assert np.isfinite(loss32) and np.isfinite(R32).all()
    np.testing.assert_allclose(loss32, loss64, rtol=1e-5)
    np.testing.assert_allclose(R32, R64, rtol=1e-4, atol=1e-7)


class _Unread(np.ndarray):
    """An X that fails any product: nothing may read it."""

    def __matmul__(self, other):
        raise AssertionError("X was read")

    def __rmatmul__(self, other):
        raise AssertionError("X was read")


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scores_of_zero_weights_read_nothing(rng, n_outputs, fit_intercept, dtype):
    # Where a fit starts (W = 0, any intercept), the scores are the
    # intercept's, without a product with X.
    obj = make_objective(rng, n_outputs, fit_intercept=fit_intercept, l2=0.3)
    obj = dataclasses.replace(obj, X=obj.X.astype(dtype))
    coef = rng.normal(size=coef_shape(obj)).astype(dtype)
    coef[: obj.n_features] = 0
    W, b = obj.split(coef)
    n_samples = obj.X.shape[0]
    shape = (n_samples,) if n_outputs == 1 else (n_samples, n_outputs)
    expected = (obj.X @ W + b).reshape(shape)
    obj = dataclasses.replace(obj, X=obj.X.view(_Unread))
    scores = obj.scores(coef)
    assert scores.dtype == dtype and scores.shape == expected.shape
    np.testing.assert_array_equal(scores, expected)
