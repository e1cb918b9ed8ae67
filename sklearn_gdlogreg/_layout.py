"""The coefficient layout, written once.

The solver's coefficients are one array ``coef`` of shape ``(n_features +
fit_intercept, n_outputs)``: the rows of ``W`` first, the intercept ``b``
last (scikit-learn's ``LinearModelLoss`` keeps the intercept last too).
``n_outputs`` is 1 for a binary problem and ``K`` for ``K >= 3`` classes
(the symmetric softmax). The fitted attributes are ``coef_`` of shape
``(n_outputs, n_features)`` and ``intercept_`` of ``(n_outputs,)``; the CV
estimator's paths hold rows ``[coef_[k], intercept_[k]]``; the standard
errors report each class against the first.

The softmax does not change when every class's scores move alike: the
gauge the fitted attributes are put in (intercepts summing to zero, as
``LogisticRegression``'s) is :func:`to_fitted`'s, the one a warm start
takes the steps from (each feature's coefficients summing to zero) is
:func:`from_fitted`'s.
"""

from __future__ import annotations

import numpy as np

from ._array_api import like


def zeros(n_features: int, n_outputs: int, fit_intercept: bool, dtype) -> np.ndarray:
    """The coefficients where a fit starts from nothing."""
    return np.zeros((n_features + fit_intercept, n_outputs), dtype=dtype)


def split(
    coef: np.ndarray, n_features: int, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` views of ``coef``; ``b`` is zeros without an intercept."""
    W = coef[:n_features]
    if fit_intercept:
        return W, coef[n_features]
    return W, np.zeros(coef.shape[1], dtype=coef.dtype)


def to_fitted(
    coef: np.ndarray, n_features: int, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef_, intercept_)`` of the solver's ``coef`` (new arrays): the
    multinomial intercepts moved alike to sum to zero."""
    W, b = split(coef, n_features, fit_intercept)
    if fit_intercept and b.shape[0] > 1:
        b = b - b.mean()
    return np.ascontiguousarray(W.T), np.array(b, dtype=coef.dtype)


def fitted_attributes(
    coef: np.ndarray, n_features: int, fit_intercept: bool, classes, X
) -> dict:
    """``classes_``, ``coef_`` and ``intercept_`` of the solver's ``coef``,
    in the namespace and on the device of ``X`` (``classes_`` only if that
    namespace can hold them: numbers, not strings)."""
    coef_, intercept_ = to_fitted(coef, n_features, fit_intercept)
    return {
        "classes_": like(classes, X) if classes.dtype.kind in "biuf" else classes,
        "coef_": like(coef_, X),
        "intercept_": like(intercept_, X),
    }


def from_fitted(
    coef_: np.ndarray,
    intercept_: np.ndarray,
    fit_intercept: bool,
    dtype,
    common_part: bool = True,
) -> np.ndarray:
    """The solver's ``coef`` of fitted ``coef_`` and ``intercept_`` (numpy).

    Without ``common_part``, each feature's coefficients have the classes'
    mean taken out (the same predictions): the steps of a multinomial fit
    without an L1 term never change it, and the minimum has none.
    """
    n_outputs, n_features = coef_.shape
    coef = zeros(n_features, n_outputs, fit_intercept, dtype)
    coef[:n_features] = coef_.T
    if fit_intercept:
        coef[n_features] = intercept_
    if n_outputs > 1 and not common_part:
        coef[:n_features] -= coef[:n_features].mean(axis=1, keepdims=True)
    return coef


def path_rows(coef_: np.ndarray, intercept_: np.ndarray, fit_intercept: bool):
    """A CV path's ``(n_outputs, n_features + fit_intercept)`` rows
    ``[coef_[k], intercept_[k]]`` of fitted attributes."""
    if fit_intercept:
        return np.hstack([coef_, intercept_[:, None]])
    return coef_.copy()


def from_path_rows(
    rows: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(coef_, intercept_)`` of a CV path's rows (see :func:`path_rows`)."""
    if fit_intercept:
        return np.ascontiguousarray(rows[:, :-1]), rows[:, -1].copy()
    return rows.copy(), np.zeros(rows.shape[0], dtype=rows.dtype)


def against_the_first(rows: np.ndarray) -> np.ndarray:
    """The parameters the standard errors report: a binary model's own, or
    for ``K >= 3`` classes each class's against the first (``rows[k] -
    rows[0]``, as statsmodels' ``MNLogit``), raveled class by class."""
    if rows.shape[0] == 1:
        return rows[0]
    return (rows[1:] - rows[0]).ravel()
