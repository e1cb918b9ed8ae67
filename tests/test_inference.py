"""Standard errors: statsmodels' on raw data, the penalised Hessian by finite
differences, frequency weights, and clear errors where they do not apply."""

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import badly_scaled_classification
from scipy.special import expit
from sklearn.exceptions import ConvergenceWarning
from test_estimator import statsmodels_data

from sklearn_gdlogreg import GradientDescentLogisticRegression as Estimator

sm = pytest.importorskip("statsmodels.api")
pd = pytest.importorskip("pandas")


def mle(X, y):
    return Estimator(C=np.inf, tol=1e-10, max_iter=100_000).fit(X, y)


@pytest.mark.parametrize("robust", [False, True])
def test_binary_standard_errors_are_statsmodels(robust):
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
        model = Estimator(max_iter=3).fit(wide, labels)
    with pytest.raises(ValueError, match=r"200001 parameters would take \d+\.\d GiB"):
        model.covariance_matrix(wide, labels)
