"""The coefficient layout: every conversion and its inverse, and the gauge."""

import numpy as np
import pytest

from sklearn_gdlogreg import _layout


@pytest.mark.parametrize("n_outputs", [1, 4])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_fitted_attributes_and_path_rows_round_trip(rng, n_outputs, fit_intercept):
    coef = rng.normal(size=(5 + fit_intercept, n_outputs))
    W, b = _layout.split(coef, 5, fit_intercept)
    assert np.shares_memory(W, coef) and W.shape == (5, n_outputs)
    coef_, intercept_ = _layout.to_fitted(coef, 5, fit_intercept)
    assert coef_.shape == (n_outputs, 5) and intercept_.shape == (n_outputs,)
    if not fit_intercept:
        np.testing.assert_array_equal(intercept_, 0)
    elif n_outputs > 1:  # the multinomial intercepts sum to zero
        np.testing.assert_allclose(intercept_.sum(), 0, atol=1e-12)
        np.testing.assert_allclose(intercept_ - b, (intercept_ - b)[0])
    back = _layout.from_fitted(coef_, intercept_, fit_intercept, np.float64)
    np.testing.assert_array_equal(back[:5], coef[:5])
    rows = _layout.path_rows(coef_, intercept_, fit_intercept)
    assert rows.shape == (n_outputs, 5 + fit_intercept)
    again = _layout.from_path_rows(rows, fit_intercept)
    np.testing.assert_array_equal(again[0], coef_)
    np.testing.assert_array_equal(again[1], intercept_)


def test_a_warm_start_without_the_common_part_predicts_alike(rng):
    # The classes' mean taken out of each feature's coefficients: the same
    # scores up to a shift of every class alike, which the softmax ignores.
    coef_, intercept_ = rng.normal(size=(3, 4)), rng.normal(size=3)
    start = _layout.from_fitted(coef_, intercept_, True, np.float64, common_part=False)
    np.testing.assert_allclose(start[:4].sum(axis=1), 0, atol=1e-12)
    X = rng.normal(size=(10, 4))
    shift = X @ start[:4] + start[4] - (X @ coef_.T + intercept_)
    np.testing.assert_allclose(shift - shift[:, :1], 0, atol=1e-12)


def test_the_parameters_of_the_standard_errors():
    rows = np.array([[1.0, 2.0], [4.0, 6.0], [0.0, 1.0]])
    np.testing.assert_array_equal(_layout.against_the_first(rows), [3, 4, -1, -1])
    np.testing.assert_array_equal(_layout.against_the_first(rows[:1]), [1, 2])
