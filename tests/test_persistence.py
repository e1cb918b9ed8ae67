"""A fitted model survives pickle and skops.io, predicting exactly the same."""

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_gdlogreg import GradientDescentLogisticRegression

OUR_TYPE = "sklearn_gdlogreg._estimator.GradientDescentLogisticRegression"


def fitted_models():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    wine_X, wine_y = load_wine(return_X_y=True)
    return {
        "multinomial": (GradientDescentLogisticRegression().fit(X, y), X),
        "binary, string labels": (
            GradientDescentLogisticRegression(C=10.0).fit(X[50:], names[50:]),
            X[50:],
        ),
        "float32, L1, class weights": (
            GradientDescentLogisticRegression(
                l1_ratio=1.0, class_weight={0: 2.0, 1: 1.0, 2: 1.0}
            ).fit(X.astype(np.float32), y),
            X.astype(np.float32),
        ),
        "pipeline": (
            make_pipeline(StandardScaler(), GradientDescentLogisticRegression()).fit(
                wine_X, wine_y
            ),
            wine_X,
        ),
    }


def assert_same_predictions(loaded, original, X):
    for method in ("predict", "predict_proba", "decision_function"):
        np.testing.assert_array_equal(
            getattr(loaded, method)(X), getattr(original, method)(X)
        )


@pytest.mark.parametrize("case", list(fitted_models()))
def test_pickle_round_trip(case):
    model, X = fitted_models()[case]
    assert_same_predictions(pickle.loads(pickle.dumps(model)), model, X)


@pytest.mark.parametrize("case", list(fitted_models()))
def test_skops_round_trip_trusts_only_our_estimator(case):
    sio = pytest.importorskip("skops.io")
    model, X = fitted_models()[case]
    data = sio.dumps(model)
    # Secure loading: the only type skops does not already trust is ours.
    assert sio.get_untrusted_types(data=data) == [OUR_TYPE]
    loaded = sio.loads(data, trusted=[OUR_TYPE])
    assert_same_predictions(loaded, model, X)


def test_callbacks_are_saved_unless_removed():
    sio = pytest.importorskip("skops.io")
    from sklearn.callback import ScoringMonitor

    X, y = load_iris(return_X_y=True)
    clf = GradientDescentLogisticRegression().set_callbacks(
        ScoringMonitor(scoring="accuracy")
    )
    clf.fit(X, y)
    assert OUR_TYPE in sio.get_untrusted_types(data=sio.dumps(clf))
    assert len(sio.get_untrusted_types(data=sio.dumps(clf))) > 1
    data = sio.dumps(clf.set_callbacks())  # as the user guide says
    assert sio.get_untrusted_types(data=data) == [OUR_TYPE]
    np.testing.assert_array_equal(
        sio.loads(data, trusted=[OUR_TYPE]).predict_proba(X), clf.predict_proba(X)
    )
