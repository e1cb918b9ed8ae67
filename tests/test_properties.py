"""Property-based tests (hypothesis): invariances a logistic fit must have."""

import threading
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

from sklearn_gdlogreg import GradientDescentLogisticRegression  # noqa: E402
from sklearn_gdlogreg._reference import reference_objective  # noqa: E402

FAST = settings(max_examples=15, deadline=None)


@st.composite
def problems(draw, max_classes=3):
    """Small finite data sets with at least two classes and positive weights."""
    n_samples = draw(st.integers(6, 25))
    n_features = draw(st.integers(1, 4))
    X = draw(
        arrays(
            np.float64,
            (n_samples, n_features),
            elements=st.floats(-100, 100, allow_nan=False, width=32),
        )
    )
    n_classes = draw(st.integers(2, max_classes))
    y = draw(arrays(np.int64, n_samples, elements=st.integers(0, n_classes - 1)))
    y[:n_classes] = np.arange(n_classes)  # every class present
    weights = draw(
        arrays(np.float64, n_samples, elements=st.floats(0.125, 4, width=32))
    )
    return X, y, weights


def fit(X, y, sample_weight=None, **params):
    """A tight fit; the example is skipped if it does not converge.

    The invariances hold for the minimiser, so only converged fits can be
    compared (a few random tiny problems are too ill-conditioned for tol).
    """
    params = {"tol": 1e-9, "max_iter": 2000, **params}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = GradientDescentLogisticRegression(**params).fit(
            X, y, sample_weight=sample_weight
        )
    assume(not any(issubclass(w.category, ConvergenceWarning) for w in caught))
    return clf


def objective(clf, X, y, weights=None):
    """LogisticRegression's objective divided by C * sum(weights)."""
    return reference_objective(clf, X, y, sample_weight=weights)


def assert_same_model(a, b, X, y, weights=None):
    """Both fits reach the minimum of the same objective.

    Compared through the objective (to 1e-9) and the probabilities (to
    1e-4), not the coefficients: on these tiny random problems some
    directions are so flat that tol=1e-9 leaves the coefficients 1e-5 apart
    while the objective agrees to 1e-12.
    """
    f_a, f_b = objective(a, X, y, weights), objective(b, X, y, weights)
    assert abs(f_a - f_b) <= 1e-9 * max(1.0, abs(f_a))
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-4)


@FAST
@given(problems(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(problem, random):
    X, y, w = problem
    order = np.array(random.sample(range(len(y)), len(y)))
    assert_same_model(fit(X, y, w), fit(X[order], y[order], w[order]), X, y, w)


@FAST
@given(problems())
def test_label_encoding_does_not_matter(problem):
    X, y, _ = problem
    ints = fit(X, y)
    words = ["zero", "one", "two"]
    strings = fit(X, np.array(words)[y])
    # Columns follow the sorted labels: match each string class to its int.
    order = [words.index(label) for label in strings.classes_]
    np.testing.assert_allclose(
        strings.predict_proba(X), ints.predict_proba(X)[:, order], atol=1e-6
    )


@FAST
@given(problems())
def test_relabelling_permutes_the_model(problem):
    X, y, _ = problem
    k = y.max() + 1
    relabel = (y + 1) % k  # class c becomes class c + 1 (mod k)
    a, b = fit(X, y), fit(X, relabel)
    shifted = np.roll(a.predict_proba(X), 1, axis=1)  # column c -> c + 1
    np.testing.assert_allclose(b.predict_proba(X), shifted, atol=1e-6)


@FAST
@given(problems())
def test_weight_two_equals_a_duplicated_row(problem):
    X, y, _ = problem
    weights = np.ones(len(y))
    weights[0] = 2
    duplicated = fit(np.vstack([X, X[:1]]), np.concatenate([y, y[:1]]))
    assert_same_model(duplicated, fit(X, y, weights), X, y, weights)


@FAST
@given(problems(), st.floats(0.1, 10))
def test_scaling_C_equals_scaling_the_weights(problem, factor):
    X, y, w = problem
    scaled_C, scaled_weights = fit(X, y, w, C=factor), fit(X, y, factor * w)
    assert_same_model(scaled_C, scaled_weights.set_params(C=factor), X, y, w)


@FAST
@given(problems())
def test_a_fit_is_deterministic_to_the_bit(problem):
    X, y, w = problem
    a, b = fit(X, y, w), fit(X.copy(), y.copy(), w.copy())
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)


@settings(max_examples=10, deadline=None)
@given(problems())
def test_predictions_agree_across_calls_and_threads(problem):
    X, y, _ = problem
    clf = fit(X, y)
    expected = clf.predict_proba(X)
    results = [None] * 4

    def predict(i):
        results[i] = clf.predict_proba(X)

    threads = [threading.Thread(target=predict, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in [clf.predict_proba(X), *results]:
        np.testing.assert_array_equal(result, expected)


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 8), st.integers(1, 3)),
        elements=st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
    ),
    st.data(),
)
def test_random_finite_input_never_crashes_uncleanly(X, data):
    y = data.draw(arrays(np.int64, X.shape[0], elements=st.integers(0, 2)))
    weights = data.draw(
        st.none()
        | arrays(np.float64, X.shape[0], elements=st.floats(0, 1e10, width=32))
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning is fine here
            clf = GradientDescentLogisticRegression(max_iter=50).fit(
                X, y, sample_weight=weights
            )
    except ValueError as error:
        assert str(error)  # a message that names the problem
        return
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
