"""Every kind of input gets the same checks: numpy, dask and array-API arrays.

The dask arrays here run on dask's local scheduler (no distributed Client):
``tests/test_dask.py`` covers a cluster. The array-API kind needs
``SCIPY_ARRAY_API=1`` (the second pass of ``.ci/run``).
"""

import os
import sys
import threading
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from sklearn_gdlogreg import GradientDescentLogisticRegression as Estimator


def numpy_kind():
    def convert(a):
        return a

    return convert, np.asarray, sklearn.config_context()


def dask_kind():
    da = pytest.importorskip("dask.array")

    def convert(a):
        return da.from_array(a, chunks=(40, *a.shape[1:]))

    def result(r):
        return np.asarray(r.compute())

    return convert, result, sklearn.config_context()


def device_kind():
    if os.environ.get("SCIPY_ARRAY_API") != "1":
        pytest.skip("array API dispatch needs SCIPY_ARRAY_API=1")
    xp = pytest.importorskip("array_api_strict")
    pytest.importorskip("array_api_compat")
    from sklearn_gdlogreg._array_api import to_numpy

    def convert(a):
        return xp.asarray(a)

    return convert, to_numpy, sklearn.config_context(array_api_dispatch=True)


KINDS = {"numpy": numpy_kind, "dask": dask_kind, "device": device_kind}


def data(n_classes=2):
    X, y = make_classification(
        n_samples=120, n_features=4, n_informative=3, n_redundant=0,
        n_classes=n_classes, flip_y=0.1, random_state=0,
    )  # fmt: skip
    return X, y.astype(float)


def with_value(array, index, value):
    array = array.copy()
    array[index] = value
    return array


