"""Standard errors: statsmodels' on raw data, the penalised Hessian by finite
differences, frequency weights, and clear errors where they do not apply."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from test_estimator import statsmodels_data

from conftest import badly_scaled_classification
from sklearn_gdlogreg import GradientDescentLogisticRegression as Estimator


def needs(module: str):
    """An optional package a test needs (statsmodels as a reference, pandas
    for coef_table): the test skips without it."""
    return pytest.importorskip(module)


def mle(X, y):
    return Estimator(C=np.inf, tol=1e-10, max_iter=100_000).fit(X, y)


@pytest.mark.parametrize("robust", [False, True])
def test_binary_standard_errors_are_statsmodels(robust):
    sm, _ = needs("statsmodels.api"), needs("pandas")
    X, y = statsmodels_data("spector")
    fit = sm.Logit(y, sm.add_constant(X)).fit(
        disp=0, cov_type="HC0" if robust else "nonrobust"
    )
    # statsmodels puts the constant first; we put the intercept last.
    expected_cov = np.roll(np.roll(fit.cov_params(), -1, axis=0), -1, axis=1)
    ours = mle(X, y)
    np.testing.assert_allclose(
        ours.covariance_matrix(X, y, robust=robust), expected_cov, rtol=1e-4
    )
    table = ours.coef_table(X, y, robust=robust)
    assert list(table.index) == ["x0", "x1", "x2", "intercept"]
    np.testing.assert_allclose(table["se"], np.roll(fit.bse, -1), rtol=1e-4)
    np.testing.assert_allclose(table["z"], np.roll(fit.tvalues, -1), rtol=1e-4)
    np.testing.assert_allclose(table["p_value"], np.roll(fit.pvalues, -1), rtol=1e-3)
    intervals = np.roll(np.asarray(fit.conf_int()), -1, axis=0)
    np.testing.assert_allclose(table[["ci_lower", "ci_upper"]], intervals, rtol=1e-4)


@pytest.mark.parametrize("robust", [False, True])
def test_multinomial_standard_errors_are_mnlogits(robust):
    sm, _ = needs("statsmodels.api"), needs("pandas")
    X, y = statsmodels_data("anes96")
    fit = sm.MNLogit(y, sm.add_constant(X)).fit(
        disp=0, method="newton", maxiter=100, cov_type="HC0" if robust else "nonrobust"
    )
    ours = mle(X, y)
    table = ours.coef_table(X, y, robust=robust)
    assert table.index.names == ["class", "feature"]
    # MNLogit: one column per class against the first, the constant first.
    expected = np.roll(np.asarray(fit.bse), -1, axis=0).T.ravel()
    np.testing.assert_allclose(table["se"], expected, rtol=1e-3)
    coef = np.roll(np.asarray(fit.params), -1, axis=0).T.ravel()
    np.testing.assert_allclose(table["coef"], coef, rtol=1e-4, atol=1e-8)


def test_penalised_standard_errors_invert_the_penalised_hessian():
    """With C, the covariance is the inverse of the Hessian of
    ``sum_i s_i loss_i + ||w||^2 / (2 C)``, here by finite differences."""
    X, y = badly_scaled_classification(2)
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    C = 0.05
    ours = Estimator(C=C, tol=1e-10, max_iter=100_000).fit(X, y, weights)
    theta = np.append(ours.coef_[0], ours.intercept_[0])
    design = np.hstack([X, np.ones((len(y), 1))])

    def gradient(theta):
        residual = weights * (expit(design @ theta) - y)
        return design.T @ residual + np.append(theta[:-1] / C, 0.0)

    steps = 1e-6 * np.maximum(np.abs(theta), 1e-3)
    hessian = np.column_stack(
        [
            (gradient(theta + h * e) - gradient(theta - h * e)) / (2 * h)
            for h, e in zip(steps, np.eye(len(theta)), strict=True)
        ]
    )
    np.testing.assert_allclose(
        ours.covariance_matrix(X, y, sample_weight=weights),
        np.linalg.inv((hessian + hessian.T) / 2),
        rtol=1e-5,
    )


def test_weights_are_frequency_weights():
    needs("pandas")
    X, y = badly_scaled_classification(3)
    weights = np.ones(len(y))
    weights[:20] = 2.0
    repeated = np.r_[np.arange(len(y)), np.arange(20)]
    weighted = mle(X, y).fit(X, y, sample_weight=weights)
    duplicated = mle(X, y).fit(X[repeated], y[repeated])
    np.testing.assert_allclose(
        weighted.coef_table(X, y, sample_weight=weights),
        duplicated.coef_table(X[repeated], y[repeated]),
        rtol=1e-5,
        atol=1e-9,
    )


def test_feature_names_index_the_table():
    pd = needs("pandas")
    X, y = statsmodels_data("spector")
    frame = pd.DataFrame(X, columns=["GPA", "TUCE", "PSI"])
    table = mle(frame, y).coef_table(frame, y, alpha=0.1)
    assert list(table.index) == ["GPA", "TUCE", "PSI", "intercept"]
    assert list(table.columns) == ["coef", "se", "z", "p_value", "ci_lower", "ci_upper"]
    # A 90% interval: coef -/+ 1.645 se.
    np.testing.assert_allclose(
        table["ci_upper"] - table["coef"], 1.6448536 * table["se"], rtol=1e-6
    )


def test_where_standard_errors_do_not_apply_the_errors_say_why():
    needs("pandas")
    X, y = statsmodels_data("spector")
    lasso = Estimator(C=1.0, l1_ratio=0.5).fit(X, y)
    with pytest.raises(ValueError, match="not available with an L1 term"):
        lasso.covariance_matrix(X, y)
    with pytest.raises(ValueError, match="classes"):
        mle(X, y).covariance_matrix(X, np.where(y == 1, 2, y))
    with pytest.raises(ValueError, match="alpha"):
        mle(X, y).coef_table(X, y, alpha=1.5)
    # 200k features: the (p, p) matrices would take hundreds of GiB.
    wide = sp.random(8, 200_000, density=1e-3, format="csr", random_state=0)
    labels = np.arange(8) % 2
    with pytest.warns(ConvergenceWarning):
        model = Estimator(max_iter=1).fit(wide, labels)
    with (
        pytest.raises(ValueError, match=r"200001 parameters would take \d+\.\d GiB"),
        pytest.warns(ConvergenceWarning, match="not at the minimum"),
    ):
        model.covariance_matrix(wide, labels)


def overlapping(rng, n_classes, n_samples=300, n_features=4):
    """Classes that overlap (the maximum-likelihood estimate exists)."""
    X = rng.normal(size=(n_samples, n_features)) * rng.uniform(0.5, 5, n_features)
    scores = X / X.std(axis=0) @ rng.normal(size=(n_features, n_classes))
    scores += 2 * rng.gumbel(size=scores.shape)
    return X, scores.argmax(axis=1)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("robust", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_standard_errors_of_a_sparse_x_are_the_dense_xs(
    n_classes, robust, fit_intercept
):
    # The information (and the scores' outer products) of a CSR or CSC X
    # come from sparse products, of a dense X from dense ones: the same
    # matrices, to rounding.
    rng = np.random.default_rng([n_classes, robust, fit_intercept])
    X, y = overlapping(rng, n_classes)
    X[rng.uniform(size=X.shape) < 0.5] = 0.0
    weights = rng.uniform(0.5, 2, size=len(y))
    model = Estimator(C=10.0, fit_intercept=fit_intercept, tol=1e-10)
    model.fit(X, y, sample_weight=weights)
    dense = model.covariance_matrix(X, y, sample_weight=weights, robust=robust)
    assert np.isfinite(dense).all()
    for fmt in ("csr", "csc"):
        sparse = model.covariance_matrix(
            sp.csr_matrix(X).asformat(fmt), y, sample_weight=weights, robust=robust
        )
        np.testing.assert_allclose(sparse, dense, rtol=1e-10)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_classes", [2, 3])
def test_separated_classes_have_no_standard_errors(seed, n_classes):
    # The classes lie on either side of a hyperplane (all of them, or all
    # but ties on it): the MLE does not exist, the coefficients grow as tol
    # shrinks, and fit and covariance_matrix say so (NaN, not numbers).
    rng = np.random.default_rng([seed, n_classes])
    X = rng.normal(size=(200, 3))
    direction = rng.normal(size=(3, n_classes))
    y = (X @ direction).argmax(axis=1)
    X_quasi = np.vstack([X, np.zeros((4, 3))])  # ties: on every class's side
    y_quasi = np.r_[y, np.arange(4) % n_classes]
    for X_, y_ in ((X, y), (X_quasi, y_quasi)):
        with pytest.warns(ConvergenceWarning, match="classes are separated"):
            model = Estimator(C=np.inf, tol=1e-6, max_iter=3000).fit(X_, y_)
            cov = model.covariance_matrix(X_, y_)
        assert np.isnan(cov).all()
    # Overlapping classes: no such warning, finite standard errors.
    X, y = overlapping(rng, n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cov = mle(X, y).covariance_matrix(X, y)
    assert np.isfinite(cov).all()


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", ["duplicate", "sum", "dummies"])
def test_unidentified_coefficients_have_nan_standard_errors(seed, n_classes, kind):
    # A column that is a combination of others (or of the intercept's):
    # the information matrix is singular; the coefficients along it get NaN
    # and a warning, the others the standard errors of the model without it.
    rng = np.random.default_rng([seed, n_classes, len(kind)])
    X, y = overlapping(rng, n_classes)
    if kind == "duplicate":
        extra, involved = X[:, :1] * rng.uniform(0.5, 2), [0]
    elif kind == "sum":
        extra, involved = X[:, :1] + X[:, 1:2], [0, 1]
    else:  # a binary column and its complement, with the intercept
        X[:, 0] = rng.integers(0, 2, size=len(y))
        extra, involved = 1 - X[:, :1], [0, "intercept"]
    full = np.hstack([X, extra])
    with pytest.warns(UserWarning, match="not identified"):
        cov = mle(full, y).covariance_matrix(full, y)
    d = full.shape[1] + 1
    positions = [d - 1 if j == "intercept" else j for j in involved] + [d - 2]
    per_class = np.isnan(np.diag(cov)).reshape(-1, d)
    expected = np.isin(np.arange(d), positions)
    np.testing.assert_array_equal(per_class, np.tile(expected, (len(per_class), 1)))
    # The parameters that are identified: as without the extra column (the
    # same model, written with one column less).
    kept = [j for j in range(d - 1) if j not in positions]
    if "intercept" not in involved:
        kept.append(d - 1)
    reduced = np.sqrt(np.diag(mle(X, y).covariance_matrix(X, y))).reshape(-1, d - 1)
    se = np.sqrt(np.diag(cov)).reshape(-1, d)
    np.testing.assert_allclose(
        se[:, kept], reduced[:, [j if j < d - 2 else j - 1 for j in kept]], rtol=1e-4
    )


def test_standard_errors_of_a_model_not_at_its_minimum_warn():
    # A fit stopped early, and the CV estimator's fold-averaged coefficients
    # (refit=False): the standard errors are those of a minimum they are not at.
    from sklearn_gdlogreg import GradientDescentLogisticRegressionCV

    X, y = overlapping(np.random.default_rng(0), 2)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        stopped = Estimator(C=np.inf, max_iter=1).fit(X, y)
    averaged = GradientDescentLogisticRegressionCV(Cs=4, refit=False).fit(X, y)
    for model in (stopped, averaged):
        with pytest.warns(ConvergenceWarning, match="not at the minimum"):
            model.covariance_matrix(X, y)
    refitted = GradientDescentLogisticRegressionCV(Cs=4).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        refitted.covariance_matrix(X, y)


def test_a_feature_named_intercept_keeps_the_index_unique():
    pd = needs("pandas")
    X, y = overlapping(np.random.default_rng(1), 2, n_features=2)
    frame = pd.DataFrame(X, columns=["intercept", "x"])
    table = mle(frame, y).coef_table(frame, y)
    assert list(table.index) == ["intercept", "x", "_intercept"]
    assert table.index.is_unique
