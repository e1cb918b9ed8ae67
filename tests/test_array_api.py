"""Arrays of other libraries through the array API (``array_api_dispatch=True``).

Run on the CPU namespaces: array-api-strict (on its two devices) by default,
and PyTorch where it is installed; a test of a library that is not installed
skips, naming it. They need array-api-compat (the ``array-api`` extra).
scikit-learn's array-API dispatch needs ``SCIPY_ARRAY_API=1`` set before
scipy is imported, so these tests run in the second pass of ``.ci/run``
(and are skipped in the first); scikit-learn's own array-API checks run
there too, from ``test_sklearn_checks.py``.
"""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegression

from conftest import SavedState, badly_scaled_classification
from sklearn_gdlogreg import (
    GradientDescentLogisticRegression,
    LossCurveDisplay,
    _backends,
)
from sklearn_gdlogreg._array_api import namespace, to_numpy
from sklearn_gdlogreg._loss import binary_pointwise, multinomial_pointwise

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
compat = pytest.importorskip("array_api_compat")

NAMESPACES = [
    ("array_api_strict", "CPU_DEVICE"),
    ("array_api_strict", "device1"),
    ("torch", "cpu"),
]
# One device of each library, for the tests that need not run on all three.
LIBRARIES = [("array_api_strict", "device1"), ("torch", "cpu")]


def library(name: str, device_name: str):
    """``(xp, device)``: the standard's namespace of library ``name``."""
    module = pytest.importorskip(name)
    if name == "array_api_strict":
        return module, module.Device(device_name)
    return compat.array_namespace(module.asarray([1.0])), device_name


def on_device(X, xp, device, dtype=None):
    return xp.asarray(X, device=device, dtype=dtype)


def dispatch():
    return sklearn.config_context(array_api_dispatch=True)


def assert_in_namespace(array, like):
    """``array`` is in the namespace of ``like`` and on its device."""
    assert namespace(array) is namespace(like)
    assert compat.device(array) == compat.device(like)


@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "params", [{}, {"C": np.inf}, {"l1_ratio": 0.5, "C": 0.1}, {"solver": "gd"}]
)
def test_fit_in_namespace_matches_numpy(name, device_name, n_classes, params):
    """Raw, badly scaled data with sample weights: the same model as the numpy
    fit, fitted arrays and every output in X's namespace, on its device."""
    xp, device = library(name, device_name)
    X, y = badly_scaled_classification(n_classes)
    weights = np.random.RandomState(0).uniform(0.5, 2, size=y.shape[0])
    with _backends.counted_passes() as numpy_passes:
        reference = GradientDescentLogisticRegression(**params).fit(X, y, weights)

    X_xp = on_device(X, xp, device)
    with dispatch(), _backends.counted_passes() as passes:
        model = GradientDescentLogisticRegression(**params).fit(
            X_xp, on_device(y, xp, device), on_device(weights, xp, device)
        )
    # Where the numpy fit keeps its scores (conjugate directions on a smooth
    # objective), this one keeps them on its device: the same products, but
    # for the first gradient, which the numpy fit takes from its moments'
    # read (Backend.moments_products) and this one in a read of its own.
    smooth = params.get("l1_ratio", 0) == 0 and params.get("solver") != "gd"
    assert passes["product"] == numpy_passes["product"]
    assert passes["transposed_product"] == numpy_passes["transposed_product"] + smooth
    assert (passes["product"] > 0) == smooth
    with dispatch():
        outputs = {
            method: getattr(model, method)(X_xp)
            for method in (
                "decision_function",
                "predict",
                "predict_proba",
                "predict_log_proba",
            )
        }
    assert model.n_iter_ == reference.n_iter_
    for attribute in ("classes_", "coef_", "intercept_", "loss_curve_"):
        value = getattr(model, attribute)
        assert_in_namespace(value, X_xp)
        np.testing.assert_allclose(
            to_numpy(value), getattr(reference, attribute), rtol=1e-7, atol=1e-12
        )
    # An output's relative error is about its scores' absolute error, which
    # coefficients within 1e-7 leave larger on raw data (terms up to 200
    # cancel to scores of about 1): the L1 multinomial fit, 59 iterations of
    # rounding apart, differs by 1.5e-7 on a probability of 0.0065.
    for method, output in outputs.items():
        assert_in_namespace(output, X_xp)
        np.testing.assert_allclose(
            to_numpy(output), getattr(reference, method)(X), rtol=1e-6, atol=1e-12
        )


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_is_kept_and_as_accurate_as_float32_allows(
    name, device_name, n_classes
):
    """float32 X is fitted in float32, as accurately as the numpy float32 fit
    (``test_estimator``): raw data, against a float64 Newton reference."""
    xp, device = library(name, device_name)
    if n_classes == 2:
        X, y = load_breast_cancer(return_X_y=True)
    else:
        X, y = badly_scaled_classification(n_classes)
    reference = LogisticRegression(solver="newton-cholesky", tol=1e-12).fit(X, y)
    X32 = on_device(X, xp, device, dtype=xp.float32)
    with dispatch():
        model = GradientDescentLogisticRegression(tol=1e-6).fit(
            X32, on_device(y, xp, device)
        )
        proba = model.predict_proba(X32)
    assert model.coef_.dtype == xp.float32 and proba.dtype == xp.float32
    scale = np.abs(reference.coef_).max()
    np.testing.assert_allclose(
        to_numpy(model.coef_), reference.coef_, atol=1e-3 * scale
    )
    np.testing.assert_allclose(to_numpy(proba), reference.predict_proba(X), atol=2e-4)


