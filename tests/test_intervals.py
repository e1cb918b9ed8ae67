"""Confidence intervals of the predicted probabilities (``proba_interval``):
statsmodels' GLM on the spector data (binary, classical and HC0), the delta
method by finite differences with our covariance and with MNLogit's
(multinomial), sparse input, and clear errors."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from test_estimator import statsmodels_data

from sklearn_gdlogreg import GradientDescentLogisticRegression as Estimator
from sklearn_gdlogreg._statistics import proba_interval


def statsmodels_api():
    return pytest.importorskip(
        "statsmodels.api", reason="statsmodels is the reference of these intervals"
    )


def mle(X, y, **params):
    return Estimator(C=np.inf, tol=1e-10, max_iter=100_000, **params).fit(X, y)


def new_points(X, n=25, seed=0):
    """Points near the data's (not the rows fitted on), and the data's rows."""
    rng = np.random.RandomState(seed)
    picked = X[rng.randint(len(X), size=n)]
    return np.vstack(
        [X, picked + rng.normal(scale=0.3 * X.std(axis=0), size=picked.shape)]
    )


def delta_method(proba, theta, cov, alpha, step=1e-6):
    """Delta-method intervals of ``proba(theta)`` (rows, classes), its
    Jacobian by central differences: the reference written from the formula."""
    columns = []
    for j in range(theta.size):
        h = step * max(1.0, abs(theta[j]))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        columns.append((proba(up) - proba(down)) / (2 * h))
    jacobian = np.stack(columns, axis=-1)  # (n, K, p)
    variance = np.einsum("ijp,pq,ijq->ij", jacobian, cov, jacobian)
    p = proba(theta)
    half = stats.norm.ppf(1 - alpha / 2) * np.sqrt(variance)
    return np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)


def reference_proba(U, n_blocks):
    """Probabilities of the parameters in the covariance's order: per class
    k >= 1 a block ``[w_k, b_k]`` against class 0 (scores zero)."""

    def proba(theta):
        scores = U @ theta.reshape(n_blocks, U.shape[1]).T
        return softmax(np.hstack([np.zeros((U.shape[0], 1)), scores]), axis=1)

    return proba


@pytest.mark.parametrize("robust", [False, True])
def test_binary_intervals_are_glms(robust):
    sm = statsmodels_api()
    X, y = statsmodels_data("spector")
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial())
    fit = glm.fit(cov_type="HC0" if robust else "nonrobust", tol=1e-12)
    ours = mle(X, y)
    cov = ours.covariance_matrix(X, y, robust=robust)
    exog = new_points(X)
    expected = fit.get_prediction(sm.add_constant(exog)).conf_int(alpha=0.05)
    lower, upper = proba_interval(ours, exog, cov, 0.05)
    assert lower.shape == upper.shape == (len(exog), 2)
    np.testing.assert_allclose(lower[:, 1], expected[:, 0], atol=1e-4)
    np.testing.assert_allclose(upper[:, 1], expected[:, 1], atol=1e-4)
    np.testing.assert_allclose(lower[:, 0], 1 - expected[:, 1], atol=1e-4)
    np.testing.assert_allclose(upper[:, 0], 1 - expected[:, 0], atol=1e-4)


def test_binary_intervals_without_intercept_are_glms():
    sm = statsmodels_api()
    X, y = statsmodels_data("spector")
    X = X - X.mean(axis=0)
    fit = sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-12)
    ours = mle(X, y, fit_intercept=False)
    cov = ours.covariance_matrix(X, y)
    assert cov.shape == (3, 3)
    exog = new_points(X)
    expected = fit.get_prediction(exog).conf_int(alpha=0.1)
    lower, upper = proba_interval(ours, exog, cov, 0.1)
    np.testing.assert_allclose(lower[:, 1], expected[:, 0], atol=1e-4)
    np.testing.assert_allclose(upper[:, 1], expected[:, 1], atol=1e-4)


def test_multinomial_intervals_are_the_delta_method():
    """With our covariance: the Jacobian of the probabilities in the
    covariance's parameters (each class against the first) by differences."""
    X, y = statsmodels_data("anes96")
    ours = mle(X, y)
    cov = ours.covariance_matrix(X, y)
    exog = new_points(X)
    U = np.hstack([exog, np.ones((len(exog), 1))])
    rows = np.hstack([ours.coef_, ours.intercept_[:, None]])
    theta = (rows[1:] - rows[0]).ravel()
    proba = reference_proba(U, len(ours.classes_) - 1)
    np.testing.assert_allclose(proba(theta), ours.predict_proba(exog), atol=1e-12)
    expected = delta_method(proba, theta, cov, 0.05)
    lower, upper = proba_interval(ours, exog, cov, 0.05)
    assert lower.shape == upper.shape == (len(exog), 7)
    np.testing.assert_allclose(lower, expected[0], atol=1e-7)
    np.testing.assert_allclose(upper, expected[1], atol=1e-7)


