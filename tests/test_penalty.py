"""Per-feature penalty factors and coefficient bounds (issue 26, items 2 and
3): against LogisticRegression on rescaled columns, against L-BFGS-B on the
same objective, by the KKT conditions, on every kind of input."""

import os
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from sklearn_gdlogreg import (
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
)

TIGHT = dict(tol=1e-10, max_iter=20_000)


def data(n_classes, seed, n=400, d=6):
    X, y = make_classification(
        n_samples=n, n_features=d, n_informative=4, n_classes=n_classes,
        n_clusters_per_class=1, random_state=seed,
    )  # fmt: skip
    return X, y


def symmetric(coef):
    """Coefficients of a K-class fit moved to the symmetric gauge (each
    feature's coefficients summing to zero over the classes)."""
    return coef - coef.mean(axis=0) if coef.shape[0] > 2 else coef


def objective_and_gradient(X, y, n_outputs, C, factor, sample_weight=None):
    """``LogisticRegression``'s objective (sum of weighted losses plus
    ``1 / (2 C) sum_j f_j ||W_j||^2``) of the flat parameters ``[W.ravel()
    (n_features, n_outputs), b]``, and its gradient: written from the formula."""
    n, d = X.shape
    s = np.ones(n) if sample_weight is None else sample_weight
    f = np.ones(d) if factor is None else factor
    Y = np.eye(max(2, n_outputs))[y]

    def fun(theta):
        W = theta[: d * n_outputs].reshape(d, n_outputs)
        b = theta[d * n_outputs :]
        Z = X @ W + b
        if n_outputs == 1:
            Z = np.hstack([np.zeros((n, 1)), Z])
        log_p = log_softmax(Z, axis=1)
        R = (softmax(Z, axis=1) - Y) * s[:, None]
        if n_outputs == 1:
            R = R[:, 1:]
        value = -(s * (Y * log_p).sum(axis=1)).sum() + (f[:, None] * W**2).sum() / (
            2 * C
        )
        grad_W = X.T @ R + f[:, None] * W / C
        return value, np.concatenate([grad_W.ravel(), R.sum(axis=0)])

    return fun


def lbfgsb(X, y, n_outputs, C=1.0, factor=None, bounds=None, sample_weight=None):
    """The minimum by L-BFGS-B: ``(coef (n_outputs, d), intercept)``."""
    d = X.shape[1]
    fun = objective_and_gradient(X, y, n_outputs, C, factor, sample_weight)
    box = None
    if bounds is not None:
        lower, upper = (
            np.broadcast_to(
                np.reshape(side, (d, -1)) if np.ndim(side) else side, (d, n_outputs)
            )
            for side in bounds
        )
        box = [
            (None if np.isinf(lo) else lo, None if np.isinf(hi) else hi)
            for lo, hi in zip(lower.ravel(), upper.ravel(), strict=True)
        ] + [(None, None)] * n_outputs
    result = minimize(
        fun, np.zeros(d * n_outputs + n_outputs), jac=True, method="L-BFGS-B",
        bounds=box, options=dict(maxiter=50_000, maxfun=50_000, ftol=0, gtol=1e-12),
    )  # fmt: skip
    W = result.x[: d * n_outputs].reshape(d, n_outputs)
    return W.T, result.x[d * n_outputs :]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