@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
@pytest.mark.parametrize("shape", [(30,), (30, 3)])
def test_device_pass_in_blocks_matches_numpy(name, device_name, shape):
    """The device's pass (stacked points, several row blocks) and moments
    against the host's, on raw data with far-off means."""
    xp, device = library(name, device_name)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(101, 30)) * rng.uniform(1e-2, 1e2, 30) + rng.normal(0, 1e3, 30)
    K = 1 if len(shape) == 1 else shape[1]
    y = rng.randint(0, 2 if K == 1 else K, size=101)
    weights = rng.uniform(size=101)
    weights /= weights.sum()
    points = [
        (rng.normal(size=shape) * 1e-3, rng.normal(size=shape[1:] or (1,)))
        for _ in range(2)
    ]
    pointwise = binary_pointwise if K == 1 else multinomial_pointwise
    host = _backends.backend_for(X)
    expected = host.linear_pass(y.astype(np.uint8), weights, points, pointwise)
    mean, cov, _ = host.column_moments(weights, covariance=True)

    seven_rows = 4 * 8 * 30 * 7  # the moments take a quarter: 1 or 2 rows
    X_xp, w_xp = on_device(X, xp, device), on_device(weights, xp, device)
    y_xp = on_device(y, xp, device)
    device = _backends.backend_for(X_xp, seven_rows)
    assert isinstance(device, _backends.DeviceBackend)
    got = device.linear_pass(y_xp, w_xp, points, pointwise)
    for (loss, grad_W, grad_b), (loss_ref, grad_W_ref, grad_b_ref) in zip(
        got, expected, strict=True
    ):
        assert isinstance(loss, float) and isinstance(grad_W, np.ndarray)
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-12)
        np.testing.assert_allclose(grad_W, grad_W_ref, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(grad_b, grad_b_ref, rtol=1e-10, atol=1e-14)
    got_mean, got_cov, _ = device.column_moments(w_xp, covariance=True)
    np.testing.assert_allclose(got_mean, mean, rtol=1e-12)
    # Relative to the spreads (a covariance's own scale): each entry is a
    # Gram product less the means' part, which rounds at about eps^(3/4) of
    # that (see _moments._gram_moments), where blocks of a row or two are
    # centred; a near-zero entry's own digits are not the metric's.
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_array_less(np.abs(got_cov - cov), 1e-10 * scale)
    # The variances alone: sums of squares less the means' part, where
    # that keeps their digits; a third of the columns, of constant parts of
    # 1e6 to 1e9 that would cancel them all, centred (taken from the
    # blocks). One block keeps them to 5e-12; the merge of many, whose
    # block means round at eps times the constant, to under 1e-9 (five
    # draws of the constants): rtol 1e-8. Uncentred, they were off 6-fold.
    shift = np.where(np.arange(30) % 3 == 0, 10 ** rng.uniform(6, 9, 30), 0.0)
    far = X + shift
    near = far - shift  # the data far holds, less the constants (exact: Sterbenz)
    var = weights @ (near - weights @ near) ** 2
    for backend in (
        _backends.backend_for(far),
        _backends.backend_for(on_device(far, xp, X_xp.device), seven_rows),
    ):
        w = weights if backend.host else w_xp
        got_mean, got_var, _ = backend.column_moments(w)
        np.testing.assert_allclose(got_mean, weights @ far, rtol=1e-12)
        np.testing.assert_allclose(got_var, var, rtol=1e-8)


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_pointwise_stable_for_huge_margins(name, device_name):
    """The device formulas give the numpy losses and residuals, also where
    the sigmoid underflows (margins beyond float32's exp range)."""
    xp, device = library(name, device_name)
    z = np.array([-1e4, -800.0, -100.0, -1.0, 0.0, 3.0, 100.0, 1e4], dtype=np.float32)
    y = np.array([1, 1, 1, 0, 1, 0, 0, 1])
    s = np.full(z.shape, 0.125, dtype=np.float32)
    with np.errstate(over="ignore"):  # as the passes over X run it
        loss_ref, R_ref = binary_pointwise(z.copy(), y, s)
    loss, R = binary_pointwise(
        on_device(z, xp, device), on_device(y, xp, device), on_device(s, xp, device)
    )
    assert np.isfinite(float(loss))
    np.testing.assert_allclose(float(loss), loss_ref, rtol=1e-6)
    np.testing.assert_allclose(to_numpy(R), R_ref, rtol=1e-6, atol=1e-30)


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_string_labels_and_mixed_inputs(name, device_name):
    """y of strings (numpy) and sample_weight from another library (or
    another device): the labels stay numpy (no namespace holds strings), the
    model on X's device."""
    xp, device = library(name, device_name)
    other = "CPU_DEVICE" if name == "array_api_strict" else "device1"
    strict, strict_device = library("array_api_strict", other)
    X, y = make_classification(120, 5, random_state=2)
    labels = np.array(["no", "yes"])[y]
    weights = np.linspace(0.5, 1.5, 120)
    reference = GradientDescentLogisticRegression().fit(X, labels, weights)
    with dispatch():
        model = GradientDescentLogisticRegression().fit(
            on_device(X, xp, device), labels, on_device(weights, strict, strict_device)
        )
        predicted = model.predict(on_device(X, xp, device))
    assert isinstance(model.classes_, np.ndarray)
    assert_in_namespace(model.coef_, on_device(X, xp, device))
    np.testing.assert_array_equal(predicted, reference.predict(X))
    np.testing.assert_allclose(to_numpy(model.coef_), reference.coef_, rtol=1e-9)


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_numpy_X_takes_labels_and_weights_from_another_library(name, device_name):
    """Everything follows X: with numpy X, a y and sample_weight of another
    library are brought to the host, and the model is numpy."""
    xp, device = library(name, device_name)
    X, y = make_classification(80, 4, n_redundant=0, random_state=7)
    weights = np.linspace(0.5, 2, 80)
    reference = GradientDescentLogisticRegression(class_weight="balanced")
    reference.fit(X, y, weights)
    with dispatch():
        model = GradientDescentLogisticRegression(class_weight="balanced").fit(
            X, on_device(y, xp, device), on_device(weights, xp, device)
        )
        assert isinstance(model.predict(X), np.ndarray)
    assert isinstance(model.coef_, np.ndarray)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-12)


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_predict_in_another_namespace_is_a_clear_error(name, device_name):
    xp, device = library(name, device_name)
    X, y = make_classification(60, 4, n_redundant=0, random_state=3)
    with dispatch():
        model = GradientDescentLogisticRegression().fit(
            on_device(X, xp, device), on_device(y, xp, device)
        )
        for method in ("predict", "predict_proba", "decision_function"):
            with pytest.raises(
                ValueError, match=rf"\.{method}\(\) must use the same namespace"
            ):
                getattr(model, method)(X)
        numpy_model = GradientDescentLogisticRegression().fit(X, y)
        with pytest.raises(ValueError, match="same namespace"):
            numpy_model.predict(on_device(X, xp, device))
    # Without dispatch, everything is numpy again, as in scikit-learn.
    np.testing.assert_allclose(
        model.predict_proba(X), numpy_model.predict_proba(X), rtol=1e-9
    )


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_bad_input_on_device_is_a_clear_error(name, device_name):
    xp, device = library(name, device_name)
    X, y = make_classification(40, 3, n_redundant=0, random_state=4)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with dispatch():
        with pytest.raises(ValueError, match="NaN"):
            GradientDescentLogisticRegression().fit(
                on_device(X_nan, xp, device), on_device(y, xp, device)
            )
        with pytest.raises(ValueError, match="sample_weight has shape"):
            GradientDescentLogisticRegression().fit(
                on_device(X, xp, device),
                on_device(y, xp, device),
                on_device(np.ones(7), xp, device),
            )
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            GradientDescentLogisticRegression().fit(
                on_device(X, xp, device), on_device(y[:-1], xp, device)
            )
        model = GradientDescentLogisticRegression().fit(
            on_device(X, xp, device), on_device(y, xp, device)
        )
        with pytest.raises(ValueError, match="features"):
            model.predict(on_device(X[:, :2], xp, device))


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_warm_start_and_pickle_on_device(name, device_name):
    xp, device = library(name, device_name)
    X, y = badly_scaled_classification(3)
    X_xp, y_xp = on_device(X, xp, device), on_device(y, xp, device)
    with dispatch():
        model = GradientDescentLogisticRegression(warm_start=True).fit(X_xp, y_xp)
        first = model.n_iter_
        model.fit(X_xp, y_xp)
        assert model.n_iter_ < first  # started at the solution
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(
            to_numpy(restored.predict(X_xp)), to_numpy(model.predict(X_xp))
        )


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_loss_curve_display_of_a_model_on_device(name, device_name):
    pytest.importorskip("matplotlib")
    xp, device = library(name, device_name)
    X, y = badly_scaled_classification(3)
    with dispatch():
        model = GradientDescentLogisticRegression().fit(
            on_device(X, xp, device), on_device(y, xp, device)
        )
    display = LossCurveDisplay.from_estimator(model)
    np.testing.assert_allclose(display.loss_curves[0], to_numpy(model.loss_curve_))


