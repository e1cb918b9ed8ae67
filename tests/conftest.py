import os

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.preprocessing import OneHotEncoder

from sklearn_gdlogreg import GradientDescentLogisticRegression
from sklearn_gdlogreg._backends import backend_for
from sklearn_gdlogreg._objective import LogisticObjective

try:  # property tests: fixed examples in CI (.ci/run), fresh ones elsewhere
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
except ImportError:
    pass


@pytest.fixture
def rng():
    return np.random.RandomState(0)


def badly_scaled_classification(n_classes: int, n_samples: int = 200, seed: int = 0):
    """A small, non-separable problem whose features have very different scales
    and means far from zero: what raw data looks like to plain gradient descent."""
    X, y = make_classification(
        n_samples=n_samples,
        n_features=5,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        class_sep=0.5,
        flip_y=0.1,
        random_state=seed,
    )
    return X * [1, 10, 100, 0.1, 1] + [0, 50, 300, 0, 1], y


def one_hot(rng, levels=(3, 5, 2), n_samples=60):
    """One-hot encoded categorical features, as OneHotEncoder writes them."""
    codes = np.column_stack([rng.randint(k, size=n_samples) for k in levels])
    return OneHotEncoder().fit_transform(codes)


def make_objective(rng, n_outputs, fit_intercept=True, l2=0.1, l1=0.0, X=None):
    n_samples, n_features = 40, 4
    if X is None:
        X = rng.normal(size=(n_samples, n_features)) * [1, 3, 0.5, 10] + [0, 5, 0, -2]
    n_classes = 2 if n_outputs == 1 else n_outputs
    y = rng.randint(n_classes, size=X.shape[0])
    weights = rng.uniform(0.1, 2, size=X.shape[0])
    return LogisticObjective(
        backend=backend_for(X),
        y=y,
        weights=weights / weights.sum(),
        n_outputs=n_outputs,
        fit_intercept=fit_intercept,
        l2=l2,
        l1=l1,
    )


def coef_shape(obj):
    return (obj.n_features + obj.fit_intercept, obj.n_outputs)


class SavedState:
    """Pickles as a GradientDescentLogisticRegression with ``state``: what a
    saved file holds, as written or changed by hand."""

    def __init__(self, state: dict):
        self.state = state

    def __reduce__(self):
        return (object.__new__, (GradientDescentLogisticRegression,), self.state)
