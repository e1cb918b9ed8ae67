"""Bad input gets a clear error; extreme input gives no NaN; inputs stay unchanged."""

import os
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import sklearn_gdlogreg._backends._kinds as _kinds
import sklearn_gdlogreg._inputs as _inputs
from sklearn_gdlogreg import GradientDescentLogisticRegression as Estimator


@pytest.fixture
def data():
    X, y = load_iris(return_X_y=True)
    return X[:100], y[:100]  # two classes


def test_nan_or_inf_in_X(data):
    X, y = data
    for bad in (np.nan, np.inf, -np.inf):
        X_bad = X.copy()
        X_bad[3, 1] = bad
        with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
            Estimator().fit(X_bad, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("weights", ["none", "zero at the bad row", "zero elsewhere"])
def test_nan_or_inf_anywhere_in_a_large_X(monkeypatch, dtype, bad, weights):
    # A dense X's values are checked by the moments of its columns, the
    # fit's first read of it (here in blocks of 64 KiB, in threads), where
    # no weight is zero (else up front, as a sparse X's): a bad value in any
    # block, of a wide or a tall X, gets scikit-learn's error, and X is left
    # as it was.
    monkeypatch.setattr(_kinds, "_BLOCK_BYTES", 2**16)
    checked_up_front = []
    check = _inputs.assert_all_finite
    monkeypatch.setattr(
        _inputs,
        "assert_all_finite",
        lambda *args, **kwargs: checked_up_front.append(1) or check(*args, **kwargs),
    )
    rng = np.random.default_rng(0)
    for shape in [(40_000, 30), (600, 3000)]:
        for row in (0, shape[0] - 1):
            X = rng.normal(size=shape).astype(dtype)
            y = rng.integers(0, 2, size=shape[0])
            X[row, -1] = bad
            sample_weight = None if weights == "none" else np.ones(shape[0])
            if weights != "none":
                sample_weight[row if weights.endswith("bad row") else 1 - row] = 0
            copied = X.copy()
            checked_up_front.clear()
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no RuntimeWarning on the way
                with pytest.raises(
                    ValueError, match=r"^Input X contains (NaN|infinity)"
                ):
                    Estimator().fit(X, y, sample_weight=sample_weight)
            assert bool(checked_up_front) == (weights != "none")
            np.testing.assert_array_equal(X, copied)


def test_nan_in_a_sparse_X_is_checked_up_front():
    X = sp.random(200, 30, density=0.2, format="csr", random_state=0)
    X.data[5] = np.nan
    y = np.arange(200) % 2
    with pytest.raises(ValueError, match="Input X contains NaN"):
        Estimator().fit(X, y)


def test_one_class_only(data):
    X, _ = data
    with pytest.raises(ValueError, match="one class"):
        Estimator().fit(X, np.zeros(len(X)))


def test_one_class_left_after_weights(data):
    X, y = data
    with pytest.raises(ValueError, match=r"one class .*non-zero total weight"):
        Estimator().fit(X, y, sample_weight=(y == 1).astype(float))


def test_mismatched_lengths(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        Estimator().fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"sample_weight has shape \(99,\)"):
        Estimator().fit(X, y, sample_weight=np.ones(99))


def test_empty_X():
    with pytest.raises(ValueError, match="0 sample"):
        Estimator().fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match="0 feature"):
        Estimator().fit(np.empty((4, 0)), [0, 1, 0, 1])


@pytest.mark.parametrize(
    "weights, message",
    [
        (-1.0, "negative"),
        (np.nan, "sample_weight contains NaN"),
        (np.inf, "sample_weight contains infinity"),
        (0.0, "weight is all zero"),
    ],
)
def test_bad_sample_weights(data, weights, message):
    X, y = data
    sample_weight = np.ones(len(y))
    sample_weight[0 if weights != 0.0 else slice(None)] = weights
    with pytest.raises(ValueError, match=message):
        Estimator().fit(X, y, sample_weight=sample_weight)