FITTED_ARRAYS = ("coef_", "intercept_", "classes_", "loss_curve_")
OUR_TYPE = "sklearn_gdlogreg._estimator.GradientDescentLogisticRegression"


def fitted_on(name: str, device_name: str):
    """``(model, X)``: a model fitted on ``X`` of library ``name``."""
    xp, device = library(name, device_name)
    X, y = badly_scaled_classification(3)
    X_xp = on_device(X, xp, device)
    with dispatch():
        model = GradientDescentLogisticRegression().fit(X_xp, on_device(y, xp, device))
    return model, X_xp


def assert_restored(restored, model, X_xp):
    """``restored`` is ``model``, its fitted arrays in ``X_xp``'s namespace."""
    for attribute in FITTED_ARRAYS:
        assert_in_namespace(getattr(restored, attribute), X_xp)
    with dispatch():
        np.testing.assert_array_equal(
            to_numpy(restored.predict_proba(X_xp)),
            to_numpy(model.predict_proba(X_xp)),
        )


@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
def test_models_fitted_on_a_device_save_with_pickle(name, device_name):
    model, X_xp = fitted_on(name, device_name)
    assert_restored(pickle.loads(pickle.dumps(model)), model, X_xp)


@pytest.mark.parametrize(("name", "device_name"), NAMESPACES)
def test_models_fitted_on_a_device_save_with_skops(name, device_name):
    """skops knows numpy arrays only: the fitted arrays are saved as numpy,
    with their library and device, and come back there."""
    sio = pytest.importorskip("skops.io")
    model, X_xp = fitted_on(name, device_name)
    data = sio.dumps(model)
    assert sio.get_untrusted_types(data=data) == [OUR_TYPE]
    assert_restored(sio.loads(data, trusted=[OUR_TYPE]), model, X_xp)


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_only_the_fitted_arrays_are_saved_by_namespace(name, device_name):
    """Other attributes that hold arrays of the library (a subclass's, a
    user's) are pickled as they are: a saved file names only the fitted
    arrays, the only ones that loading converts."""
    model, X_xp = fitted_on(name, device_name)
    model.extra_ = X_xp[:2, :]
    state = model.__getstate__()
    assert sorted(state["_array_namespace"]) == sorted(FITTED_ARRAYS)
    assert state["extra_"] is model.extra_
    restored = pickle.loads(pickle.dumps(model))
    assert_restored(restored, model, X_xp)
    assert_in_namespace(restored.extra_, X_xp)


