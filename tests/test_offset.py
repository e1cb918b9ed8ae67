"""Offsets (issue 26, item 1): a known term added to the scores, in fit and
in every predict method, on every kind of input, through metadata routing;
against statsmodels' GLM with an offset and against L-BFGS on the formula."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import expit, log_softmax, softmax
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression

TIGHT = dict(tol=1e-10, max_iter=20_000)


def offset_data(n_classes, seed, n=500, d=3):
    """Labels drawn from a logistic model whose scores have an offset (one
    column per class for more than two)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d)
    if n_classes == 2:
        offset = rng.normal(0, 1.5, size=n)
        p1 = expit(X @ rng.normal(size=d) + 0.3 + offset)
        y = (rng.random(n) < p1).astype(int)
    else:
        offset = rng.normal(0, 1.5, size=(n, n_classes))
        P = softmax(X @ rng.normal(size=(d, n_classes)) + offset, axis=1)
        y = np.array([rng.choice(n_classes, p=p) for p in P])
    return X, y, offset


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix, sp.csc_matrix])
@pytest.mark.parametrize("seed", [0, 1])
def test_binary_offset_is_statsmodels_glm(container, seed):
    sm = pytest.importorskip("statsmodels.api", reason="statsmodels (test extra)")
    X, y, offset = offset_data(2, seed)
    weights = np.random.default_rng(seed).integers(1, 4, size=len(y)).astype(float)
    ours = GradientDescentLogisticRegression(C=np.inf, **TIGHT)
    ours.fit(container(X), y, sample_weight=weights, offset=offset)
    glm = sm.GLM(
        y, sm.add_constant(X), family=sm.families.Binomial(), offset=offset,
        freq_weights=weights,
    ).fit(tol=1e-12)  # fmt: skip
    np.testing.assert_allclose(ours.intercept_[0], glm.params[0], atol=1e-6)
    np.testing.assert_allclose(ours.coef_[0], glm.params[1:], atol=1e-6)
    expected = glm.predict(sm.add_constant(X), offset=offset)
    got = ours.predict_proba(container(X), offset=offset)[:, 1]
    np.testing.assert_allclose(got, expected, atol=1e-7)


def multinomial_minimum(X, y, offset, C):
    """``LogisticRegression``'s multinomial objective with the offset, at
    its minimum by L-BFGS: ``(coef, intercept)``."""
    _n, d = X.shape
    K = offset.shape[1]
    Y = np.eye(K)[y]

    def fun(theta):
        W, b = theta[: d * K].reshape(d, K), theta[d * K :]
        Z = X @ W + b + offset
        R = softmax(Z, axis=1) - Y
        value = -(Y * log_softmax(Z, axis=1)).sum() + (W**2).sum() / (2 * C)
        return value, np.concatenate([(X.T @ R + W / C).ravel(), R.sum(axis=0)])

    theta = minimize(
        fun, np.zeros(d * K + K), jac=True, method="L-BFGS-B",
        options=dict(maxiter=50_000, ftol=0, gtol=1e-12),
    ).x  # fmt: skip
    return theta[: d * K].reshape(d, K).T, theta[d * K :]


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_multinomial_offset_is_the_minimum_of_the_formula(container):
    X, y, offset = offset_data(4, 2)
    ours = GradientDescentLogisticRegression(C=1.0, **TIGHT)
    ours.fit(container(X), y, offset=offset)
    coef, intercept = multinomial_minimum(X, y, offset, 1.0)
    np.testing.assert_allclose(ours.coef_, coef, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, intercept - intercept.mean(), atol=1e-6)
    Z = X @ ours.coef_.T + ours.intercept_ + offset
    np.testing.assert_allclose(
        ours.predict_proba(container(X), offset=offset), softmax(Z, axis=1), atol=1e-12
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_a_constant_offset_moves_only_the_intercept(n_classes):
    X, y, _ = offset_data(n_classes, 3)
    shift = np.random.default_rng(3).normal(size=1 if n_classes == 2 else n_classes)
    offset = np.broadcast_to(shift, (len(y),) if n_classes == 2 else (len(y), 3))
    plain = GradientDescentLogisticRegression(**TIGHT).fit(X, y)
    shifted = GradientDescentLogisticRegression(**TIGHT).fit(X, y, offset=offset)
    np.testing.assert_allclose(shifted.coef_, plain.coef_, atol=1e-7)
    expected = plain.intercept_ - shift
    if n_classes > 2:  # intercepts sum to zero
        expected = expected - expected.mean()
    np.testing.assert_allclose(shifted.intercept_, expected, atol=1e-7)
    np.testing.assert_allclose(
        shifted.predict_proba(X, offset=offset), plain.predict_proba(X), atol=1e-7
    )


@pytest.mark.parametrize("n_classes", [2, 3])
def test_every_predict_method_takes_the_offset(n_classes):
    X, y, offset = offset_data(n_classes, 4)
    model = GradientDescentLogisticRegression(C=0.5).fit(X, y, offset=offset)
    scores = model.decision_function(X, offset=offset)
    # Without an offset a model fitted with offsets says so: an offset of zero.
    with pytest.warns(UserWarning, match="fitted with offsets"):
        unshifted = model.decision_function(X)
    np.testing.assert_allclose(scores, unshifted + offset)
    proba = model.predict_proba(X, offset=offset)
    np.testing.assert_allclose(np.log(proba), model.predict_log_proba(X, offset=offset))
    np.testing.assert_array_equal(
        model.predict(X, offset=offset), model.classes_[proba.argmax(axis=1)]
    )
    assert not np.allclose(proba, model.predict_proba(X, offset=np.zeros_like(offset)))


@pytest.mark.parametrize(
    ("n_classes", "shape", "message"),
    [
        (3, (500,), "changes no probability"),
        (2, (500, 2), "expected \\(500,\\)"),
        (3, (500, 2), "expected \\(500, 3\\)"),
        (2, (499,), "expected"),
    ],
)
def test_offsets_of_the_wrong_shape_are_clear_errors(n_classes, shape, message):
    X, y, _ = offset_data(n_classes, 5)
    with pytest.raises(ValueError, match=message):
        GradientDescentLogisticRegression().fit(X, y, offset=np.zeros(shape))
    model = GradientDescentLogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match=message):
        model.predict_proba(X, offset=np.zeros(shape))


