"""scikit-learn's callbacks (``sklearn.callback``) see every iteration."""

import warnings

import numpy as np
import pytest
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression


@pytest.fixture
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_scoring_monitor_scores_every_iteration(data):
    X, y = data
    monitor = ScoringMonitor(scoring="neg_log_loss")
    clf = GradientDescentLogisticRegression(C=np.inf, max_iter=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    assert [row["task_name"] for row in rows] == ["fit"] + ["gd-iter"] * clf.n_iter_
    # Without a penalty the objective is the log-loss: each iteration's
    # score is its point on the loss curve, and the fit's is the last one.
    scores = [-row["neg_log_loss"] for row in rows]
    np.testing.assert_allclose(scores[1:], clf.loss_curve_[1:], rtol=1e-10)
    np.testing.assert_allclose(scores[0], clf.loss_curve_[-1], rtol=1e-10)


def test_progress_bar_runs_and_changes_nothing(data):
    pytest.importorskip("rich")
    X, y = data
    plain = GradientDescentLogisticRegression().fit(X, y)
    shown = GradientDescentLogisticRegression().set_callbacks(ProgressBar()).fit(X, y)
    np.testing.assert_array_equal(shown.coef_, plain.coef_)
    assert shown.n_iter_ == plain.n_iter_


class StopAt:
    """A minimal callback (the FitCallback protocol) that stops the fit."""

    def __init__(self, iteration):
        self.iteration, self.seen = iteration, 0

    def setup(self, estimator, context):
        self.seen = 0

    def teardown(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name != "gd-iter" or fitted_estimator is None:
            return False
        self.seen += 1
        assert fitted_estimator.predict(np.zeros((1, 30))).shape == (1,)
        return self.seen == self.iteration


def test_a_callback_can_stop_the_fit_without_a_warning(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = GradientDescentLogisticRegression(tol=1e-12)
        clf.set_callbacks(StopAt(5)).fit(X, y)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 6
