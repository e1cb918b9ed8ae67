"""Logistic regression by gradient descent, as a scikit-learn estimator."""

from ._cv import GradientDescentLogisticRegressionCV
from ._estimator import GradientDescentLogisticRegression
from .plotting import LossCurveDisplay

__all__ = [
    "GradientDescentLogisticRegression",
    "GradientDescentLogisticRegressionCV",
    "LossCurveDisplay",
]
__version__ = "0.2.0"