@pytest.mark.parametrize("seed", [0, 1])
def test_l2_penalty_factor_is_the_penalty_on_rescaled_columns(
    n_classes, container, seed
):
    # l2 f_j w_j^2 / 2 on column x_j is the plain penalty on v_j = sqrt(f_j)
    # w_j, the coefficient of x_j / sqrt(f_j): LogisticRegression on those.
    X, y = data(n_classes, seed)
    factor = np.random.default_rng(seed).uniform(0.1, 5, size=X.shape[1])
    C = 0.05
    ours = GradientDescentLogisticRegression(C=C, penalty_factor=factor, **TIGHT)
    ours.fit(container(X), y)
    reference = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12)
    reference.fit(X / np.sqrt(factor), y)
    expected = reference.coef_ / np.sqrt(factor)
    np.testing.assert_allclose(ours.coef_, expected, atol=1e-6)
    np.testing.assert_allclose(
        ours.predict_proba(X), reference.predict_proba(X / np.sqrt(factor)), atol=1e-7
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_zero_factor_leaves_a_feature_unpenalised(n_classes):
    X, y = data(n_classes, 2)
    factor = np.array([0.0, 1.0, 2.0, 0.0, 1.0, 0.5])
    weights = np.random.default_rng(0).uniform(0.5, 2, size=X.shape[0])
    n_outputs = 1 if n_classes == 2 else n_classes
    ours = GradientDescentLogisticRegression(C=0.02, penalty_factor=factor, **TIGHT)
    ours.fit(X, y, sample_weight=weights)
    coef, _ = lbfgsb(X, y, n_outputs, 0.02, factor, sample_weight=weights)
    np.testing.assert_allclose(symmetric(ours.coef_), symmetric(coef), atol=1e-5)
    # A factor of 0 is no penalty at all: a much larger factor elsewhere
    # does not shrink the unpenalised features.
    heavy = factor * np.array([1, 100, 100, 1, 100, 100])
    shrunk = GradientDescentLogisticRegression(C=0.02, penalty_factor=heavy, **TIGHT)
    shrunk.fit(X, y, sample_weight=weights)
    assert (
        np.abs(shrunk.coef_[:, [1, 2, 4, 5]]).max()
        < np.abs(ours.coef_[:, [1, 2, 4, 5]]).max()
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_l1_penalty_factor_is_the_l1_penalty_on_rescaled_columns(n_classes):
    # l1 f_j |w_j| on x_j is the plain L1 penalty on v_j = f_j w_j, the
    # coefficient of x_j / f_j.
    X, y = data(n_classes, 3)
    factor = np.array([0.5, 1.0, 2.0, 4.0, 1.0, 3.0])
    params = dict(C=0.05, l1_ratio=1.0, **TIGHT)
    ours = GradientDescentLogisticRegression(penalty_factor=factor, **params)
    ours.fit(X, y)
    plain = GradientDescentLogisticRegression(**params).fit(X / factor, y)
    np.testing.assert_allclose(ours.coef_, plain.coef_ / factor, atol=1e-6)
    assert (ours.coef_ == 0).any()  # the L1 penalty still selects


def test_penalty_factor_against_glum():
    glum = pytest.importorskip("glum", reason="glum (the bench extra) compares P2")
    X, y = data(2, 4)
    factor = np.array([0.0, 1.0, 2.0, 0.5, 1.0, 3.0])
    C, n = 0.1, X.shape[0]
    ours = GradientDescentLogisticRegression(C=C, penalty_factor=factor, **TIGHT)
    ours.fit(X, y)
    theirs = glum.GeneralizedLinearRegressor(
        family="binomial", alpha=1 / (C * n), l1_ratio=0.0, P2=factor,
        gradient_tol=1e-12,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(ours.coef_[0], theirs.coef_, atol=1e-5)


def kkt_violation(X, y, n_outputs, C, coef, intercept, lower, upper):
    """The largest violation of the box's KKT conditions at a fit: the
    gradient zero at free coefficients, pointing out of the box at bound
    ones (relative to the gradient's scale)."""
    d = X.shape[1]
    fun = objective_and_gradient(X, y, n_outputs, C, None)
    theta = np.concatenate([coef.T.ravel(), intercept])
    _, grad = fun(theta)
    g = grad[: d * n_outputs].reshape(d, n_outputs)
    W = coef.T
    lower, upper = (np.broadcast_to(side, W.shape) for side in (lower, upper))
    at_lower, at_upper = W <= lower, W >= upper
    violation = np.where(
        at_lower, np.maximum(-g, 0), np.where(at_upper, np.maximum(g, 0), np.abs(g))
    )
    return max(violation.max(), np.abs(grad[d * n_outputs :]).max())


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_matrix])
def test_non_negative_coefficients_are_the_box_minimum(n_classes, container):
    X, y = data(n_classes, 5)
    n_outputs = 1 if n_classes == 2 else n_classes
    ours = GradientDescentLogisticRegression(C=1.0, lower_bounds=0, **TIGHT)
    ours.fit(container(X), y)
    assert (ours.coef_ >= 0).all() and (ours.coef_ == 0).any()  # the box binds
    coef, intercept = lbfgsb(X, y, n_outputs, 1.0, bounds=(0.0, np.inf))
    np.testing.assert_allclose(ours.coef_, coef, atol=1e-5)
    if n_classes > 2:  # the softmax's intercepts: up to a common shift
        intercept = intercept - intercept.mean()
    np.testing.assert_allclose(ours.intercept_, intercept, atol=1e-5)
    violation = kkt_violation(
        X, y, n_outputs, 1.0, ours.coef_, ours.intercept_, 0.0, np.inf
    )
    assert violation < 1e-6 * X.shape[0]


@pytest.mark.parametrize("n_classes", [2, 3])
def test_two_sided_and_per_class_bounds(n_classes):
    X, y = data(n_classes, 6)
    n_outputs = 1 if n_classes == 2 else n_classes
    rng = np.random.default_rng(6)
    lower = -rng.uniform(0.05, 0.3, size=(n_outputs, X.shape[1]))
    upper = rng.uniform(0.05, 0.3, size=(n_outputs, X.shape[1]))
    if n_classes == 2:
        lower, upper = lower[0], upper[0]  # (n_features,) for one output
    ours = GradientDescentLogisticRegression(
        C=10.0, lower_bounds=lower, upper_bounds=upper, **TIGHT
    ).fit(X, y)
    coef, _ = lbfgsb(X, y, n_outputs, 10.0, bounds=(lower.T, upper.T))
    np.testing.assert_allclose(ours.coef_, coef, atol=1e-5)
    assert ((ours.coef_ == lower) | (ours.coef_ == upper)).any()
    assert ((ours.coef_ >= lower) & (ours.coef_ <= upper)).all()


def test_bounds_with_l1_sample_and_class_weights_and_warm_start():
    X, y = data(3, 7)
    weights = np.random.default_rng(7).uniform(0.5, 2, size=X.shape[0])
    params = dict(C=0.5, l1_ratio=0.5, lower_bounds=-0.2, upper_bounds=0.4)
    model = GradientDescentLogisticRegression(
        class_weight="balanced", warm_start=True, **params, **TIGHT
    )
    model.fit(X, y, sample_weight=weights)
    first = model.coef_.copy()
    assert ((first >= -0.2) & (first <= 0.4)).all()
    model.fit(X, y, sample_weight=weights)  # from the last fit: already there
    np.testing.assert_allclose(model.coef_, first, atol=1e-7)
    # Outside the new box: a clear error, not a silent restart.
    model.set_params(upper_bounds=0.1)
    if (first > 0.1).any():
        with pytest.raises(ValueError, match="outside lower_bounds"):
            model.fit(X, y, sample_weight=weights)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"penalty_factor": [1.0, -1, 1, 1, 1, 1]}, "non-negative"),
        ({"penalty_factor": [1.0, np.nan, 1, 1, 1, 1]}, "non-negative"),
        ({"penalty_factor": [1.0, 1.0]}, "one value per feature"),
        ({"lower_bounds": 1.0, "upper_bounds": 0.0}, "not be above"),
        ({"lower_bounds": [0.0, 1.0]}, "shape"),
        ({"lower_bounds": np.nan}, "NaN"),
        ({"upper_bounds": "a"}, "upper_bounds"),
        ({"upper_bounds": ["a"] * 6}, "array of real numbers"),
    ],
)
def test_bad_factors_and_bounds_are_clear_errors(params, message):
    X, y = data(2, 0)
    with pytest.raises((ValueError, TypeError), match=message):
        GradientDescentLogisticRegression(**params).fit(X, y)