@pytest.mark.parametrize("robust", [False, True])
def test_multinomial_intervals_are_mnlogits_delta_method(robust):
    """MNLogit has no intervals of its predictions: the delta method by
    differences on its parameters and ``cov_params`` (the first class the
    reference, as ours; the constant moved last in each class's block)."""
    sm = statsmodels_api()
    X, y = statsmodels_data("anes96")
    fit = sm.MNLogit(y, sm.add_constant(X)).fit(
        disp=0, method="newton", maxiter=100, cov_type="HC0" if robust else "nonrobust"
    )
    n_blocks, d = fit.params.shape[1], X.shape[1] + 1
    # Parameters one class after another (params raveled by columns), each
    # block's constant first: theirs -> ours.
    order = (np.arange(n_blocks)[:, None] * d + np.roll(np.arange(d), -1)).ravel()
    theta = np.asarray(fit.params).ravel(order="F")[order]
    cov_params = np.asarray(fit.cov_params())[np.ix_(order, order)]
    exog = new_points(X)
    U = np.hstack([exog, np.ones((len(exog), 1))])
    expected = delta_method(reference_proba(U, n_blocks), theta, cov_params, 0.05)
    ours = mle(X, y)
    lower, upper = proba_interval(
        ours, exog, ours.covariance_matrix(X, y, robust=robust), 0.05
    )
    np.testing.assert_allclose(lower, expected[0], atol=1e-4)
    np.testing.assert_allclose(upper, expected[1], atol=1e-4)


def sparse_problem(n_classes, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(300, 6)) * (rng.uniform(size=(300, 6)) < 0.4)
    scores = X @ rng.normal(size=(6, n_classes)) + rng.gumbel(size=(300, n_classes))
    return X, scores.argmax(axis=1)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("sparse", [sp.csr_matrix, sp.csc_matrix])
