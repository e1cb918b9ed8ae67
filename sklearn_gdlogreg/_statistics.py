"""The estimators' statistical inference, as methods (``InferenceMixin``):
the covariance of the fitted coefficients, their table, and confidence
intervals of the predicted probabilities (:func:`proba_interval`); the
covariance's formulas and rules are ``_inference``'s."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy import stats
from sklearn.utils.validation import check_is_fitted

from . import _inference, _layout
from ._array_api import on_host, to_numpy
from ._inputs import ArrayInput, check_offset
from ._loss import expit, softmax

if TYPE_CHECKING:  # annotations only: no import of pandas at run time
    import pandas as pd


class InferenceMixin:
    """Standard errors and intervals of a fitted logistic regression (the
    estimators' ``covariance_matrix``, ``coef_table`` and
    ``predict_proba_interval``). The estimator provides ``_snapshot`` and
    the fitted attributes."""

    if TYPE_CHECKING:  # the estimator's: a consistent view of its attributes

        def _snapshot(self) -> Any: ...

    def covariance_matrix(
        self,
        X: ArrayInput,
        y: ArrayInput,
        sample_weight: ArrayInput = None,
        robust: bool = False,
        offset: ArrayInput = None,
    ) -> np.ndarray:
        """Compute the covariance of the fitted coefficients and intercepts.

        The classical covariance is the inverse of the weighted Fisher
        information at the fitted coefficients; with ``C=np.inf`` its
        diagonal gives the usual maximum-likelihood standard errors (those
        of statsmodels' ``Logit`` and ``MNLogit``). With an L2 penalty it is
        the inverse of the Hessian of the penalised objective (a Bayesian
        posterior covariance under the Gaussian prior that the penalty is,
        not a frequentist one). ``robust=True`` gives the HC0 sandwich.
        Sample weights (times the class weights) are frequency weights: a
        weight of 2 counts a row twice.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data the model was fitted on (numpy or scipy.sparse).
        y : array-like of shape (n_samples,)
            Its labels, of the classes the model was fitted with.
        sample_weight : array-like of shape (n_samples,), default=None
            Its sample weights.
        robust : bool, default=False
            The heteroskedasticity-robust (HC0) sandwich instead.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            Its offsets, for a model fitted with them.

        Returns
        -------
        cov : ndarray of shape (n_parameters, n_parameters)
            For two classes, the parameters are ``coef_[0]`` then
            ``intercept_[0]``. For ``K >= 3`` classes, each class ``k >= 1``
            against the first (``coef_[k] - coef_[0]`` then
            ``intercept_[k] - intercept_[0]``), as ``MNLogit`` reports them:
            the symmetric softmax is not identifiable without a penalty.
        """
        check_is_fitted(self)
        return _inference.checked_covariance(
            self._snapshot(), X, y, sample_weight, robust, offset
        )

    def coef_table(
        self,
        X: ArrayInput,
        y: ArrayInput,
        sample_weight: ArrayInput = None,
        robust: bool = False,
        alpha: float = 0.05,
        offset: ArrayInput = None,
    ) -> pd.DataFrame:
        """Tabulate the coefficients with their standard errors and tests.

        The z statistics, p-values and confidence intervals, as statsmodels'
        ``summary()`` shows them. Needs pandas (the ``inference`` extra). See
        ``covariance_matrix`` for what the standard errors are.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data the model was fitted on.
        y : array-like of shape (n_samples,)
            Its labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Its sample weights (frequency weights).
        robust : bool, default=False
            HC0 (heteroskedasticity-robust) standard errors.
        alpha : float, default=0.05
            The confidence intervals have level ``1 - alpha``.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            Its offsets, for a model fitted with them.

        Returns
        -------
        table : pandas.DataFrame
            Columns ``coef``, ``se``, ``z``, ``p_value``, ``ci_lower`` and
            ``ci_upper``; one row per feature (``feature_names_in_``, or
            ``x0``, ``x1``, ...) and ``intercept``. For ``K >= 3`` classes
            the index has two levels, ``class`` (each class but the first,
            against the first) and ``feature``.
        """
        try:
            import pandas as pd
        except ImportError as error:  # an optional extra
            raise ImportError(
                "coef_table needs pandas: pip install 'sklearn-gdlogreg[inference]'."
            ) from error
        if not 0 < alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
        cov = self.covariance_matrix(
            X, y, sample_weight=sample_weight, robust=robust, offset=offset
        )
        return _inference.coef_frame(self, cov, alpha, pd)

    def predict_proba_interval(
        self,
        X: ArrayInput,
        *,
        cov: np.ndarray,
        alpha: float = 0.05,
        offset: ArrayInput = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Confidence intervals of the predicted probabilities.

        Pointwise ``1 - alpha`` intervals of ``predict_proba(X)``, from the
        covariance of the coefficients that ``covariance_matrix`` computes
        on the training data (classical or robust, with its sample
        weights): compute it once, then pass it for any number of ``X``.
        For two classes, the normal interval of the linear predictor
        ``z = x @ coef_[0] + intercept_[0]`` (of variance ``u Cov u^T``,
        ``u = [x, 1]``) goes through the sigmoid, as statsmodels' GLM
        ``get_prediction().conf_int()``; the first class gets one minus
        those bounds. For ``K >= 3`` classes, the delta method on each
        probability, clipped to [0, 1]. These are intervals of the
        probabilities (the model's mean), not of the labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples, validated as ``predict_proba`` validates them. Arrays
            of other libraries (array API, dask) are brought to the host.
        cov : ndarray of shape (n_parameters, n_parameters)
            The covariance of the parameters, as ``covariance_matrix``
            returns it for this model and in its order.
        alpha : float, default=0.05
            The intervals have level ``1 - alpha``; in (0, 1).
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, as in ``predict_proba`` (known terms: they
            add nothing to the variance).

        Returns
        -------
        lower : ndarray of shape (n_samples, n_classes)
            The lower bounds (numpy float64), in the order of ``classes_``.
        upper : ndarray of shape (n_samples, n_classes)
            The upper bounds.

        Raises
        ------
        ValueError
            If ``alpha`` is not in (0, 1), or ``cov`` does not have this
            model's number of parameters.
        NotFittedError
            If the model is not fitted.

        Notes
        -----
        The bounds are NaN for the samples whose prediction involves a
        parameter of NaN variance: all of them when the classes are
        separated (``C=np.inf``), those with a nonzero value of a column
        whose coefficient is not identified (collinear columns). With an
        L2 penalty the covariance is a posterior one (see
        ``covariance_matrix``), and so are these intervals.
        """
        check_is_fitted(self)
        return proba_interval(self._snapshot(), X, cov, alpha, offset)


# The rows of X taken at once by ``proba_interval``: its largest temporary,
# a block's products with the covariance, holds this many float64 (32 MiB).
_INTERVAL_BLOCK = 2**22


def proba_interval(
    model, X, cov, alpha: float, offset=None, block_size: int = _INTERVAL_BLOCK
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise ``1 - alpha`` confidence intervals of ``model.predict_proba(X)``
    from ``cov``, the covariance of the parameters (:func:`checked_covariance`,
    in its order: per class block ``[w, b]``, each class against the first).

    Binary: the interval of the linear predictor ``z_i = u_i theta``, ``u_i =
    [x_i, 1]``, is ``z_i +- q sqrt(u_i Cov u_i^T)`` with ``q`` the normal
    quantile, and its ends go through the sigmoid (statsmodels' GLM
    ``get_prediction().conf_int()``, the endpoint transformation); class 0
    gets ``1 - upper, 1 - lower``. ``K >= 3`` classes: the delta method on
    each probability, ``p_ij +- q sqrt(g_ij Cov g_ij^T)`` with ``g_ij`` the
    gradient of ``p_ij`` in the parameters, ``p_ij (delta_jk - p_ik) u_i``
    for class ``k >= 1``'s block, clipped to [0, 1]. The quadratic forms are
    taken row by row (``u_i C_kl u_i^T`` for each pair of blocks), a block
    of rows at a time: no ``(n, n)`` matrix, no Jacobian of all the rows.

    X is validated as ``predict_proba`` validates it (numpy or
    scipy.sparse); like :func:`checked_covariance`, arrays of other
    libraries come to the host, and the bounds are numpy float64 arrays of
    shape ``(n_samples, n_classes)``. A parameter whose variance is NaN
    (not identified, or every one where the classes are separated) makes
    the bounds of the rows that load on it (a nonzero ``u_ij``) NaN; the
    other rows' predictions do not involve it, and keep their bounds. An
    ``offset`` (as in ``fit``) shifts the scores; it has no variance.
    ``block_size`` bounds the float64 values of a block's largest temporary.
    """
    check_is_fitted(model)
    if not isinstance(alpha, numbers.Real) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}.")
    X = _inference.validated_on_host(model, X)
    if sp.issparse(X):
        X = X.tocsr()  # blocks of rows
    fit_intercept = model.fit_intercept
    rows = _layout.path_rows(
        to_numpy(model.coef_).astype(np.float64),
        to_numpy(model.intercept_).astype(np.float64),
        fit_intercept,
    )
    n_classes = to_numpy(model.classes_).shape[0]
    d, m = rows.shape[1], max(n_classes - 1, 1)
    offset = check_offset(on_host(offset), X.shape[0], n_classes, np.float64)
    if sp.issparse(cov):
        raise TypeError("cov must be a dense array (covariance_matrix's).")
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (m * d, m * d):
        raise ValueError(
            f"cov has the shape {cov.shape}, but this model has {m * d} "
            "parameters: pass the covariance_matrix of this model."
        )
    scale = np.nanmax(np.abs(cov), initial=0.0)
    asymmetric = np.abs(cov - cov.T) > 1e-8 * scale
    if asymmetric.any() or (np.diag(cov) < 0).any():
        raise ValueError(
            "cov is not a covariance matrix (symmetric, with a non-negative "
            "diagonal): pass the covariance_matrix of this model."
        )
    # The parameters of NaN variance, and both of any other NaN covariance.
    nan = np.isnan(cov)
    unknown = np.diag(nan).copy()
    rest = nan & ~unknown[:, None] & ~unknown[None, :]
    unknown |= rest.any(axis=0) | rest.any(axis=1)
    known = np.where(unknown[:, None] | unknown[None, :], 0.0, cov)
    # Row e, column (k, l, f): Cov[(k, e), (l, f)], so that a block of rows
    # U gives every u_i C_kl u_i^T in one product and one einsum.
    pairs = known.reshape(m, d, m, d).transpose(1, 0, 2, 3).reshape(d, m * m * d)
    unknown = unknown.reshape(m, d).any(axis=0)  # columns of u that carry one
    quantile = stats.norm.isf(alpha / 2)
    n = X.shape[0]
    lower, upper = np.empty((n, n_classes)), np.empty((n, n_classes))
    step = max(1, block_size // (m * m * d))
    for start in range(0, n, step):
        part = X[start : start + step]
        U = np.asarray(part.toarray() if sp.issparse(part) else part, np.float64)
        if fit_intercept:
            U = np.hstack([U, np.ones((U.shape[0], 1))])
        S = np.einsum("iklf,if->ikl", (U @ pairs).reshape(-1, m, m, d), U)
        Z = U @ rows.T
        if offset is not None:
            Z += offset[start : start + step].reshape(len(Z), -1)
        if n_classes == 2:
            half = quantile * np.sqrt(np.maximum(S[:, 0, 0], 0.0))
            z = Z[:, 0]
            low, high = np.empty((len(z), 2)), np.empty((len(z), 2))
            low[:, 1], high[:, 1] = expit(z - half), expit(z + half)
            low[:, 0], high[:, 0] = expit(-z - half), expit(half - z)
        else:
            P = softmax(Z)
            # dp_ij / dz_ik for the classes k >= 1: p_ij (delta_jk - p_ik).
            A = P[:, :, None] * (np.eye(n_classes)[None, :, 1:] - P[:, None, 1:])
            variance = np.einsum("ijk,ikl,ijl->ij", A, S, A)
            half = quantile * np.sqrt(np.maximum(variance, 0.0))
            low, high = np.clip(P - half, 0, 1), np.clip(P + half, 0, 1)
        affected = (U[:, unknown] != 0).any(axis=1)
        low[affected] = high[affected] = np.nan
        lower[start : start + step], upper[start : start + step] = low, high
    return lower, upper