def test_defaults_unchanged_and_cv_takes_them():
    X, y = data(2, 8)
    plain = GradientDescentLogisticRegression().fit(X, y)
    ones = GradientDescentLogisticRegression(penalty_factor=np.ones(6)).fit(X, y)
    free = GradientDescentLogisticRegression(lower_bounds=-np.inf).fit(X, y)
    np.testing.assert_array_equal(ones.coef_, plain.coef_)
    np.testing.assert_array_equal(free.coef_, plain.coef_)
    cv = GradientDescentLogisticRegressionCV(Cs=3, lower_bounds=0).fit(X, y)
    assert (cv.coef_ >= 0).all() and (cv.coefs_paths_[..., :-1] >= 0).all()


def test_parameters_persist():
    X, y = data(2, 9)
    model = GradientDescentLogisticRegression(
        penalty_factor=np.arange(6.0), lower_bounds=0
    ).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    sio = pytest.importorskip("skops.io", reason="skops (the test extra)")
    loaded = sio.loads(
        sio.dumps(model), trusted=sio.get_untrusted_types(data=sio.dumps(model))
    )
    np.testing.assert_array_equal(loaded.penalty_factor, model.penalty_factor)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_dask_input_gives_the_same_model():
    pytest.importorskip("dask", reason="dask (the test extra)")
    import dask
    import dask.array as da

    X, y = data(3, 10)
    params = dict(C=0.3, penalty_factor=np.linspace(0, 2, 6), lower_bounds=-0.1)
    memory = GradientDescentLogisticRegression(**params, **TIGHT).fit(X, y)
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no distributed Client
        chunked = GradientDescentLogisticRegression(**params, **TIGHT).fit(
            da.from_array(X, chunks=100), da.from_array(y, chunks=100)
        )
    np.testing.assert_allclose(chunked.coef_, memory.coef_, atol=1e-7)


@pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
def test_array_api_input_gives_the_same_model():
    torch = pytest.importorskip("torch", reason="PyTorch (the torch extra)")
    pytest.importorskip("array_api_compat", reason="array-api-compat")
    from sklearn import config_context

    X, y = data(2, 11)
    params = dict(C=0.3, penalty_factor=np.linspace(0, 2, 6), upper_bounds=0.2)
    memory = GradientDescentLogisticRegression(**params, **TIGHT).fit(X, y)
    with config_context(array_api_dispatch=True):
        on_torch = GradientDescentLogisticRegression(**params, **TIGHT).fit(
            torch.asarray(X), torch.asarray(y)
        )
        coef = on_torch.coef_.numpy()
    np.testing.assert_allclose(coef, memory.coef_, atol=1e-7)


def test_bounds_against_glum():
    glum = pytest.importorskip("glum", reason="glum (the bench extra) compares bounds")
    X, y = data(2, 12)
    C, n = 1.0, X.shape[0]
    lower, upper = np.full(6, -0.2), np.full(6, 0.5)
    ours = GradientDescentLogisticRegression(
        C=C, lower_bounds=lower, upper_bounds=upper, **TIGHT
    ).fit(X, y)
    theirs = glum.GeneralizedLinearRegressor(
        family="binomial", alpha=1 / (C * n), l1_ratio=0.0,
        lower_bounds=lower, upper_bounds=upper, gradient_tol=1e-12,
    ).fit(X, y)  # fmt: skip
    assert ((ours.coef_ == -0.2) | (ours.coef_ == 0.5)).any()
    np.testing.assert_allclose(ours.coef_[0], theirs.coef_, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_[0], theirs.intercept_, atol=1e-5)


def test_impossible_bounds_and_float32_bounds():
    X, y = data(2, 13)
    for params in ({"lower_bounds": np.inf}, {"upper_bounds": -np.inf}):
        with pytest.raises(ValueError, match="no coefficient can meet"):
            GradientDescentLogisticRegression(**params).fit(X, y)
    with pytest.raises(ValueError, match="float32's range"):
        GradientDescentLogisticRegression(lower_bounds=1e39).fit(
            X.astype(np.float32), y
        )
    with pytest.raises(TypeError, match="real numbers"):
        GradientDescentLogisticRegression(penalty_factor=np.ones(6) * 1j).fit(X, y)
    # float32 fits hold their coefficients inside the float64 box (the
    # bound rounded inwards), and know which lie on it.
    model = GradientDescentLogisticRegression(lower_bounds=0.01, upper_bounds=0.3)
    model.fit(X.astype(np.float32), y)
    assert model.coef_.dtype == np.float32
    coef = model.coef_.astype(np.float64)
    assert ((coef >= 0.01) & (coef <= 0.3)).all()
    assert ((coef == np.float32(0.3)) | (coef > 0.01) & (coef < 0.3)).any()
    with pytest.raises(ValueError, match="lie on their bounds"):
        model.coef_table(X.astype(np.float32), y)


def test_separation_along_unpenalised_features_warns():
    # Feature 0 separates the classes; with its penalty factor 0 nothing
    # holds its coefficient back, whatever C.
    rng = np.random.default_rng(14)
    X = rng.normal(size=(100, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning, match="classes are separated"):
        model = GradientDescentLogisticRegression(penalty_factor=[0.0, 1, 1]).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="classes are separated"):
        cov = model.covariance_matrix(X, y)
    assert np.isnan(cov).all()
    # A penalty on it, or a box around it, makes the minimum exist: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GradientDescentLogisticRegression(penalty_factor=[0.5, 1, 1]).fit(X, y)
        GradientDescentLogisticRegression(
            C=np.inf, lower_bounds=-5, upper_bounds=5, max_iter=5000
        ).fit(X, y)
