"""Numerical corners: data whose fit loses precision unless written with care.

A column with a large constant part (a timestamp, an ID-like code, a price in
cents) describes the same model as the column without it: only the intercept
moves. The centring that makes its units not matter must keep its precision
whatever the constant (shifts are drawn at random over a range, never one
value), on every metric and every input kind.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._backends import backend_for
from sklearn_gdlogreg._class_metrics import ClassBlockMetric, ClassCoupledMetric
from sklearn_gdlogreg._metrics import Geometry
from sklearn_gdlogreg._objective import LogisticObjective
from sklearn_gdlogreg._plan import make_plan

FORMATS = {"dense": np.asarray, "csr": sp.csr_matrix, "csc": sp.csc_matrix}


def shifted(rng, X, low=6, high=10):
    """X with a constant of 10**low to 10**high added to a random third of
    its columns (at least one), and the constants (zero elsewhere)."""
    d = X.shape[1]
    columns = rng.choice(d, size=max(1, d // 3), replace=False)
    shift = np.zeros(d)
    shift[columns] = 10 ** rng.uniform(low, high, size=columns.size)
    shift[columns] *= rng.choice([-1, 1], size=columns.size)
    return X + shift, shift


def classification(rng, n_samples, n_features, n_classes):
    X = rng.normal(size=(n_samples, n_features))
    scores = X @ rng.normal(size=(n_features, n_classes))
    scores += rng.normal(size=scores.shape)
    y = scores.argmax(axis=1) if n_classes > 2 else (scores[:, 0] > 0).astype(int)
    return X, y


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    ("n_features", "n_classes", "l1_ratio"),
    [(5, 2, 0.0), (5, 2, 0.5), (6, 3, 0.0), (30, 12, 0.0), (300, 2, 0.0)],
)
def test_a_large_constant_part_gives_the_model_without_it(
    seed, fmt, n_features, n_classes, l1_ratio
):
    # Each path of a fit: the full metric (dense binary), the diagonal (L1,
    # sparse), the coupled classes (6 x 3), the class blocks (30 x 12), the
    # kept scores (300 features); dense, CSR and CSC. The reference is the
    # data the shifted fit sees, less the constants (exact: Sterbenz), so
    # that the only difference is the constants. A float64 column of
    # constant part m holds its spread to eps * m: to 2e-7 at m = 1e9, which
    # bounds the tol that can be reached.
    rng = np.random.default_rng([seed, n_features, n_classes])
    X, y = classification(rng, 400, n_features, n_classes)
    X_shifted, shift = shifted(rng, X, low=6, high=9)
    X = X_shifted - shift
    params = dict(tol=1e-7, l1_ratio=l1_ratio, max_iter=3000)
    to = FORMATS[fmt]
    plain = GradientDescentLogisticRegression(**params).fit(to(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = GradientDescentLogisticRegression(**params).fit(to(X_shifted), y)
    scale = np.abs(plain.coef_).max()
    np.testing.assert_allclose(ours.coef_, plain.coef_, atol=1e-4 * scale)
    # The same model: the intercept absorbs the constants (up to the same
    # change of every class's intercept, which the softmax does not see).
    moved = ours.intercept_ + ours.coef_ @ shift - plain.intercept_
    np.testing.assert_allclose(moved - moved.mean() * (n_classes > 2), 0, atol=1e-4)
    np.testing.assert_allclose(
        ours.predict_proba(to(X_shifted)), plain.predict_proba(to(X)), atol=1e-5
    )
    # tol means the same whatever the constants: about as many iterations.
    assert ours.n_iter_ <= 2 * plain.n_iter_ + 5


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("blocks", ["many", "one"])
def test_sparse_variance_of_a_large_constant_part(fmt, blocks):
    # Where E[x^2] - E[x]^2 loses digits, centred before squaring: it would
    # lose the spread of a column of 1e8 + N(0, 1) entirely. Stored on every
    # row, on all but one (whose zero is then 1e8 away), and on a few. A
    # constant part of 30 standard deviations loses a few digits only: no
    # centring there.
    rng = np.random.default_rng(1)
    n = 503
    X = rng.normal(size=(n, 5))
    X[:, 0] += 10 ** rng.uniform(7, 10)
    X[:, 1] += 10 ** rng.uniform(7, 10)
    X[rng.integers(n), 1] = 0.0
    X[rng.random(n) < 0.9, 2] = 0.0
    X[:, 4] += 30.0
    weights = rng.uniform(0.1, 1, size=n)
    weights /= weights.sum()
    block_bytes = 100 * 8 * X.shape[1] if blocks == "many" else None
    matrix = FORMATS[fmt](X)
    matrix.eliminate_zeros()
    mean, var, _ = backend_for(matrix, block_bytes).column_moments(weights)
    ref_mean = weights @ X
    ref_var = weights @ (X - ref_mean) ** 2
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12)
    np.testing.assert_allclose(var, ref_var, rtol=1e-7)


def objective(X, y, n_outputs, weights):
    return LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=weights,
        n_outputs=n_outputs,
        fit_intercept=True,
        l2=0.01,
        l1=0.0,
    )


def shifted_gradient(grad, shift):
    """The gradient on X + shift of the coefficients ``(W, b - shift @ W)``:
    the same model, so ``X^T R`` gains ``shift * sum(R)``."""
    moved = grad.copy()
    moved[:-1] += shift[:, None] * grad[-1]
    return moved


def precision(shift):
    """What a float64 column of constant part ``shift`` holds its spread to
    (eps * shift), with room for the sums: the old centring lost
    ``eps * shift**2``, all of it from 1e8 on."""
    return 100 * np.finfo(np.float64).eps * np.abs(shift).max()


def assert_same_step(step, moved, shift):
    """``moved`` (on X + shift) is ``step`` (on X) in the shifted
    coordinates: the same W, and the intercept less ``shift @ W``."""
    atol = precision(shift) * np.abs(step).max()
    np.testing.assert_allclose(moved[:-1], step[:-1], atol=atol)
    np.testing.assert_allclose(moved[-1] + shift @ moved[:-1], step[-1], atol=atol)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "metric", ["diagonal", "full", "groups", "coupled", "blocks", "at_curvature"]
)
def test_every_metric_steps_alike_with_a_large_constant_part(seed, metric):
    # Each metric's step on X + shift is its step on X, written in the
    # shifted coordinates; and its inner product agrees.
    rng = np.random.default_rng([seed, len(metric)])
    n_outputs = 3 if metric in ("coupled", "blocks") else 1
    X, y = classification(rng, 300, 5, max(n_outputs, 2))
    X_shifted, shift = shifted(rng, X, low=6, high=9)
    X = X_shifted - shift  # the data the shifted metric sees (exact)
    weights = rng.uniform(0.1, 1, size=X.shape[0])
    weights /= weights.sum()
    coef = rng.normal(size=(6, n_outputs)) * 0.3
    coef_shifted = coef.copy()
    coef_shifted[-1] -= shift @ coef[:-1]

    def make(X):
        if metric == "groups":  # a sparse X: every column a group of its own
            X = sp.csr_matrix(X)
        obj = objective(X, y, n_outputs, weights)
        at = coef if X is X_plain else coef_shifted
        if metric == "coupled":
            return ClassCoupledMetric.at(obj, at, weights @ X)
        if metric == "blocks":
            return ClassBlockMetric.at(obj, at, weights @ X)
        if metric == "at_curvature":
            return Geometry.at_curvature(obj, np.float64, at)
        if metric == "full":  # (the plan's only where features are correlated)
            return Geometry.for_objective(obj, np.float64, "full")
        plan = make_plan(obj, "auto" if metric != "diagonal" else 1.0, "nesterov")
        assert plan.metric == metric
        return Geometry.for_objective(
            obj, np.float64, plan.metric, plan.metric_stride, plan.groups
        )

    X_plain = X
    plain, moved = make(X), make(X_shifted)
    assert plain is not None and moved is not None
    g = rng.normal(size=coef.shape)
    if n_outputs > 1:  # the directions the softmax sees
        g -= g.mean(axis=1, keepdims=True)
    step = plain.direction(g)
    assert_same_step(step, moved.direction(shifted_gradient(g, shift)), shift)
    u = rng.normal(size=coef.shape)
    u_shifted = u.copy()
    u_shifted[-1] -= shift @ u[:-1]
    np.testing.assert_allclose(
        moved.inner(u_shifted, u_shifted), plain.inner(u, u), rtol=precision(shift)
    )


def small_problem(seed):
    rng = np.random.default_rng(seed)
    X, y = classification(rng, 200, 4, 2)
    return rng, X, y


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize(
    ("dtype", "low", "high"), [(np.float64, 20, 140), (np.float32, 12, 30)]
)
def test_tiny_features_give_the_model_of_unscaled_ones(seed, fmt, dtype, low, high):
    # Features far below 1, whose coefficients are far above (float32 ones
    # pass 1e19, whose squares overflow float32): the same model.
    rng, X, y = small_problem(seed)
    factor = 10 ** -rng.uniform(low, high)
    to = FORMATS[fmt]
    params = dict(C=np.inf, tol=1e-6)
    plain = GradientDescentLogisticRegression(**params).fit(to(X.astype(dtype)), y)
    small = to((X * factor).astype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours = GradientDescentLogisticRegression(**params).fit(small, y)
    np.testing.assert_allclose(
        ours.predict_proba(small), plain.predict_proba(to(X.astype(dtype))), atol=1e-3
    )
    scale = np.abs(plain.coef_).max()
    np.testing.assert_allclose(ours.coef_ * factor, plain.coef_, atol=1e-2 * scale)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_features_whose_squares_underflow_are_refused(seed, fmt):
    # Their spread cannot be measured in float64: a clear error, not an
    # intercept-only model.
    rng, X, y = small_problem(seed)
    X = X * 10 ** -rng.uniform(160, 300)
    with pytest.raises(ValueError, match="too small"):
        GradientDescentLogisticRegression(C=np.inf).fit(FORMATS[fmt](X), y)
    # A column of zeros is no such column.
    X = np.zeros_like(X)
    X[:, 0] = rng.normal(size=X.shape[0])
    GradientDescentLogisticRegression().fit(FORMATS[fmt](X), y)


@pytest.mark.parametrize("seed", range(3))
def test_tiny_sample_weights(seed):
    # Only C * sum(sample_weight) matters: tiny weights with a C as much
    # larger give the same model; without a penalty, any tiny weights do.
    rng, X, y = small_problem(seed)
    factor = 10 ** -rng.uniform(100, 250)
    plain = GradientDescentLogisticRegression(C=0.5, tol=1e-8).fit(X, y)
    ours = GradientDescentLogisticRegression(C=0.5 / factor, tol=1e-8)
    ours.fit(X, y, sample_weight=np.full(len(y), factor))
    np.testing.assert_allclose(ours.coef_, plain.coef_, rtol=1e-6)
    np.testing.assert_allclose(ours.intercept_, plain.intercept_, rtol=1e-6)
    weights = np.full(len(y), 5e-324)  # the smallest float64
    mle = GradientDescentLogisticRegression(C=np.inf, tol=1e-8)
    unweighted = mle.fit(X, y).coef_
    np.testing.assert_allclose(
        mle.fit(X, y, sample_weight=weights).coef_, unweighted, rtol=1e-6
    )
    # With a penalty, its factor 1 / (C * sum(sample_weight)) overflows.
    with pytest.raises(ValueError, match=r"C \* sum\(sample_weight\) is too small"):
        GradientDescentLogisticRegression(C=1.0).fit(X, y, sample_weight=weights)