@pytest.mark.parametrize("kind", ["cuda", "mps"])
def test_model_saved_on_a_missing_device_loads_on_the_cpu(kind):
    """A model saved on a CUDA (or Apple) device that this machine lacks
    (simulated: the state of a CPU fit, its device renamed) loads on the CPU,
    with a warning that names the device, and predicts as the CPU model."""
    torch = pytest.importorskip("torch")
    if kind == "cuda":
        missing = f"cuda:{torch.cuda.device_count()}"  # cuda:0 without a GPU
    elif torch.backends.mps.is_available():
        pytest.skip("this machine has an mps device")
    else:
        missing = "mps"
    model, X_xp = fitted_on("torch", "cpu")
    state = model.__getstate__()
    for attribute in FITTED_ARRAYS:
        assert state["_array_namespace"][attribute] == ["torch", "cpu"]
        state["_array_namespace"][attribute] = ["torch", missing]
    data = pickle.dumps(SavedState(state))
    with pytest.warns(UserWarning, match=f"torch device '{missing}'") as record:
        restored = pickle.loads(data)
    assert len(record) == 1  # one warning for all the arrays
    assert "loaded as torch arrays on the CPU" in str(record[0].message)
    assert record[0].filename == __file__  # points at the pickle.loads
    for attribute in FITTED_ARRAYS:
        assert getattr(restored, attribute).device == torch.device("cpu")
    assert_restored(restored, model, X_xp)
    with dispatch():
        np.testing.assert_array_equal(
            to_numpy(restored.predict(X_xp)), to_numpy(model.predict(X_xp))
        )