def test_nan_offset_is_a_clear_error():
    X, y, offset = offset_data(2, 6)
    offset[3] = np.nan
    with pytest.raises(ValueError, match="offset"):
        GradientDescentLogisticRegression().fit(X, y, offset=offset)
    model = GradientDescentLogisticRegression().fit(X, y)
    with pytest.raises(ValueError, match="offset"):
        model.predict(X, offset=offset)


def test_offset_is_routed_in_pipelines_cross_validation_and_grid_search():
    X, y, offset = offset_data(2, 7)
    with config_context(enable_metadata_routing=True):
        model = GradientDescentLogisticRegression().set_fit_request(offset=True)
        model.set_score_request(offset=True)
        pipeline = make_pipeline(StandardScaler(), model)
        pipeline.fit(X, y, offset=offset)
        direct = GradientDescentLogisticRegression().fit(
            StandardScaler().fit_transform(X), y, offset=offset
        )
        np.testing.assert_allclose(pipeline[-1].coef_, direct.coef_)
        # The estimator's score (accuracy) takes the test folds' offsets:
        # scikit-learn's scorers pass no metadata to predict methods.
        routed = cross_val_score(pipeline, X, y, params={"offset": offset}, cv=5)
        search = GridSearchCV(
            pipeline, {"gradientdescentlogisticregression__C": [0.1, 10.0]}, cv=5
        ).fit(X, y, offset=offset)
    plain = cross_val_score(
        make_pipeline(StandardScaler(), GradientDescentLogisticRegression()),
        X, y, cv=5,
    )  # fmt: skip
    # The offset carries information the features do not: with it the
    # held-out accuracy is better (by about 0.1 on these data).
    assert routed.mean() > plain.mean() + 0.05
    assert search.best_score_ > plain.mean() + 0.05


def test_dask_offsets_give_the_in_memory_model():
    pytest.importorskip("dask", reason="dask (test extra)")
    import dask
    import dask.array as da

    for n_classes in (2, 3):
        X, y, offset = offset_data(n_classes, 8)
        memory = GradientDescentLogisticRegression(**TIGHT).fit(X, y, offset=offset)
        chunks = ((100,) * 5,)
        dX = da.from_array(X, chunks=(*chunks, (3,)))
        dy = da.from_array(y, chunks=chunks)
        doff = da.from_array(offset, chunks=chunks + ((-1,) * (offset.ndim - 1)))
        with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model = GradientDescentLogisticRegression(**TIGHT).fit(dX, dy, offset=doff)
            proba = model.predict_proba(dX, offset=doff).compute()
        np.testing.assert_allclose(model.coef_, memory.coef_, atol=1e-7)
        np.testing.assert_allclose(
            proba, memory.predict_proba(X, offset=offset), atol=1e-7
        )


@pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
def test_array_api_offsets_give_the_numpy_model():
    torch = pytest.importorskip("torch", reason="PyTorch (the torch extra)")
    pytest.importorskip("array_api_compat", reason="array-api-compat")
    for n_classes in (2, 3):
        X, y, offset = offset_data(n_classes, 9)
        memory = GradientDescentLogisticRegression(**TIGHT).fit(X, y, offset=offset)
        with config_context(array_api_dispatch=True):
            model = GradientDescentLogisticRegression(**TIGHT).fit(
                torch.asarray(X), torch.asarray(y), offset=torch.asarray(offset)
            )
            proba = model.predict_proba(torch.asarray(X), offset=torch.asarray(offset))
            coef, proba = model.coef_.numpy(), proba.numpy()
        np.testing.assert_allclose(coef, memory.coef_, atol=1e-7)
        np.testing.assert_allclose(
            proba, memory.predict_proba(X, offset=offset), atol=1e-7
        )


def test_standard_errors_and_intervals_with_offsets_are_statsmodels_glm():
    sm = pytest.importorskip("statsmodels.api", reason="statsmodels (test extra)")
    X, y, offset = offset_data(2, 10)
    ours = GradientDescentLogisticRegression(C=np.inf, **TIGHT)
    ours.fit(X, y, offset=offset)
    exog = sm.add_constant(X)
    for robust in (False, True):
        glm = sm.GLM(y, exog, family=sm.families.Binomial(), offset=offset).fit(
            tol=1e-12, cov_type="HC0" if robust else "nonrobust"
        )
        table = ours.coef_table(X, y, robust=robust, offset=offset)
        np.testing.assert_allclose(
            table["se"].to_numpy(), np.roll(glm.bse, -1), rtol=1e-5
        )
        cov = ours.covariance_matrix(X, y, robust=robust, offset=offset)
        lower, upper = ours.predict_proba_interval(X, cov=cov, offset=offset)
        expected = glm.get_prediction(exog, offset=offset).conf_int(alpha=0.05)
        np.testing.assert_allclose(lower[:, 1], expected[:, 0], atol=1e-6)
        np.testing.assert_allclose(upper[:, 1], expected[:, 1], atol=1e-6)
    # Without the offset the model is not at its minimum on these data.
    with pytest.warns(ConvergenceWarning, match="not at the minimum"):
        ours.covariance_matrix(X, y)


def test_corner_cases_of_offsets_are_clear():
    X, y, offset = offset_data(2, 11)
    for bad in (offset.astype("datetime64[ns]"), offset.astype(complex)):
        with pytest.raises(ValueError, match="real numbers"):
            GradientDescentLogisticRegression().fit(X, y, offset=bad)
    before = offset.copy()
    model = GradientDescentLogisticRegression().fit(X, y, offset=offset)
    model.predict_proba(X, offset=offset)
    np.testing.assert_array_equal(offset, before)  # never changed in place
    # A model fitted with offsets warns where it is given none, as
    # GridSearchCV without metadata routing scores it.
    with pytest.warns(UserWarning, match="fitted with offsets"):
        model.score(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GradientDescentLogisticRegression().fit(X, y).predict(X)


def test_dask_offsets_of_unknown_rows_are_refused_at_predict():
    pytest.importorskip("dask", reason="dask (test extra)")
    import dask
    import dask.array as da

    X, y, offset = offset_data(2, 12, n=300)
    dX = da.from_array(X, chunks=100)
    unknown = dX[da.ones(300, chunks=100, dtype=bool)]  # sizes dask forgets
    with dask.config.set(scheduler="synchronous"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = GradientDescentLogisticRegression().fit(
            unknown, da.from_array(y, chunks=100), offset=offset
        )
        with pytest.raises(ValueError, match="compute_chunk_sizes"):
            model.predict_proba(unknown, offset=offset[:201])
        proba = model.predict_proba(dX, offset=offset).compute()
    np.testing.assert_allclose(proba, model.predict_proba(X, offset=offset), rtol=1e-12)
