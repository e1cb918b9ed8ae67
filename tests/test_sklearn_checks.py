"""scikit-learn's own estimator checks, all of them, with no expected failures."""

from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from sklearn_gdlogreg import (
    GradientDescentLogisticRegression,
    GradientDescentLogisticRegressionCV,
)


@parametrize_with_checks(
    [
        GradientDescentLogisticRegression(),
        # A grid whose fits converge on the checks' small data: at C=1e4 the
        # 45 x 30 near-separable problem of the sample-weight check needs more
        # than max_iter iterations to reach tol (as scikit-learn runs
        # LogisticRegressionCV's checks with settings of their own).
        GradientDescentLogisticRegressionCV(Cs=[0.1, 1.0]),
    ]
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_param_validation():
    # Not part of check_estimator's list; run it explicitly.
    check_param_validation(
        "GradientDescentLogisticRegression", GradientDescentLogisticRegression()
    )
    check_param_validation(
        "GradientDescentLogisticRegressionCV", GradientDescentLogisticRegressionCV()
    )