def test_unknown_torch_device_is_a_clear_error():
    pytest.importorskip("torch")
    model, _ = fitted_on("torch", "cpu")
    state = model.__getstate__()
    state["_array_namespace"]["coef_"] = ["torch", "warp-drive:0"]
    with pytest.raises(ValueError, match="'warp-drive:0' is not a torch device"):
        pickle.loads(pickle.dumps(SavedState(state)))


@pytest.mark.parametrize(
    ("name", "device_name"), [("array_api_strict", "CPU_DEVICE"), ("torch", "cpu")]
)
def test_without_dispatch_arrays_are_converted_to_numpy(name, device_name):
    """scikit-learn's convention: dispatch off, a CPU array is a numpy array
    (array-api-strict's other devices refuse the conversion)."""
    xp, device = library(name, device_name)
    X, y = make_classification(60, 4, n_redundant=0, random_state=5)
    model = GradientDescentLogisticRegression().fit(
        on_device(X, xp, device), on_device(y, xp, device)
    )
    assert isinstance(model.coef_, np.ndarray)
    np.testing.assert_allclose(
        model.coef_, GradientDescentLogisticRegression().fit(X, y).coef_
    )


@pytest.mark.parametrize(("name", "device_name"), LIBRARIES)
def test_missing_array_api_compat_names_the_extra(name, device_name, monkeypatch):
    xp, device = library(name, device_name)
    X, y = make_classification(30, 3, n_redundant=0, random_state=6)
    monkeypatch.setitem(sys.modules, "array_api_compat", None)  # as if not installed
    with dispatch():
        with pytest.raises(ImportError, match=r"sklearn-gdlogreg\[array-api\]"):
            GradientDescentLogisticRegression().fit(on_device(X, xp, device), y)
        # numpy input never needs it
        GradientDescentLogisticRegression().fit(X, y)


def test_gpu_benchmark_runs_on_the_cpu():
    """benchmarks/gpu.py, prepared for a CUDA machine, smoke-run on the CPU:
    it prints both fits, and they reach the same objective."""
    pytest.importorskip("torch")
    script = Path(__file__).parents[1] / "benchmarks" / "gpu.py"
    command = [sys.executable, str(script), "--device", "cpu", "--n-samples", "20000"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    fits = ("LogisticRegression (lbfgs), torch", "ours (defaults), torch")
    rows = [line.split() for line in out.splitlines() if line.startswith(fits)]
    assert [row[0] for row in rows] == ["LogisticRegression", "ours"]
    gap = float(rows[1][-2])  # ours' objective relative to lbfgs's
    assert abs(gap) < 1e-5
    assert "one read of X" in out
