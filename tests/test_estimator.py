"""The estimator against references: LogisticRegression, statsmodels, real data."""

import dataclasses
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import badly_scaled_classification
from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._backends import counted_passes
from sklearn_gdlogreg._reference import reference_objective

# The tolerance of "the same model": coefficients relative to their largest entry.
RTOL = 1e-5


def reference(X, y, sample_weight=None, **params):
    return LogisticRegression(
        solver="newton-cholesky", tol=1e-12, max_iter=1000, **params
    ).fit(X, y, sample_weight=sample_weight)


def planned(**changes):
    """The estimator with its fit's plan changed (a path a test picks)."""

    class Planned(GradientDescentLogisticRegression):
        def _plan(self, objective, start):
            return dataclasses.replace(super()._plan(objective, start), **changes)

    return Planned


def assert_same_model(ours, ref, X):
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=RTOL, atol=RTOL * scale)
    # The intercepts at the data's centre: on raw data the intercept itself
    # moves with mean @ coef, by far more than the coefficients' tolerance.
    mean = np.asarray(X.mean(axis=0)).ravel()
    np.testing.assert_allclose(
        ours.intercept_ + ours.coef_ @ mean,
        ref.intercept_ + ref.coef_ @ mean,
        rtol=RTOL,
        atol=RTOL * max(scale, 1),
    )
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=RTOL)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("C", [0.01, 1.0, np.inf])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighting", ["none", "sample_weight", "balanced"])
def test_same_model_as_logistic_regression(n_classes, C, fit_intercept, weighting):
    X, y = badly_scaled_classification(n_classes)
    if n_classes == 2:
        y = (y > 0).astype(int)  # unbalanced: 2/3 positive
    params = dict(C=C, fit_intercept=fit_intercept)
    if weighting == "balanced":
        params["class_weight"] = "balanced"
    sample_weight = None
    if weighting == "sample_weight":
        sample_weight = np.random.RandomState(1).uniform(0.1, 3, size=len(y))
    ours = GradientDescentLogisticRegression(tol=1e-8, max_iter=20_000, **params)
    ours.fit(X, y, sample_weight=sample_weight)
    assert ours.n_iter_ < 20_000
    assert_same_model(ours, reference(X, y, sample_weight, **params), X)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_both_solvers_reach_the_same_model(solver):
    X, y = badly_scaled_classification(3)
    ours = GradientDescentLogisticRegression(solver=solver, tol=1e-8, max_iter=50_000)
    assert_same_model(ours.fit(X, y), reference(X, y), X)


def test_raw_iris_converges_with_defaults():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning, no numpy warning
        ours = GradientDescentLogisticRegression().fit(X, y)
    assert ours.n_iter_ < 100
    ref = reference(X, y)
    # The default tol bounds the gradient, not the probabilities.
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=5e-3)
    tight = GradientDescentLogisticRegression(tol=1e-8).fit(X, y)
    assert tight.n_iter_ < 1000
    assert_same_model(tight, ref, X)


def statsmodels_data(name):
    """Raw, unscaled data from statsmodels: features and integer labels."""
    sm = pytest.importorskip("statsmodels.api")
    if name == "spector":  # GPA ~3, TUCE ~20
        data = sm.datasets.spector.load_pandas()
        return data.exog.to_numpy(), data.endog.to_numpy().astype(int)
    if name == "fair":  # ages ~30, years married ~10; any affair or none
        data = sm.datasets.fair.load_pandas()
        return data.exog.to_numpy(), (data.endog.to_numpy() > 0).astype(int)
    # anes96: party identification, 7 classes; population logs, ages, incomes
    data = sm.datasets.anes96.load_pandas()
    columns = ["logpopul", "selfLR", "age", "educ", "income"]
    return data.exog[columns].to_numpy(), data.endog.to_numpy().astype(int)


