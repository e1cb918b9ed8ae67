"""ONNX export: onnxruntime gives our labels and probabilities."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sklearn
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

_EXTRA = "ONNX export needs the onnx extra: pip install 'sklearn-gdlogreg[onnx]'"
skl2onnx = pytest.importorskip("skl2onnx", reason=_EXTRA)
pytest.importorskip("onnx", reason=_EXTRA)
ort = pytest.importorskip("onnxruntime", reason=_EXTRA)
pytest.importorskip("sklearn_gdlogreg.onnx", reason=_EXTRA)

from sklearn_gdlogreg import (  # noqa: E402
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
)


def run(onx, X):
    session = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, {session.get_inputs()[0].name: X})


def data(name):
    X, y = (load_breast_cancer if name == "binary" else load_iris)(return_X_y=True)
    return X.astype(np.float32), y


@pytest.mark.parametrize("name", ["binary", "three classes"])
@pytest.mark.parametrize("in_pipeline", [False, True])
@pytest.mark.parametrize("zipmap", [False, True])
def test_onnxruntime_predicts_as_the_model(name, in_pipeline, zipmap):
    X, y = data(name)
    estimator = GradientDescentLogisticRegression()
    if in_pipeline:
        model = make_pipeline(StandardScaler(), estimator).fit(X, y)
    else:
        X = StandardScaler().fit_transform(X).astype(np.float32)
        model = estimator.fit(X, y)
    onx = skl2onnx.to_onnx(model, X[:1], options={id(estimator): {"zipmap": zipmap}})
    labels, proba = run(onx, X)
    if zipmap:  # a list of {class: probability}
        proba = np.array([[row[c] for c in model.classes_] for row in proba])
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)


def test_string_labels_float64_input_and_the_cv_estimator():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = make_pipeline(
        StandardScaler(), GradientDescentLogisticRegressionCV(Cs=3, cv=3)
    ).fit(X, names)
    onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": False})
    labels, proba = run(onx, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-9)


def test_binary_probabilities_are_exact_far_from_the_boundary():
    """Not LogisticRegression's converter: that one gave binary probabilities
    off by up to 0.15 for our model."""
    X, y = data("binary")
    model = GradientDescentLogisticRegression(C=np.inf).fit(X, y)  # raw data
    labels, proba = run(skl2onnx.to_onnx(model, X[:1], options={"zipmap": False}), X)
    np.testing.assert_array_equal(labels, model.predict(X))
    # Within what float32 scores allow, against the probabilities in
    # float64: with C=inf on raw data the coefficients are large. A float32
    # sum of d terms is off by at most about d eps times the sum of their
    # sizes, and the probability by p (1 - p) times that, plus its own
    # rounding. The model's own float32 predict_proba stays within it too.
    terms = X.astype(np.float64) * model.coef_[0].astype(np.float64)
    exact = expit(terms.sum(axis=1) + float(model.intercept_[0]))
    eps = float(np.finfo(np.float32).eps)
    sizes = np.abs(terms).sum(axis=1) + abs(float(model.intercept_[0]))
    bound = X.shape[1] * eps * sizes * exact * (1 - exact) + 2 * eps
    assert (np.abs(model.predict_proba(X)[:, 1] - exact) <= bound).all()
    assert (np.abs(proba[:, 1] - exact) <= bound).all()


def proba_of(model, X, zipmap):
    """skl2onnx's export of ``model``, run by onnxruntime: labels, probabilities
    (rows of ``{class: probability}`` turned back into an array)."""
    onx = skl2onnx.to_onnx(model, X[:1], options={"zipmap": zipmap})
    labels, proba = run(onx, X)
    if zipmap:  # classes_ may be a tensor: its labels as Python's
        classes = model.classes_.tolist()
        proba = np.array([[row[c] for c in classes] for row in proba])
    return labels, proba


@pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="array API dispatch needs SCIPY_ARRAY_API=1 (.ci/run's second pass)",
)
@pytest.mark.parametrize("name", ["binary", "three classes"])
@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_model_fitted_on_torch_tensors(name, zipmap, dtype):
    """skl2onnx's parser (zipmap) and shape calculator read classes_ as a numpy
    array: the export works from numpy copies of the fitted arrays, and
    leaves the model's own on their device."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("array_api_compat")
    X, y = data(name)
    X = StandardScaler().fit_transform(X).astype(dtype)
    with sklearn.config_context(array_api_dispatch=True):
        model = GradientDescentLogisticRegression().fit(
            torch.asarray(X), torch.asarray(y)
        )
        expected = model.predict_proba(torch.asarray(X)).numpy()
        expected_labels = model.predict(torch.asarray(X)).numpy()
    # A float32 graph: skl2onnx's ZipMap takes float32 probabilities only
    # (LogisticRegression's too).
    labels, proba = proba_of(model, X.astype(np.float32), zipmap)
    np.testing.assert_array_equal(labels, expected_labels)
    np.testing.assert_allclose(proba, expected, atol=1e-5)
    assert all(torch.is_tensor(getattr(model, a)) for a in ("classes_", "coef_"))