X0, Y0 = data()
ONES = np.ones(len(Y0))
FIT_ERRORS = {
    "NaN in X": (with_value(X0, (3, 1), np.nan), Y0, ONES, {}, "Input X contains NaN"),
    "inf in X": (
        with_value(X0, (3, 1), np.inf),
        Y0,
        ONES,
        {},
        "Input X contains infinity",
    ),
    "NaN in y": (X0, with_value(Y0, 5, np.nan), ONES, {}, "Input y contains NaN"),
    "continuous y": (X0, np.linspace(0, 1, len(Y0)), ONES, {}, "Unknown label type"),
    "one class": (X0, np.zeros(len(Y0)), ONES, {}, "one class"),
    "negative weight": (X0, Y0, with_value(ONES, 0, -1.0), {}, "negative"),
    "NaN weight": (
        X0,
        Y0,
        with_value(ONES, 0, np.nan),
        {},
        "sample_weight contains NaN",
    ),
    "zero weights": (X0, Y0, 0 * ONES, {}, "all zero"),
    "NaN class weight": (X0, Y0, ONES, {"class_weight": {0.0: np.nan}}, "class_weight"),
    "negative class weight": (
        X0,
        Y0,
        ONES,
        {"class_weight": {1.0: -2.0}},
        "class_weight must be finite and non-negative",
    ),
    "no feature": (X0[:, :0], Y0, ONES, {}, r"0 feature\(s\)"),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", FIT_ERRORS)
def test_every_kind_of_input_gets_the_same_fit_errors(kind, case):
    convert, _, context = KINDS[kind]()
    X, y, weights, params, message = FIT_ERRORS[case]
    with context, pytest.raises(ValueError, match=message):
        Estimator(**params).fit(convert(X), convert(y), convert(weights))


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_input_gets_the_same_predict_errors(kind):
    convert, result, context = KINDS[kind]()
    with context:
        # Dask chunks keep no scores: their fit takes other steps than in
        # memory (see _plan.takes_conjugate_directions), the same minimum.
        clf = Estimator(tol=1e-8).fit(convert(X0), convert(Y0))
        for method in ("predict", "predict_proba", "decision_function"):
            predict = getattr(clf, method)
            with pytest.raises(ValueError, match="Input X contains NaN"):
                result(predict(convert(with_value(X0, (0, 0), np.nan))))
            with pytest.raises(ValueError, match="X has 3 features"):
                result(predict(convert(X0[:, :3])))
        # And the same answer as numpy's.
        reference = Estimator(tol=1e-8).fit(X0, Y0)
        np.testing.assert_allclose(
            result(clf.predict_proba(convert(X0))),
            reference.predict_proba(X0),
            rtol=1e-6,
            atol=1e-9,
        )


def test_weights_near_the_float64_maximum_do_not_overflow():
    X, y = data(3)
    huge = Estimator().fit(X, y, sample_weight=np.full(len(y), 1e308))
    # 1 / (C S) underflows: the unpenalised model.
    unpenalised = Estimator(C=np.inf).fit(X, y)
    np.testing.assert_allclose(huge.coef_, unpenalised.coef_, rtol=1e-4, atol=1e-6)
    # Weights only matter relative to each other (and to C).
    scaled = Estimator(C=1e-300).fit(X, y, sample_weight=np.full(len(y), 1e300))
    plain = Estimator().fit(X, y)
    np.testing.assert_allclose(scaled.coef_, plain.coef_, rtol=1e-6, atol=1e-9)


def test_balanced_class_weight_ignores_a_class_without_weight():
    X, y = data(3)
    weights = np.where(y == 2, 0.0, 1.0)
    balanced = Estimator(class_weight="balanced").fit(X, y, sample_weight=weights)
    counts = np.array([(y == 0).sum(), (y == 1).sum()])
    per_class = counts.sum() / (3 * counts)
    explicit = Estimator(class_weight={0: per_class[0], 1: per_class[1]}).fit(
        X, y, sample_weight=weights
    )
    np.testing.assert_allclose(balanced.coef_, explicit.coef_, rtol=1e-10, atol=1e-12)


def test_huge_float64_features_are_a_clear_error():
    X, y = data()
    with pytest.raises(ValueError, match="too large"):
        Estimator().fit(X * 1e200, y)


@pytest.mark.parametrize("scale", [1e25, 1e30])
def test_float32_features_far_from_one_fit_as_float64_does(scale):
    """The variances of such features are past float32's range; the fit is not."""
    X, y = data()
    X32 = (X * scale).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = Estimator().fit(X32, y)
    reference = Estimator().fit(X32.astype(np.float64), y)
    assert clf.n_iter_ > 0
    np.testing.assert_allclose(
        clf.predict_proba(X32), reference.predict_proba(X32), atol=1e-3
    )


def test_convergence_warning_points_at_the_callers_line():
    X, y = data()
    with pytest.warns(ConvergenceWarning) as record:
        Estimator(max_iter=1).fit(X, y)
    assert record[0].filename == __file__


def test_refit_while_predicting_in_another_thread():
    """A refit sets its attributes at once, and predict reads them at once: a
    prediction comes from one model or the other, never a mix of both."""
    X2, y2 = data(2)
    X3, y3 = make_classification(
        n_samples=120, n_features=6, n_informative=4, n_classes=3, random_state=1
    )
    clf = Estimator(max_iter=5, tol=1e-3).fit(X2, y2)
    errors = []
    done = threading.Event()

    def predict():
        while not done.is_set():
            try:
                for X, n_classes in ((X2, 2), (X3, 3)):
                    try:
                        proba = clf.predict_proba(X)
                        labels = clf.predict(X)
                    except ValueError as error:  # X of the other model's shape
                        assert "features" in str(error), error
                        continue
                    assert proba.shape == (len(X), n_classes)
                    assert set(labels) <= set(range(n_classes))
            except Exception as error:
                errors.append(error)
                return

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=predict)
    thread.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=5
            for _ in range(40):
                clf.fit(X3, y3)
                clf.fit(X2, y2)
    finally:
        done.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
