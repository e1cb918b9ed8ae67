"""scikit-learn's own estimator checks, all of them, with no expected failures."""

from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_gdlogreg import GradientDescentLogisticRegression


@parametrize_with_checks([GradientDescentLogisticRegression()])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    # Not part of check_estimator's list; run it explicitly.
    check_param_validation(
        "GradientDescentLogisticRegression", GradientDescentLogisticRegression()
    )
