"""Logistic regression by gradient descent, as a scikit-learn estimator."""

from ._estimator import GradientDescentLogisticRegression

__all__ = ["GradientDescentLogisticRegression"]
__version__ = "0.1.0"
