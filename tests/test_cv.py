"""GradientDescentLogisticRegressionCV: the C that LogisticRegressionCV picks,
the attributes' layout scikit-learn is moving to, paths that are real fits."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold, cross_val_score
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
