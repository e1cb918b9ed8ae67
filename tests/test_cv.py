"""GradientDescentLogisticRegressionCV: the C that LogisticRegressionCV picks,
the attributes' layout scikit-learn is moving to, paths that are real fits."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from scipy.special import softmax
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import brier_score_loss, get_scorer, log_loss
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import (
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
)


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_picks_the_same_C_as_logistic_regression_cv(cancer):
    X, y = cancer
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    ours = GradientDescentLogisticRegressionCV(Cs=10, cv=folds).fit(X, y)
    theirs = LogisticRegressionCV(
        Cs=10,
        cv=folds,
        scoring="neg_log_loss",
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    ).fit(X, y)
    assert ours.C_ == theirs.C_
    np.testing.assert_array_equal(ours.Cs_, theirs.Cs_)
    # Up to the chosen C, the same fold scores (both stop at their default tol, at
    # slightly different points).
    up_to = np.searchsorted(ours.Cs_, ours.C_) + 1
    np.testing.assert_allclose(
        ours.scores_[:, 0, :up_to], theirs.scores_[:, 0, :up_to], rtol=1e-2
    )


def test_attributes_layout_and_refit(cancer):
    X, y = cancer
    model = GradientDescentLogisticRegressionCV(Cs=4, l1_ratios=[0.0, 0.5], cv=3)
    model.fit(X, y)
    assert isinstance(model.C_, float) and isinstance(model.l1_ratio_, float)
    assert model.Cs_.shape == (4,) and model.l1_ratios_.shape == (2,)
    assert model.scores_.shape == (3, 2, 4)
    assert model.n_iter_.shape == (3, 2, 4)
    assert model.coefs_paths_.shape == (3, 2, 4, 1, X.shape[1] + 1)
    best = np.unravel_index(model.scores_.mean(axis=0).argmax(), (2, 4))
    assert (model.l1_ratio_, model.C_) == (
        model.l1_ratios_[best[0]],
        model.Cs_[best[1]],
    )
    # The refit is the plain estimator's fit at the chosen C and l1_ratio.
    plain = GradientDescentLogisticRegression(C=model.C_, l1_ratio=model.l1_ratio_)
    plain.fit(X, y)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    np.testing.assert_array_equal(model.intercept_, plain.intercept_)


def test_path_scores_are_those_of_fits_at_each_C(cancer):
    """Warm starts change where a fit starts, not where it ends: each score is
    the test log-loss of an independent fit at that C, to the tolerance."""
    X, y = cancer
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    Cs = [1e-3, 1e-2, 1e-1, 1.0]
    model = GradientDescentLogisticRegressionCV(Cs=Cs, cv=folds, tol=1e-8).fit(X, y)
    for f, (train, test) in enumerate(folds):
        for c, C in enumerate(Cs):
            fit = GradientDescentLogisticRegression(C=C, tol=1e-8)
            fit.fit(X[train], y[train])
            expected = -log_loss(y[test], fit.predict_proba(X[test]))
            assert model.scores_[f, 0, c] == pytest.approx(expected, rel=1e-6)
            np.testing.assert_allclose(
                model.coefs_paths_[f, 0, c, 0, :-1], fit.coef_[0], atol=1e-5
            )


def test_without_refit_the_folds_best_are_averaged(cancer):
    X, y = cancer
    model = GradientDescentLogisticRegressionCV(Cs=5, cv=3).fit(X, y)
    assert hasattr(model, "loss_curve_")  # of the refit
    model.set_params(refit=False).fit(X, y)
    assert not hasattr(model, "loss_curve_")  # no refit, no curve
    best = model.scores_[:, 0, :].argmax(axis=1)
    np.testing.assert_allclose(model.C_, model.Cs_[best].mean())
    chosen = model.coefs_paths_[np.arange(3), 0, best].mean(axis=0)
    np.testing.assert_allclose(model.coef_, chosen[:, :-1])
    np.testing.assert_allclose(model.intercept_, chosen[:, -1])


def test_multiclass_in_a_pipeline_with_weights():
    X, y = load_iris(return_X_y=True)
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    pipe = make_pipeline(
        StandardScaler(), GradientDescentLogisticRegressionCV(Cs=5, n_jobs=2)
    )
    pipe.fit(X, y, gradientdescentlogisticregressioncv__sample_weight=weights)
    model = pipe[-1]
    assert model.coef_.shape == (3, 4)
    assert model.coefs_paths_.shape == (5, 1, 5, 3, 5)
    assert pipe.score(X, y) > 0.9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning from the paths
        scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.mean() > 0.85


def test_bad_grids_and_weights_are_clear_errors(cancer):
    X, y = cancer
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\)"):
        GradientDescentLogisticRegressionCV(Cs=2).fit(X, y, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="negative"):
        GradientDescentLogisticRegressionCV(Cs=2).fit(
            X, y, sample_weight=-np.ones(len(y))
        )
    with pytest.raises(ValueError, match="Cs"):
        GradientDescentLogisticRegressionCV(Cs=[0.0, 1.0]).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratios"):
        GradientDescentLogisticRegressionCV(l1_ratios=[1.5]).fit(X, y)


# --- Folds that lack a class -------------------------------------------------


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def path_proba(rows, X):
    """The probabilities of a multinomial model of ``coefs_paths_`` (one row
    per class, the intercept last)."""
    return softmax(X @ rows[:, :-1].T + rows[:, -1], axis=1)


def folds_one_without_class_2(y):
    """Fold 0 has neither class 2 in its training part nor in its test part
    (so its scores do not depend on how far that class's intercept falls);
    the other two are stratified."""
    index = np.arange(len(y))
    train = index[(y < 2) & (index % 2 == 0)]
    test = index[(y < 2) & (index % 2 == 1)]
    X_dummy = np.zeros((len(y), 1))
    stratified = StratifiedKFold(2, shuffle=True, random_state=0).split(X_dummy, y)
    return [(train, test), *stratified]


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_training_fold_without_a_class_is_fitted_on_all_classes(iris, fit_intercept):
    """LogisticRegressionCV fits every fold with all the classes: the same
    scores and, where the minimum exists, the same coefficients."""
    X, y = iris
    folds = folds_one_without_class_2(y)
    Cs = [0.01, 0.1, 1.0]
    ours = GradientDescentLogisticRegressionCV(
        Cs=Cs, cv=folds, tol=1e-8, fit_intercept=fit_intercept
    ).fit(X, y)
    theirs = LogisticRegressionCV(
        Cs=Cs,
        cv=folds,
        tol=1e-8,
        max_iter=10_000,
        fit_intercept=fit_intercept,
        scoring="neg_log_loss",
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    ).fit(X, y)
    n_dof = X.shape[1] + fit_intercept
    assert ours.coefs_paths_.shape == theirs.coefs_paths_.shape == (3, 1, 3, 3, n_dof)
    assert ours.C_ == theirs.C_
    np.testing.assert_allclose(ours.scores_, theirs.scores_, rtol=1e-5)
    ours_paths, theirs_paths = ours.coefs_paths_.copy(), theirs.coefs_paths_.copy()
    if fit_intercept:
        for paths in (ours_paths, theirs_paths):
            # The softmax sees only differences of intercepts (both sum theirs
            # to zero); the intercept of class 2 in fold 0 has no minimum: it
            # falls until each solver's stopping rule (its probability ~tol).
            paths[..., -1] -= paths[..., :1, -1]
            paths[0, :, :, 2, -1] = 0
    np.testing.assert_allclose(ours_paths, theirs_paths, atol=1e-5)


def test_a_binary_training_fold_of_three_classes_is_the_multinomial_limit(iris):
    """With an intercept, the fold without class 2 is the limit of the
    three-class fit as that class's intercept goes to -inf: a two-class
    softmax, which is the binary fit at 2 C (half the penalty on the
    difference of the two rows)."""
    X, y = iris
    folds = folds_one_without_class_2(y)
    Cs = [0.01, 1.0]
    model = GradientDescentLogisticRegressionCV(Cs=Cs, cv=folds, tol=1e-8).fit(X, y)
    train = folds[0][0]
    for c, C in enumerate(Cs):
        binary = GradientDescentLogisticRegression(C=2 * C, tol=1e-10)
        binary.fit(X[train], y[train])
        rows = model.coefs_paths_[0, 0, c]
        np.testing.assert_allclose(
            rows[1, :-1] - rows[0, :-1], binary.coef_[0], atol=1e-6
        )
        assert rows[1, -1] - rows[0, -1] == pytest.approx(
            binary.intercept_[0], abs=1e-6
        )
        np.testing.assert_allclose(rows[2, :-1], 0, atol=1e-6)
        assert path_proba(rows, X[train])[:, 2].max() < 1e-6


@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csc_array])
def test_a_fold_without_a_class_with_sparse_X_and_string_labels(iris, container):
    X, y = iris
    folds = folds_one_without_class_2(y)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    dense = GradientDescentLogisticRegressionCV(Cs=[0.1, 1.0], cv=folds)
    sparse = clone(dense).fit(container(X), names)
    dense.fit(X, y)
    np.testing.assert_array_equal(sparse.classes_, np.unique(names))
    # Sparse fits take other steps (not decorrelated), so they stop at
    # other points within tol.
    np.testing.assert_allclose(sparse.scores_, dense.scores_, rtol=1e-2)


def test_sorted_labels_with_unshuffled_folds(iris):
    """KFold(3) on labels sorted by class: each training part lacks the class
    that its test part holds. Every fold's model has the three classes: no
    crash in the log-loss, and refit=False averages (3, n_features) rows."""
    X, y = iris
    Cs = [0.01, 1.0]
    model = GradientDescentLogisticRegressionCV(Cs=Cs, cv=KFold(3), refit=False)
    model.fit(X, y)
    theirs = LogisticRegressionCV(
        Cs=Cs,
        cv=KFold(3),
        scoring="neg_log_loss",
        refit=False,
        l1_ratios=(0.0,),
        use_legacy_attributes=False,
    ).fit(X, y)
    assert model.coef_.shape == theirs.coef_.shape == (3, 4)
    assert model.coefs_paths_.shape == theirs.coefs_paths_.shape
    assert model.C_ == theirs.C_
    assert np.isfinite(model.scores_).all()
    best = model.scores_[:, 0, :].argmax(axis=1)
    chosen = model.coefs_paths_[np.arange(3), 0, best].mean(axis=0)
    np.testing.assert_allclose(model.coef_, chosen[:, :-1])
    np.testing.assert_allclose(model.intercept_, chosen[:, -1])
    # Each test part is the class its training part lacks, which no fold's
    # model predicts (its probability is about tol): every accuracy is 0, and
    # the model still has the three classes' rows.
    model.set_params(scoring="accuracy").fit(X, y)
    assert model.coef_.shape == (3, 4)
    np.testing.assert_array_equal(model.scores_, np.zeros((3, 1, 2)))


def test_a_training_fold_of_one_class_is_a_clear_error(iris):
    X, y = iris
    index = np.arange(len(y))
    folds = [(index[y > 0], index[y == 0]), (index[y == 0], index[y > 0])]
    with pytest.raises(
        ValueError, match=r"fold 1 holds only the class \[0\]; it lacks \[1, 2\]"
    ):
        GradientDescentLogisticRegressionCV(Cs=2, cv=folds).fit(X, y)


def test_scorers_with_labels_see_all_classes(iris):
    """A test part without class 2 is scored against the three classes by any
    metric that takes ``labels``, as in LogisticRegressionCV."""
    X, y = iris
    index = np.arange(len(y))
    test = index[(y < 2) & (index % 3 == 0)]
    folds = [(np.setdiff1d(index, test), test)]
    Cs = [0.1, 1.0]
    model = GradientDescentLogisticRegressionCV(
        Cs=Cs, cv=folds, scoring="neg_brier_score", tol=1e-8
    ).fit(X, y)
    for c, C in enumerate(Cs):
        fit = GradientDescentLogisticRegression(C=C, tol=1e-8)
        fit.fit(X[folds[0][0]], y[folds[0][0]])
        expected = -brier_score_loss(
            y[test], fit.predict_proba(X[test]), labels=[0, 1, 2]
        )
        assert model.scores_[0, 0, c] == pytest.approx(expected, rel=1e-6)


# --- Metadata routing: groups to the splitter, metadata to the scorer --------


def test_groups_are_routed_to_the_splitter(iris):
    X, y = iris
    groups = np.arange(len(y)) % 7
    folds = list(GroupKFold(3).split(X, y, groups))
    Cs = [0.01, 0.1, 1.0]
    expected = GradientDescentLogisticRegressionCV(Cs=Cs, cv=folds).fit(X, y)
    with sklearn.config_context(enable_metadata_routing=True):
        model = GradientDescentLogisticRegressionCV(Cs=Cs, cv=GroupKFold(3))
        model.fit(X, y, groups=groups)
        # Through a pipeline too: the router says the splitter wants groups.
        pipe = make_pipeline(
            StandardScaler(),
            GradientDescentLogisticRegressionCV(Cs=Cs, cv=GroupKFold(3)),
        ).fit(X, y, groups=groups)
        theirs = LogisticRegressionCV(
            Cs=Cs,
            cv=GroupKFold(3),
            scoring="neg_log_loss",
            l1_ratios=(0.0,),
            use_legacy_attributes=False,
        ).fit(X, y, groups=groups)
    np.testing.assert_array_equal(model.scores_, expected.scores_)
    np.testing.assert_allclose(pipe[-1].scores_, expected.scores_, rtol=1e-10)
    assert model.C_ == theirs.C_
    np.testing.assert_allclose(model.scores_, theirs.scores_, rtol=1e-2)
    # No test part shares a group with its training part.
    for train, test in folds:
        assert not np.intersect1d(groups[train], groups[test]).size


def test_without_routing_groups_is_refused_as_in_logistic_regression_cv(iris):
    X, y = iris
    groups = np.arange(len(y)) % 7
    for estimator in (
        GradientDescentLogisticRegressionCV(Cs=2, cv=GroupKFold(3)),
        LogisticRegressionCV(Cs=2, cv=GroupKFold(3), l1_ratios=(0.0,)),
    ):
        with pytest.raises(ValueError, match="enable_metadata_routing=True"):
            estimator.fit(X, y, groups=groups)
    with pytest.raises(ValueError, match="groups"):
        GradientDescentLogisticRegressionCV(Cs=2, cv=GroupKFold(3)).fit(X, y)


def test_routed_sample_weight_reaches_the_scorer_that_requests_it(iris):
    X, y = iris
    weights = np.random.RandomState(0).uniform(0.5, 2, size=len(y))
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    # Without routing, the weights go to the fits and to the test scores.
    plain = GradientDescentLogisticRegressionCV(Cs=2, cv=folds)
    plain.fit(X, y, sample_weight=weights)
    with sklearn.config_context(enable_metadata_routing=True):
        weighted = get_scorer("neg_log_loss").set_score_request(sample_weight=True)
        model = GradientDescentLogisticRegressionCV(Cs=2, cv=folds, scoring=weighted)
        model.fit(X, y, sample_weight=weights)
        unweighted = get_scorer("neg_log_loss").set_score_request(sample_weight=False)
        fits_only = GradientDescentLogisticRegressionCV(
            Cs=2, cv=folds, scoring=unweighted
        ).fit(X, y, sample_weight=weights)
        # A scorer that says nothing about sample_weight: the error of
        # metadata routing, as LogisticRegressionCV gives it.
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            GradientDescentLogisticRegressionCV(Cs=2, cv=folds).fit(
                X, y, sample_weight=weights
            )
    np.testing.assert_array_equal(model.scores_, plain.scores_)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    # The same fits, scored without the weights.
    np.testing.assert_array_equal(fits_only.coefs_paths_, plain.coefs_paths_)
    for f, (_, test) in enumerate(folds):
        for c in range(2):
            proba = path_proba(plain.coefs_paths_[f, 0, c], X[test])
            expected = -log_loss(y[test], proba)
            assert fits_only.scores_[f, 0, c] == pytest.approx(expected, rel=1e-12)


# --- Bad grids and inputs ----------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("Cs", [np.nan, 1.0]),
        ("Cs", [[0.1, 1.0]]),
        ("Cs", ["small", "large"]),
        ("Cs", []),
        ("l1_ratios", [np.nan]),
        ("l1_ratios", [[0.0, 0.5]]),
        ("l1_ratios", [-0.1]),
        ("l1_ratios", ["l1"]),
    ],
)
def test_bad_grids_name_the_parameter(iris, parameter, value):
    X, y = iris
    with pytest.raises(ValueError, match=f"^{parameter} must"):
        GradientDescentLogisticRegressionCV(**{parameter: value}).fit(X, y)


def test_dask_input_is_a_clear_error(iris):
    da = pytest.importorskip("dask.array")
    X, y = iris
    model = GradientDescentLogisticRegressionCV(Cs=2)
    with pytest.raises(TypeError, match=r"X is a dask collection.*compute"):
        model.fit(da.from_array(X, chunks=50), y)
    with pytest.raises(TypeError, match=r"y is a dask collection"):
        model.fit(X, da.from_array(y, chunks=50))


@pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
def test_array_api_input_under_dispatch_is_a_clear_error(iris):
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = iris
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(TypeError, match=r"numpy.*X is a torch.Tensor"):
            GradientDescentLogisticRegressionCV(Cs=2).fit(
                torch.asarray(X), torch.asarray(y)
            )


@pytest.mark.parametrize("n_classes", [2, 3, 5])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_default_scorer_is_scikit_learns_log_loss(n_classes, dtype):
    # Computed from the model's probabilities directly: the number of
    # scikit-learn's neg_log_loss scorer with all the labels, weighted or
    # not, also where probabilities are clipped (confident predictions).
    from sklearn.metrics import log_loss, make_scorer

    from sklearn_gdlogreg._cv import _scorer

    rng = np.random.default_rng([n_classes, np.dtype(dtype).itemsize])
    labels = np.array(["ant", "bee", "cat", "dog", "eel"])[:n_classes]
    X = (rng.normal(size=(300, 4)) * [1, 5, 20, 50]).astype(dtype)
    y = labels[rng.integers(0, n_classes, 300)]
    model = GradientDescentLogisticRegression(C=100.0).fit(X, y)
    reference = make_scorer(
        log_loss, greater_is_better=False, response_method="predict_proba",
        labels=labels,
    )  # fmt: skip
    ours = _scorer("neg_log_loss", labels)
    test = rng.permutation(300)[:100]
    for weights in (None, rng.uniform(0, 2, size=100)):
        expected = reference(model, X[test], y[test], sample_weight=weights)
        got = ours(model, X[test], y[test], sample_weight=weights)
        # The same sums, in another order: equal to the dtype's rounding.
        assert got == pytest.approx(expected, rel=float(100 * np.finfo(dtype).eps))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_each_fold_reads_its_moments_once(n_classes):
    # The fold's data are validated once and its columns' moments measured
    # once, whatever the number of Cs (only the penalty changes along a
    # path); the refit on all the data measures them once more.
    from sklearn_gdlogreg._backends import counted_passes

    X, y = make_classification(
        n_samples=300, n_features=5, n_informative=3, n_classes=n_classes,
        random_state=0,
    )  # fmt: skip
    with counted_passes() as passes:
        GradientDescentLogisticRegressionCV(Cs=6, cv=3).fit(X, y)
    assert passes["column_moments"] == 3 + 1


# --- The one-standard-error rule ---------------------------------------------


def noisy_classes(n_classes, seed):
    """Noisy labels (flip_y): the mean scores are flat near their best, and the
    one-standard-error rule picks a smaller C than the best (by a grid step or
    more, on these seeds)."""
    return make_classification(
        n_samples=200, n_features=10, n_informative=4, n_classes=n_classes,
        n_clusters_per_class=1, flip_y=0.1, random_state=seed,
    )  # fmt: skip


def one_standard_error_by_hand(scores, Cs):
    """glmnet's lambda.1se from the fold scores ``(n_folds, n_l1_ratios,
    n_cs)``: the l1_ratio of the best mean score, and the smallest C of its
    path whose mean score is within one standard error (std with ddof=1 over
    sqrt(n_folds)) of the best."""
    n_folds = scores.shape[0]
    mean = scores.mean(axis=0)
    standard_error = scores.std(axis=0, ddof=1) / np.sqrt(n_folds)
    l1, best = np.unravel_index(mean.argmax(), mean.shape)
    threshold = mean[l1, best] - standard_error[l1, best]
    return l1, min(
        C for C, score in zip(Cs, mean[l1], strict=True) if score >= threshold
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_standard_error_rule_picks_the_C_computed_by_hand(n_classes, seed):
    X, y = noisy_classes(n_classes, seed)
    # The grid in decreasing order: the rule takes the smallest C by value.
    Cs = np.logspace(2, -3, 11)
    model = GradientDescentLogisticRegressionCV(Cs=Cs, cv=5, selection="1se")
    model.fit(X, y)
    n_folds = model.scores_.shape[0]
    np.testing.assert_allclose(model.cv_mean_scores_, model.scores_.mean(axis=0))
    np.testing.assert_allclose(
        model.cv_standard_errors_,
        model.scores_.std(axis=0, ddof=1) / np.sqrt(n_folds),
    )
    l1, C = one_standard_error_by_hand(model.scores_, model.Cs_)
    assert model.l1_ratio_ == model.l1_ratios_[l1]
    assert model.C_ == C
    best_C = model.Cs_[model.cv_mean_scores_[0].argmax()]
    assert model.C_ < best_C  # a stronger penalty than the best's, on this data
    # The refit is the plain estimator's fit at the chosen C.
    plain = GradientDescentLogisticRegression(C=model.C_).fit(X, y)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    np.testing.assert_array_equal(model.intercept_, plain.intercept_)


def test_one_standard_error_rule_keeps_the_best_l1_ratio():
    X, y = noisy_classes(2, 0)
    folds = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    params = {"Cs": np.logspace(-2, 1, 7), "l1_ratios": [0.0, 0.5, 1.0], "cv": folds}
    best = GradientDescentLogisticRegressionCV(**params).fit(X, y)
    model = GradientDescentLogisticRegressionCV(selection="1se", **params).fit(X, y)
    np.testing.assert_array_equal(model.scores_, best.scores_)
    assert model.cv_mean_scores_.shape == model.cv_standard_errors_.shape == (3, 7)
    l1, C = one_standard_error_by_hand(model.scores_, model.Cs_)
    assert (model.l1_ratio_, model.C_) == (best.l1_ratio_, C)
    assert model.l1_ratio_ == model.l1_ratios_[l1] == 1.0  # not the first row
    assert model.C_ < best.C_


@pytest.mark.parametrize("n_classes", [2, 3])
def test_selection_best_is_the_default_and_unchanged(n_classes):
    X, y = noisy_classes(n_classes, 0)
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    default = GradientDescentLogisticRegressionCV(Cs=6, cv=folds).fit(X, y)
    best = GradientDescentLogisticRegressionCV(Cs=6, cv=folds, selection="best")
    best.fit(X, y)
    assert default.selection == "best"
    assert best.C_ == default.C_ == best.Cs_[best.scores_.mean(axis=0)[0].argmax()]
    np.testing.assert_array_equal(best.coef_, default.coef_)
    np.testing.assert_array_equal(best.cv_mean_scores_, default.cv_mean_scores_)
    one_se = clone(best).set_params(selection="1se").fit(X, y)
    np.testing.assert_array_equal(one_se.scores_, best.scores_)
    assert one_se.C_ <= best.C_


@pytest.mark.parametrize("n_classes", [2, 3])
def test_one_standard_error_rule_without_refit_averages_the_chosen_C(n_classes):
    """Each fold's best C has no standard error: without refit, every fold's
    coefficients at the chosen C are averaged, and C_ is that C."""
    X, y = noisy_classes(n_classes, 1)
    model = GradientDescentLogisticRegressionCV(
        Cs=np.logspace(-3, 2, 11), cv=5, selection="1se", refit=False
    ).fit(X, y)
    _, C = one_standard_error_by_hand(model.scores_, model.Cs_)
    assert model.C_ == C
    index = np.flatnonzero(model.Cs_ == C)[0]
    chosen = model.coefs_paths_[:, 0, index].mean(axis=0)
    np.testing.assert_allclose(model.coef_, chosen[:, :-1])
    np.testing.assert_allclose(model.intercept_, chosen[:, -1])
    assert not hasattr(model, "loss_curve_")


def test_bad_selection_names_the_parameter_and_the_choices(iris):
    X, y = iris
    with pytest.raises(ValueError, match="'selection' parameter") as error:
        GradientDescentLogisticRegressionCV(Cs=2, selection="2se").fit(X, y)
    assert "'1se'" in str(error.value) and "'best'" in str(error.value)
    # One fold has no standard error.
    index = np.arange(len(y))
    one_fold = [(index[index % 2 == 0], index[index % 2 == 1])]
    with pytest.raises(ValueError, match="two cross-validation folds or more"):
        GradientDescentLogisticRegressionCV(Cs=2, cv=one_fold, selection="1se").fit(
            X, y
        )
    single = GradientDescentLogisticRegressionCV(Cs=2, cv=one_fold).fit(X, y)
    assert np.isnan(single.cv_standard_errors_).all()
