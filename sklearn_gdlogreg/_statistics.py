"""The estimators' statistical inference, as methods (``InferenceMixin``):
the covariance of the fitted coefficients, their table, and confidence
intervals of the predicted probabilities; the formulas and their rules are
``_inference``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.utils.validation import check_is_fitted

from . import _inference

if TYPE_CHECKING:  # annotations only: no import of pandas at run time
    import pandas as pd

# X, y and sample_weight: numpy-like, scipy.sparse, pandas, dask or
# array-API arrays.
ArrayInput = Any


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
        return _inference.proba_interval(self._snapshot(), X, cov, alpha, offset)
