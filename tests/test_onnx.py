"""ONNX export: onnxruntime gives our labels and probabilities."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("sklearn_gdlogreg.onnx")

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
    # As exact as the model's own float32 predict_proba, against the
    # probabilities in float64: with C=inf on raw data the coefficients are
    # large, and both lose about 2e-5 to float32 scores.
    scores = X.astype(np.float64) @ model.coef_[0].astype(np.float64)
    exact = expit(scores + float(model.intercept_[0]))
    own = np.abs(model.predict_proba(X)[:, 1] - exact).max()
    assert np.abs(proba[:, 1] - exact).max() <= 2 * own + 1e-6