@pytest.mark.parametrize("name", ["spector", "fair", "anes96"])
def test_maximum_likelihood_on_raw_data_matches_statsmodels(name):
    sm = pytest.importorskip("statsmodels.api")
    X, y = statsmodels_data(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # within max_iter=1000
        ours = GradientDescentLogisticRegression(C=np.inf, tol=1e-8).fit(X, y)
    design = sm.add_constant(X)
    if len(ours.classes_) == 2:
        mle = sm.Logit(y, design).fit(disp=0).params
        found = np.concatenate([ours.intercept_, ours.coef_[0]])
    else:
        # MNLogit measures every class against class 0; the symmetric
        # softmax's differences to class 0 are the same parameters.
        mle = sm.MNLogit(y, design).fit(disp=0, maxiter=200).params
        coef = np.vstack([ours.intercept_, ours.coef_.T])
        found = coef[:, 1:] - coef[:, [0]]
    # Four significant digits.
    np.testing.assert_allclose(found, mle, rtol=5e-5)


def test_string_labels_and_label_order():
    X, y = load_wine(return_X_y=True)
    names = np.array(["barolo", "grignolino", "barbera"])[y]
    ours = make_pipeline(StandardScaler(), GradientDescentLogisticRegression())
    ours.fit(X, names)
    clf = ours[-1]
    np.testing.assert_array_equal(clf.classes_, ["barbera", "barolo", "grignolino"])
    assert ours.score(X, names) > 0.98
    assert set(ours.predict(X)) <= set(names)


@pytest.mark.parametrize(
    "load, threshold",
    [(load_breast_cancer, 0.96), (load_digits, 0.90), (load_wine, 0.95)],
)
def test_cross_validated_accuracy_on_real_data(load, threshold):
    X, y = load(return_X_y=True)
    ours = make_pipeline(StandardScaler(), GradientDescentLogisticRegression())
    ref = make_pipeline(StandardScaler(), LogisticRegression())
    ours_scores = cross_val_score(ours, X, y, cv=5)
    ref_scores = cross_val_score(ref, X, y, cv=5)
    assert ours_scores.mean() > threshold
    np.testing.assert_allclose(ours_scores.mean(), ref_scores.mean(), atol=0.01)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_learning_rate():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), GradientDescentLogisticRegression(solver="gd")
    )
    grid = {
        "gradientdescentlogisticregression__learning_rate": [1e-3, 0.1, 1.0, "auto"]
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    # A step of 1e-3 barely moves in 1000 iterations; the larger ones converge.
    assert scores[0] < scores[2]
    assert (
        search.best_params_["gradientdescentlogisticregression__learning_rate"] != 1e-3
    )
    assert search.best_score_ > 0.96


def test_binary_decision_function_sign_and_shapes():
    X, y = load_breast_cancer(return_X_y=True)
    labels = np.where(y == 1, "benign", "malignant")
    ours = make_pipeline(StandardScaler(), GradientDescentLogisticRegression()).fit(
        X, labels
    )
    clf = ours[-1]
    scores = ours.decision_function(X)
    assert scores.shape == (len(y),) and clf.coef_.shape == (1, 30)
    assert clf.intercept_.shape == (1,)
    np.testing.assert_array_equal(
        ours.predict(X), clf.classes_[(scores > 0).astype(int)]
    )
    proba = ours.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    np.testing.assert_allclose(np.exp(ours.predict_log_proba(X)), proba, rtol=1e-12)


def test_multiclass_shapes_and_log_proba():
    X, y = load_iris(return_X_y=True)
    clf = GradientDescentLogisticRegression().fit(X, y)
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    assert clf.decision_function(X).shape == (150, 3)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), clf.predict_proba(X))
    assert len(clf.loss_curve_) == clf.n_iter_ + 1
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_one_hot_features_give_the_same_model_in_few_iterations(n_classes, fmt):
    # One-hot encoded features (the metric keeps each feature's covariance):
    # the same model as LogisticRegression, weighted; 22 and 34 iterations
    # here, where the diagonal metric takes 70 and 85 at this tol.
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.RandomState(0)
    codes = rng.randint(0, 6, size=(3000, 4))
    X = OneHotEncoder().fit_transform(codes).asformat(fmt)
    scores = X @ rng.normal(size=X.shape[1]) + rng.logistic(size=3000)
    y = np.digitize(scores, [-1, 1] if n_classes == 3 else [0])
    sample_weight = rng.uniform(0, 3, size=3000)
    ours = GradientDescentLogisticRegression(tol=1e-8, max_iter=1000)
    ours.fit(X, y, sample_weight=sample_weight)
    assert ours.n_iter_ <= 45
    assert_same_model(ours, reference(X, y, sample_weight), X)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_tall_data_give_the_same_model_with_metrics_from_a_sample(n_classes):
    # 20 000 rows: the full metrics come from every other row (see
    # metric_rows), on raw scales, with an exactly collinear column and
    # weights. The model is the same; the metric only shapes the steps.
    X, y = badly_scaled_classification(n_classes, n_samples=20_000)
    X = np.column_stack([X, 2 * X[:, 0] + X[:, 1]])
    sample_weight = np.random.RandomState(2).uniform(0, 3, size=len(y))
    ours = GradientDescentLogisticRegression(tol=1e-8, max_iter=1000)
    ours.fit(X, y, sample_weight=sample_weight)
    assert ours.n_iter_ <= 40
    assert_same_model(ours, reference(X, y, sample_weight), X)