def test_wrong_feature_count_at_predict(data):
    X, y = data
    clf = Estimator().fit(X, y)
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(ValueError, match=r"X has 3 features, but .* expecting 4"):
            method(X[:, :3])


def test_predict_before_fit(data):
    X, _ = data
    for method in (
        "predict",
        "predict_proba",
        "predict_log_proba",
        "decision_function",
    ):
        with pytest.raises(NotFittedError):
            getattr(Estimator(), method)(X)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": "fast"}, "learning_rate"),
        ({"C": 0}, "'C' parameter"),
        ({"tol": -1e-4}, "'tol' parameter"),
        ({"max_iter": 0}, "'max_iter' parameter"),
        ({"solver": "lbfgs"}, "'solver' parameter"),
        ({"l1_ratio": 1.5}, "'l1_ratio' parameter"),
        ({"class_weight": "auto"}, "'class_weight' parameter"),
    ],
)
def test_invalid_parameters(data, params, message):
    X, y = data
    with pytest.raises(ValueError, match=message):
        Estimator(**params).fit(X, y)


def test_continuous_y(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        Estimator().fit(X, np.linspace(0, 1, len(X)))


def test_string_X(data):
    _, y = data
    X = np.array([["a", "b"]] * len(y))
    with pytest.raises(ValueError, match="could not convert string to float"):
        Estimator().fit(X, y)


def test_inputs_are_not_modified(data):
    X, y = data
    X = np.asfortranarray(X)
    sample_weight = np.linspace(0.5, 2, len(y))
    copies = X.copy(), y.copy(), sample_weight.copy()
    for arr in (X, y, sample_weight):
        arr.flags.writeable = False  # any in-place write would raise
    Estimator(class_weight="balanced").fit(X, y, sample_weight=sample_weight)
    for before, after in zip(copies, (X, y, sample_weight), strict=True):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_learning_rate_far_too_large_warns_and_stays_finite(data, solver):
    X, y = data
    with pytest.warns(ConvergenceWarning, match="learning_rate=1e\\+30 is .*too large"):
        clf = Estimator(learning_rate=1e30, solver=solver, max_iter=200).fit(X, y)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert np.isfinite(clf.predict_proba(X)).all()


def test_learning_rate_too_large_with_penalty_warns_and_stays_finite(data):
    # A strong penalty with a constant step above 2 / curvature oscillates
    # with growing amplitude; the fit must stop with finite coefficients.
    X, y = data
    with pytest.warns(ConvergenceWarning, match="too large"):
        clf = Estimator(learning_rate=50.0, C=1e-3, solver="gd").fit(X, y)
    assert np.isfinite(clf.coef_).all()
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("magnitude", [1e150, 1e-150])
@pytest.mark.parametrize("C", [1.0, np.inf])
def test_extreme_feature_magnitudes_never_give_nan(data, magnitude, C):
    X, y = data
    X_scaled = X * magnitude
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # allowed, not required
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            clf = Estimator(C=C).fit(X_scaled, y)
            proba = clf.predict_proba(X_scaled)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert np.isfinite(proba).all()
    # Scaling the features by a constant scales the unpenalised model's
    # coefficients by its inverse: the predictions are those of unscaled data.
    if C == np.inf:
        unscaled = Estimator(C=np.inf).fit(X, y)
        assert (clf.predict(X_scaled) == unscaled.predict(X)).mean() > 0.95


@pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
def test_complex_X_of_another_namespace_is_refused(data):
    # As numpy's complex X is: a cast to float would drop the imaginary part.
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    import sklearn

    X, y = data
    complex_X = torch.asarray(X) * (1 + 1j)
    with sklearn.config_context(array_api_dispatch=True):
        with pytest.raises(ValueError, match="Complex data not supported"):
            Estimator().fit(complex_X, torch.asarray(y))
        model = Estimator().fit(torch.asarray(X), torch.asarray(y))
        with pytest.raises(ValueError, match="Complex data not supported"):
            model.predict(complex_X)
