"""A fitted model survives pickle and skops.io, predicting exactly the same.

The pickle tests need nothing optional; those of skops skip without it.
"""

import pickle
import sys

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import SavedState
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


def loaded(state: dict):
    return pickle.loads(pickle.dumps(SavedState(state)))


ARRAYS = ("classes_", "coef_", "intercept_", "loss_curve_")


def saved_on(library: str, device: str, names=ARRAYS):
    """A numpy model's state, as if its ``names`` had been fitted on
    ``library``'s ``device`` (that state holds them as numpy arrays)."""
    X, y = load_iris(return_X_y=True)
    model = GradientDescentLogisticRegression().fit(X, y)
    state = model.__getstate__()
    assert "_array_namespace" not in state  # a numpy model's state
    state = {**state, "_array_namespace": {name: [library, device] for name in names}}
    return state, model, X


# Each tampered _array_namespace, and the key its error must name.
TAMPERED = {
    "a parameter": ({"C": ["torch", "cpu"]}, "'C'"),
    "n_iter_": ({"n_iter_": ["torch", "cpu"]}, "'n_iter_'"),
    "an unknown key": ({"weights_": ["torch", "cpu"]}, "'weights_'"),
    "a library not allowed": ({"coef_": ["os", "cpu"]}, "'os'"),
    "no device": ({"coef_": ["torch"]}, "'coef_'"),
    "not strings": ({"coef_": ["torch", 0]}, "'coef_'"),
    "not a mapping": (["coef_", "torch", "cpu"], "_array_namespace"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_tampered_array_namespace_is_a_clear_error(case, monkeypatch):
    """A changed file names only the fitted arrays, or loading it fails with
    a ValueError that names the bad key, before any library is imported."""
    origin, key = TAMPERED[case]
    state, _, _ = saved_on("torch", "cpu")
    state["_array_namespace"] = origin
    imported = []
    import importlib

    monkeypatch.setattr(importlib, "import_module", imported.append)
    with pytest.raises(ValueError, match=key):
        loaded(state)
    assert imported == []


@pytest.mark.parametrize("change", ["missing", "a list", "strings"])
def test_fitted_array_missing_or_not_numeric_is_a_clear_error(change):
    state, _, _ = saved_on("torch", "cpu", names=["coef_"])
    if change == "missing":
        del state["coef_"]
    elif change == "a list":
        state["coef_"] = state["coef_"].tolist()
    else:
        state["coef_"] = state["coef_"].astype(str)
    with pytest.raises(ValueError, match="'coef_'"):
        loaded(state)


@pytest.mark.parametrize(
    ("library", "device"), [("torch", "cuda:0"), ("cupy", "<CUDA Device 0>")]
)
def test_model_of_a_missing_library_loads_as_numpy_with_a_warning(
    library, device, monkeypatch
):
    """Fitted on a GPU library that this machine lacks: the model loads with
    numpy arrays, warning which library and device it was fitted on."""
    state, model, X = saved_on(library, device)
    monkeypatch.setitem(sys.modules, library, None)  # as if not installed
    with pytest.warns(UserWarning, match=rf"{library} device '{device}'") as record:
        restored = loaded(state)
    assert f"{library} is not installed" in str(record[0].message)
    assert record[0].filename == __file__  # points at the pickle.loads
    for name in ARRAYS:
        assert isinstance(getattr(restored, name), np.ndarray)
    assert_same_predictions(restored, model, X)


def test_tampered_skops_file_is_a_clear_error(monkeypatch):
    sio = pytest.importorskip("skops.io")
    state, _, _ = saved_on("torch", "cpu")
    state["_array_namespace"] = {"n_iter_": ["torch", "cpu"]}
    monkeypatch.setattr(
        GradientDescentLogisticRegression, "__getstate__", lambda self: state
    )
    data = sio.dumps(GradientDescentLogisticRegression())
    monkeypatch.undo()
    with pytest.raises(ValueError, match="'n_iter_'"):
        sio.loads(data, trusted=[OUR_TYPE])