@pytest.mark.parametrize("data", ["digits", "tall"])
def test_many_classes_give_the_same_model_with_the_class_blocks_metric(data):
    # More coefficients than the coupled Hessian takes: the metric keeps each
    # class's block of the Hessian (ClassBlockMetric; on the tall data, from
    # every other row). Digits take 37 iterations, where one metric for all
    # classes took 169.
    if data == "digits":
        X, y = load_digits(return_X_y=True)
    else:
        X, y = make_classification(
            n_samples=20_000, n_features=30, n_informative=10, n_classes=10,
            n_clusters_per_class=1, random_state=0,
        )  # fmt: skip
    X = StandardScaler().fit_transform(X)
    ours = GradientDescentLogisticRegression(tol=1e-8, max_iter=1000).fit(X, y)
    assert ours.n_iter_ <= 60
    assert_same_model(ours, reference(X, y), X)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_wide_data_give_the_same_model_with_kept_scores(n_classes, fit_intercept):
    # 400 features, past the full metric: the solver keeps each point's
    # scores and combines the momentum point's (_plan.keeps_scores: products
    # with X rather than linear passes), on raw scales with weights. The
    # model is the same.
    X, y = make_classification(
        n_samples=600, n_features=400, n_informative=40, n_classes=n_classes,
        n_clusters_per_class=1, random_state=0,
    )  # fmt: skip
    rng = np.random.RandomState(1)
    X = X * 10 ** rng.uniform(-1, 1, 400) + rng.uniform(-5, 5, 400)
    sample_weight = rng.uniform(0.5, 2, size=len(y))
    params = dict(C=0.1, fit_intercept=fit_intercept)
    ours = GradientDescentLogisticRegression(tol=1e-8, max_iter=5000, **params)
    with counted_passes() as passes:
        ours.fit(X, y, sample_weight=sample_weight)
    assert passes["transposed_product"] > 0 and ours.n_iter_ < 5000
    assert_same_model(ours, reference(X, y, sample_weight, **params), X)
    # The loss curve ends at the returned model's objective (the momentum
    # point's, where the optimality was measured; the solver's tests check
    # that it is that point's and not the iterate's).
    value = reference_objective(ours, X, y, sample_weight=sample_weight, C=0.1)
    assert value == pytest.approx(ours.loss_curve_[-1], rel=1e-10)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_wide_l1_fit_with_kept_scores_is_the_fit_without(n_classes):
    # An L1 fit on wide data keeps the scores: the same coefficients and
    # zeros as the full evaluations give (checked against saga on other
    # data by test_l1_and_elastic_net_match_saga_with_exact_zeros). Each
    # fit stops within about tol over the L2 term's curvature (0.015) of the
    # minimum: at tol=1e-12, two fits agree to 1e-9 or better.
    X, y = make_classification(
        n_samples=400, n_features=400, n_informative=20, n_classes=n_classes,
        n_clusters_per_class=1, random_state=1,
    )  # fmt: skip
    params = dict(C=0.05, l1_ratio=0.7, tol=1e-12, max_iter=20_000)
    kept, full = (
        planned(keep_scores=keep)(**params).fit(X, y) for keep in (True, False)
    )
    assert (kept.coef_ == 0).any()
    np.testing.assert_array_equal(kept.coef_ == 0, full.coef_ == 0)
    np.testing.assert_allclose(kept.coef_, full.coef_, atol=1e-8)
    np.testing.assert_allclose(kept.intercept_, full.intercept_, atol=1e-8)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sparse_and_dense_give_the_same_model(n_classes):
    X, y = badly_scaled_classification(n_classes)
    X[np.abs(X) < np.median(np.abs(X), axis=0)] = 0  # make it sparse for real
    # Their metrics differ (the dense one is the Hessian, the sparse one its
    # diagonal), so they stop at different points within tol: a tol far
    # below the coefficients' rtol (about tol / the smallest curvature).
    dense = GradientDescentLogisticRegression(tol=1e-10, max_iter=20_000).fit(X, y)
    for fmt in (sp.csr_matrix, sp.csc_array):
        sparse = GradientDescentLogisticRegression(tol=1e-10, max_iter=20_000).fit(
            fmt(X), y
        )
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(
            sparse.predict_proba(fmt(X)), dense.predict_proba(X), rtol=1e-6
        )