def test_sparse_input_gives_the_dense_intervals(n_classes, sparse):
    X, y = sparse_problem(n_classes)
    model = mle(X, y)
    cov = model.covariance_matrix(X, y)
    dense = proba_interval(model, X, cov, 0.05)
    # Blocks of a few rows: the same intervals as one block.
    seven_rows = 7 * (n_classes - 1) ** 2 * 7
    for bounds in (
        proba_interval(model, sparse(X), cov, 0.05, block_size=seven_rows),
        proba_interval(model, X, cov, 0.05, block_size=seven_rows),
    ):
        np.testing.assert_allclose(bounds[0], dense[0], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(bounds[1], dense[1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("C", [np.inf, 0.1])
def test_intervals_contain_predict_proba_and_nest(n_classes, C):
    X, y = sparse_problem(n_classes, seed=1)
    model = Estimator(C=C, tol=1e-10, max_iter=100_000).fit(X, y)
    cov = model.covariance_matrix(X, y, robust=True)
    exog = new_points(X)
    proba = model.predict_proba(exog)
    wide = proba_interval(model, exog, cov, 0.01)
    narrow = proba_interval(model, exog, cov, 0.2)
    for lower, upper in (wide, narrow):
        assert np.all((0 <= lower) & (lower <= proba + 1e-12))
        assert np.all((proba - 1e-12 <= upper) & (upper <= 1))
    assert np.all(wide[0] <= narrow[0] + 1e-12)
    assert np.all(narrow[1] <= wide[1] + 1e-12)
    assert np.all(wide[1] - wide[0] > 0)


@pytest.mark.parametrize("alpha", [0, 1, -0.1, 1.5, np.nan, "0.05", None])
def test_bad_alpha_is_refused(alpha):
    X, y = sparse_problem(2)
    model = mle(X, y)
    cov = model.covariance_matrix(X, y)
    with pytest.raises(ValueError, match="alpha"):
        proba_interval(model, X, cov, alpha)


def test_unfitted_model_is_refused():
    X, _ = sparse_problem(2)
    with pytest.raises(NotFittedError):
        proba_interval(Estimator(), X, np.eye(7), 0.05)


def test_covariance_of_another_shape_is_refused():
    X, y = sparse_problem(4)
    model = mle(X, y)
    with pytest.raises(ValueError, match="covariance_matrix"):
        proba_interval(model, X, np.eye(7), 0.05)
    with pytest.raises(ValueError, match="features"):
        proba_interval(model, X[:, :3], model.covariance_matrix(X, y), 0.05)


def test_separated_classes_give_nan_bounds():
    X = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    y = np.array([0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = Estimator(C=np.inf, max_iter=50).fit(X, y)
        cov = model.covariance_matrix(X, y)
    assert np.isnan(cov).all()
    lower, upper = proba_interval(model, X, cov, 0.05)
    assert np.isnan(lower).all() and np.isnan(upper).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_unidentified_parameters_give_nan_bounds_where_they_enter(n_classes):
    """Two proportional columns: neither coefficient is identified, so the
    rows that have them get NaN; the rows where both are zero predict from
    the intercept (and the other columns) alone, and keep their bounds."""
    X, y = sparse_problem(n_classes, seed=2)
    X = np.hstack([X, 2 * X[:, :1]])
    model = mle(X, y)
    with pytest.warns(UserWarning, match="not identified"):
        cov = model.covariance_matrix(X, y)
    lower, upper = proba_interval(model, X, cov, 0.05)
    zero = X[:, 0] == 0
    assert 0 < zero.sum() < len(X)
    assert np.isnan(lower[~zero]).all() and np.isnan(upper[~zero]).all()
    assert np.isfinite(lower[zero]).all() and np.isfinite(upper[zero]).all()
    # Those rows' bounds are those of the model with the column once.
    kept = X[:, :-1]
    reduced = mle(kept, y)
    expected = proba_interval(
        reduced, kept[zero], reduced.covariance_matrix(kept, y), 0.05
    )
    np.testing.assert_allclose(lower[zero], expected[0], atol=1e-6)
    np.testing.assert_allclose(upper[zero], expected[1], atol=1e-6)


def test_a_nan_covariance_marks_both_of_its_parameters():
    """A NaN off the diagonal (not one ``covariance_matrix`` makes) is not
    read as zero: the rows that load on either parameter get NaN."""
    X, y = sparse_problem(2, seed=3)
    model = mle(X, y)
    cov = model.covariance_matrix(X, y)
    cov[1, 2] = cov[2, 1] = np.nan
    lower, upper = proba_interval(model, X, cov, 0.05)
    loads = (X[:, 1] != 0) | (X[:, 2] != 0)
    assert np.isnan(lower[loads]).all() and np.isnan(upper[loads]).all()
    assert np.isfinite(lower[~loads]).all() and np.isfinite(upper[~loads]).all()


def test_float32_input_gives_the_float64_intervals():
    X, y = sparse_problem(4, seed=4)
    model = mle(X, y)
    cov = model.covariance_matrix(X, y)
    X32 = X.astype(np.float32)
    single = proba_interval(model, X32, cov, 0.05)
    double = proba_interval(model, X32.astype(np.float64), cov, 0.05)
    assert single[0].dtype == np.float64
    np.testing.assert_allclose(single[0], double[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(single[1], double[1], rtol=1e-12, atol=1e-15)
