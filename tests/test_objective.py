"""The objective: finite-difference gradients, stability, the passes and the
kept scores."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import check_grad

from conftest import coef_shape, make_objective
from sklearn_gdlogreg._backends import DenseBackend, backend_for
from sklearn_gdlogreg._loss import multinomial_pointwise


@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fmt", ["dense", "csr", "csc"])
def test_one_block_pass_equals_the_blocked_pass(
    rng, n_outputs, fit_intercept, dtype, fmt
):
    # An X of one block takes its points stacked (_stacked_values_and_grads);
    # blocks of 8 rows take the general pass: the same values and gradients,
    # one point or two, and the gradients each point's own. Sparse X too.
    obj = make_objective(rng, n_outputs, fit_intercept=fit_intercept, l2=0.3)
    X = obj.backend.X.astype(dtype)
    if fmt != "dense":
        X[np.abs(X) < 1] = 0.0  # about a third of the entries stored
        X = getattr(sp, f"{fmt}_matrix")(X)
    obj = dataclasses.replace(obj, backend=backend_for(X))
    assert obj.backend.one_block() is not None
    blocked = dataclasses.replace(obj, backend=backend_for(X, 8 * X.shape[1] * 8))
    assert blocked.backend.one_block() is None
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
    obj = dataclasses.replace(obj, backend=backend_for(obj.backend.X.astype(dtype)))
    coef = rng.normal(scale=0.3, size=coef_shape(obj)).astype(dtype)
    W, b = obj.split(coef)
    scores = obj.scores(coef)
    expected_scores = (obj.backend.X.astype(np.float64) @ W + b).reshape(scores.shape)
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
    Z = obj.backend.X @ W + b
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
    residual = 1 / (1 + np.exp(-(obj.backend.X @ coef)[:, 0])) - obj.y
    sigmoid_derivative = (1 / (1 + np.exp(-residual))) * (
        1 - 1 / (1 + np.exp(-residual))
    )
    notebook = obj.backend.X.T @ (obj.weights * sigmoid_derivative * residual)
    ours = obj.backend.X.T @ (obj.weights * residual)
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
    sparse = dataclasses.replace(
        dense, backend=backend_for(sp.csr_matrix(dense.backend.X))
    )
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
    blocked = backend_for(obj.backend.X, 3 * 8 * obj.n_features)
    got = replace(obj, backend=blocked).value_and_grad(coef)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)


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
    obj = dataclasses.replace(obj, backend=backend_for(obj.backend.X.astype(dtype)))
    coef = rng.normal(size=coef_shape(obj)).astype(dtype)
    coef[: obj.n_features] = 0
    W, b = obj.split(coef)
    n_samples = obj.backend.X.shape[0]
    shape = (n_samples,) if n_outputs == 1 else (n_samples, n_outputs)
    expected = (obj.backend.X @ W + b).reshape(shape)
    obj = dataclasses.replace(obj, backend=DenseBackend(obj.backend.X.view(_Unread)))
    scores = obj.scores(coef)
    assert scores.dtype == dtype and scores.shape == expected.shape
    np.testing.assert_array_equal(scores, expected)