@pytest.mark.parametrize("standardise", [True, False])
def test_float32_is_kept_and_as_accurate_as_float32_allows(standardise):
    X, y = load_breast_cancer(return_X_y=True)
    if standardise:
        X = StandardScaler().fit_transform(X)
    reference = LogisticRegression(
        solver="newton-cholesky", tol=1e-12, max_iter=1000
    ).fit(X, y)
    X32 = X.astype(np.float32)
    ours32 = GradientDescentLogisticRegression(tol=1e-6).fit(X32, y)
    assert ours32.coef_.dtype == np.float32 and ours32.intercept_.dtype == np.float32
    proba = ours32.predict_proba(X32)
    assert proba.dtype == np.float32
    # What to expect of float32 at tol=1e-6 (user guide): coefficients to about
    # 1e-3 of the largest, probabilities to about 2e-4.
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(ours32.coef_, reference.coef_, atol=1e-3 * scale)
    np.testing.assert_allclose(proba, reference.predict_proba(X), atol=2e-4)


def test_warm_start_continues_from_previous_fit():
    X, y = load_iris(return_X_y=True)
    clf = GradientDescentLogisticRegression(warm_start=True, tol=1e-6)
    clf.fit(X, y)
    first = clf.n_iter_
    clf.fit(X, y)
    assert clf.n_iter_ < max(first // 10, 2)
    cold = GradientDescentLogisticRegression(tol=1e-6).fit(X, y)
    np.testing.assert_allclose(clf.coef_, cold.coef_, atol=1e-4)


def test_multinomial_steps_keep_the_classes_mean_coefficients_at_zero():
    # With collinear features the metric sees almost no curvature in the same
    # change to every class's coefficients; the objective sees none but the
    # penalty's. Rounding errors there grew to 1e-3 of the coefficients in 15
    # iterations before the steps left that direction out.
    X, y = make_classification(
        n_samples=3000, n_features=20, n_informative=6, n_redundant=4,
        n_classes=10, n_clusters_per_class=1, random_state=0,
    )  # fmt: skip
    X = StandardScaler().fit_transform(X)
    for max_iter in (10, 15, 30):
        clf = GradientDescentLogisticRegression(max_iter=max_iter, tol=1e-12)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        means = np.abs(clf.coef_.mean(axis=0)).max()
        assert means <= 1e-10 * np.abs(clf.coef_).max()


def test_warm_start_from_an_l1_fit_reaches_the_l2_minimum():
    # An L1 fit's coefficients need not sum to zero over the classes; the L2
    # fit's steps leave that sum alone, so the warm start must remove it.
    X, y = badly_scaled_classification(3)
    clf = GradientDescentLogisticRegression(l1_ratio=0.8, C=0.1, tol=1e-6).fit(X, y)
    assert np.abs(clf.coef_.sum(axis=0)).max() > 1e-3
    clf.set_params(l1_ratio=0.0, warm_start=True, tol=1e-8, max_iter=10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert_same_model(clf, reference(X, y, C=0.1), X)


def test_verbose_prints_the_notebook_report(capsys):
    X, y = load_iris(return_X_y=True)
    # The notebook's loop: a constant step (the adaptive one converges in 13).
    notebook = GradientDescentLogisticRegression(
        verbose=10, solver="gd", learning_rate=0.5, max_iter=25
    )
    with pytest.warns(ConvergenceWarning):
        notebook.fit(X, y)
    plan, *lines = capsys.readouterr().out.strip().splitlines()
    # First the fit's plan (see _plan.FitPlan), then the notebook's report.
    assert plan.startswith("fit plan: adaptive=False, accelerated=False")
    iterations = [int(line.split()[1]) for line in lines]
    assert iterations[:3] == [0, 10, 20]
    assert all("objective" in line for line in lines)


def test_convergence_warning_names_max_iter_and_tol():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=5.*tol=1e-08"):
        clf = GradientDescentLogisticRegression(max_iter=5, tol=1e-8).fit(X, y)
    assert clf.n_iter_ == 5


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [0.5, 1.0])
@pytest.mark.parametrize("C", [0.05, 1.0])
def test_l1_and_elastic_net_match_saga_with_exact_zeros(n_classes, l1_ratio, C):
    X, y = badly_scaled_classification(n_classes)
    X = StandardScaler().fit_transform(X)  # saga needs scaled data to converge
    ours = GradientDescentLogisticRegression(C=C, l1_ratio=l1_ratio, tol=1e-10)
    ours.fit(X, y)
    ref = LogisticRegression(
        C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-7)
    np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)
    # saga's intercept can stop short (with all coefficients zero it is off by
    # 4e-3 here), so check the intercept's own optimality condition instead:
    # the mean predicted probability of each class is its frequency.
    frequencies = np.bincount(y) / len(y)
    np.testing.assert_allclose(
        ours.predict_proba(X).mean(axis=0), frequencies, atol=1e-9
    )
    if C == 0.05:
        assert (ours.coef_ == 0).any()  # the penalty is strong enough to select