@pytest.mark.parametrize("zipmap", [False, True])
@pytest.mark.parametrize("labels", ["strings", "uint64"])
def test_nocl_gives_the_indices_of_the_classes(labels, zipmap):
    """As skl2onnx's linear classifiers: int64 indices, no class labels in the
    graph (so also for labels that int64 cannot hold)."""
    X, y = data("three classes")
    X = StandardScaler().fit_transform(X).astype(np.float32)
    names = {
        "strings": np.array(["setosa", "versicolor", "virginica"]),
        "uint64": np.array([0, 2**63, 2**64 - 1], dtype=np.uint64),
    }[labels]
    model = GradientDescentLogisticRegression().fit(X, names[y])
    onx = skl2onnx.to_onnx(
        model, X[:1], options={id(model): {"zipmap": zipmap, "nocl": True}}
    )
    indices, proba = run(onx, X)
    if zipmap:  # keyed by the indices
        proba = np.array([[row[k] for k in range(3)] for row in proba])
    assert indices.dtype == np.int64
    np.testing.assert_array_equal(
        indices, np.searchsorted(model.classes_, model.predict(X))
    )
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-5)
    # The graph holds no labels: none of the strings (the uint64 labels,
    # which ONNX int64 cannot hold, would have failed the export).
    strings = [t for t in onx.graph.initializer if t.string_data]
    assert not strings


@pytest.mark.parametrize("name", ["binary", "three classes"])
@pytest.mark.parametrize(
    ("dtype", "smallest"), [(np.float32, 1e-30), (np.float64, 1e-60)]
)
def test_tiny_probabilities_are_exact(name, dtype, smallest):
    """Down to ``smallest`` (float32: 1e-30, above its underflow), as
    predict_proba gives them: onnxruntime's Sigmoid gave 0 there."""
    X, y = data(name)
    X = StandardScaler().fit_transform(X).astype(dtype)
    model = GradientDescentLogisticRegression().fit(X, y)
    # Points along a line through the mean, where the scores spread apart
    # (binary: z along coef_; else the last class's against the first),
    # far enough that the smallest probabilities reach about `smallest`.
    W = model.coef_.astype(np.float64)
    direction = W[0] if W.shape[0] == 1 else W[-1] - W[0]
    spread = direction @ direction if W.shape[0] == 1 else np.ptp(W @ direction)
    far = np.linspace(-1, 1, 41) * (-np.log(smallest) / spread)
    X_far = (far[:, None] * direction).astype(dtype)
    expected = model.predict_proba(X_far)
    assert np.finfo(dtype).tiny < expected.min() < 1e3 * smallest
    labels, proba = run(
        skl2onnx.to_onnx(model, X_far[:1], options={"zipmap": False}), X_far
    )
    np.testing.assert_array_equal(labels, model.predict(X_far))
    # onnxruntime's scores and numpy's round differently, by eps * |Z|; a
    # probability's relative error is that of its scores.
    scores = np.abs(model.decision_function(X_far)).max()
    rtol = 8 * np.finfo(dtype).eps * scores
    np.testing.assert_allclose(proba, expected, rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_labels_at_scores_too_small_to_change_the_probabilities(dtype):
    """Labels of the highest score, as predict: the probabilities of z = ±1e-30
    both round to 0.5."""
    X, y = data("binary")
    X = StandardScaler().fit_transform(X).astype(dtype)
    model = GradientDescentLogisticRegression(fit_intercept=False).fit(X, y)
    w = model.coef_[0].astype(np.float64)
    # x = s w / |w|^2 has the score s: its terms all have the sign of s.
    s = np.array([-1e-30, 1e-30, -1e-20, 1e-20])
    X_near = (s[:, None] * w / (w @ w)).astype(dtype)
    proba = model.predict_proba(X_near)
    assert np.all(proba == 0.5)
    np.testing.assert_array_equal(model.predict(X_near), [0, 1, 0, 1])
    labels, _ = run(
        skl2onnx.to_onnx(model, X_near[:1], options={"zipmap": False}), X_near
    )
    np.testing.assert_array_equal(labels, model.predict(X_near))


@pytest.mark.parametrize("zipmap", [False, True])
def test_labels_that_int64_cannot_hold_fail_clearly(zipmap):
    X, y = data("binary")
    X = StandardScaler().fit_transform(X).astype(np.float32)
    labels = np.array([7, 2**64 - 1], dtype=np.uint64)
    model = GradientDescentLogisticRegression().fit(X, labels[y])
    with pytest.raises(ValueError, match=r"ONNX int64 labels cannot hold .*nocl"):
        skl2onnx.to_onnx(model, X[:1], options={"zipmap": zipmap})


def test_the_package_skips_onnx_without_skl2onnx():
    """pytest collects onnx.py's doctests (--doctest-modules): without the
    onnx extra, it and this file are skipped with the reason, not errors
    (conftest.py at the root), also when named on the command line."""
    root = Path(__file__).parents[1]
    if not (root / "conftest.py").exists():
        pytest.skip("no conftest.py at the root (an sdist without it: MANIFEST.in)")
    code = (
        "import sys; sys.modules['skl2onnx'] = None; import pytest; "
        "sys.exit(pytest.main(['-q', '-rs', '-p', 'no:cacheprovider', "
        "'sklearn_gdlogreg/onnx.py', 'tests/test_onnx.py']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True
    )
    # Everything skipped: no test ran (exit code 5), no collection error (2).
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, output
    assert "error" not in output.lower()
    assert "onnx.py needs skl2onnx" in output
    assert "test_onnx.py" in output and _EXTRA in output