def test_constant_step_on_standardised_data_is_the_notebooks_update():
    # The documented meaning of a float learning_rate: on data with zero mean
    # and unit variance and no penalty, solver="gd" is exactly the loop
    # w -= learning_rate * grad, with the (correct) gradient of the mean loss.
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    learning_rate, n_iter = 0.5, 7
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(n_iter):
        y_pred = 1 / (1 + np.exp(-(X @ w + b)))
        grad = (y_pred - y) / len(y)
        w -= learning_rate * X.T @ grad
        b -= learning_rate * grad.sum()
    clf = GradientDescentLogisticRegression(
        solver="gd", learning_rate=learning_rate, C=np.inf, max_iter=n_iter
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    np.testing.assert_allclose(clf.coef_[0], w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(clf.intercept_[0], b, atol=1e-12)


@pytest.mark.parametrize("solver", ["nesterov", "gd"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_feature_units_do_not_change_the_iterations(solver, n_classes):
    # Centring and the metric make the steps independent of the features'
    # units: rescaled and shifted features give the same iterates (only
    # rounding differs), hence about the same number of iterations.
    X, y = badly_scaled_classification(n_classes)
    scale, shift = np.array([1e-3, 1, 1e3, 10, 1e2]), np.array([5, -1e3, 0, 1e4, 2])
    fits = [
        GradientDescentLogisticRegression(solver=solver, C=np.inf, tol=1e-8).fit(Z, y)
        for Z in (X, X * scale + shift)
    ]
    assert abs(fits[0].n_iter_ - fits[1].n_iter_) <= 2
    np.testing.assert_allclose(fits[1].coef_ * scale, fits[0].coef_, rtol=1e-5)
    np.testing.assert_allclose(
        fits[1].predict_proba(X * scale + shift), fits[0].predict_proba(X), atol=1e-7
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("params", [{}, {"l1_ratio": 0.5}, {"C": np.inf}])
def test_multinomial_intercepts_sum_to_zero_as_logistic_regressions(dtype, params):
    """With sample weights, L1 steps or float32 rounding the intercepts drift
    by a common shift, which the softmax ignores; they are centred."""
    X, y = load_iris(return_X_y=True)
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # C=inf on iris
        clf = GradientDescentLogisticRegression(**params).fit(
            X.astype(dtype), y, sample_weight=weights
        )
    scale = np.abs(clf.intercept_).max()
    assert abs(clf.intercept_.sum()) <= 10 * np.finfo(dtype).eps * scale * 3


def test_html_repr_does_not_link_to_scikit_learns_documentation():
    import re

    html = GradientDescentLogisticRegression()._repr_html_()
    links = re.findall(r'href="([^"]*)"', html)
    assert not [link for link in links if "scikit-learn.org" in link], links


def test_n_iter_is_an_int_as_in_sgd_classifier():
    """Decided (and documented): one solver run, one count, as SGDClassifier
    and MLPClassifier keep it; ``int(np.max(clf.n_iter_))`` reads LR's too."""
    X, y = load_iris(return_X_y=True)
    clf = GradientDescentLogisticRegression().fit(X, y)
    assert isinstance(clf.n_iter_, int)
    assert int(np.max(clf.n_iter_)) == clf.n_iter_ == len(clf.loss_curve_) - 1
