"""The estimators' predictions, as methods (``PredictMixin``): the scores of
X through the adapter of its kind of input (``_inputs``), with the samples'
offsets, and the methods built on them: ``decision_function``, ``predict``,
``predict_proba``, ``predict_log_proba`` and ``score``."""

from __future__ import annotations

import warnings
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import check_is_fitted

from ._array_api import astype, check_same_namespace, namespace, to_numpy
from ._inputs import ArrayInput, input_adapter
from ._loss import log_proba_of_scores, proba_of_scores
from ._report import caller_stacklevel


class PredictMixin:
    """The predict methods of a fitted logistic regression. The estimator
    provides ``_snapshot`` and the fitted attributes."""

    if TYPE_CHECKING:  # the estimator's: a consistent view of its attributes

        def _snapshot(self) -> Any: ...

    def decision_function(self, X: ArrayInput, offset: ArrayInput = None) -> Any:
        """Linear scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, added to their scores as in ``fit``.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For a binary problem, positive scores mean ``classes_[1]``.
        """
        return self._scores(X, "decision_function", offset)[0]

    def _scores(self, X, method: str, offset=None):
        """``decision_function``, for ``method`` (named in errors), with the
        adapter of X's kind and the snapshot of the model that made them."""
        check_is_fitted(self)
        model = self._snapshot()  # consistent even while another thread refits
        check_same_namespace(X, model.coef_, f"{type(self).__name__}.{method}")
        adapter = input_adapter(X)
        X = adapter.predict_X(model, X)
        scores = adapter.scores(X, model.coef_, model.intercept_)
        if offset is None and getattr(model, "_fitted_with_offset", False):
            warnings.warn(
                f"This model was fitted with offsets, and {method} is given "
                "none: its scores are those of an offset of zero. Pass "
                "offset= (in cross_val_score or GridSearchCV, through "
                "metadata routing: set_score_request(offset=True)), or zeros "
                "where that is meant.",
                UserWarning,
                stacklevel=caller_stacklevel(),
            )
        n_classes = model.classes_.shape[0]
        return adapter.shifted(scores, offset, n_classes), adapter, model

    def predict(self, X: ArrayInput, offset: ArrayInput = None) -> Any:
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, added to their scores as in ``fit``.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self._from_scores(X, None, "predict", offset)

    def predict_proba(self, X: ArrayInput, offset: ArrayInput = None) -> Any:
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, added to their scores as in ``fit``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        return self._from_scores(X, proba_of_scores, "predict_proba", offset)

    def predict_log_proba(self, X: ArrayInput, offset: ArrayInput = None) -> Any:
        """Logarithm of the probability of each class, computed stably.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, added to their scores as in ``fit``.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, in the order of ``classes_``.
        """
        return self._from_scores(X, log_proba_of_scores, "predict_log_proba", offset)

    def score(
        self,
        X: ArrayInput,
        y: ArrayInput,
        sample_weight: ArrayInput = None,
        offset: ArrayInput = None,
    ) -> float:
        """Mean accuracy on ``(X, y)``, as ``ClassifierMixin.score``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            The samples' offsets, as in ``fit``: the score of a model fitted
            with offsets, in ``cross_val_score`` or ``GridSearchCV``, with
            ``set_score_request(offset=True)``.

        Returns
        -------
        score : float
            The accuracy of ``predict(X, offset=offset)``.
        """
        labels = self.predict(X, offset=offset)
        return float(accuracy_score(y, labels, sample_weight=sample_weight))

    def _from_scores(self, X, function, method: str, offset=None):
        """``function`` of the scores (None: the labels), for ``method``
        (named in errors); by chunks, lazily, for dask input."""
        scores, adapter, model = self._scores(X, method, offset)
        if function is None:
            function = partial(_labels, model.classes_)
        n_columns = None if method == "predict" else model.classes_.shape[0]
        return adapter.apply(scores, function, n_columns)


def _labels(classes, scores):
    """The labels of the highest scores."""
    xp = namespace(scores)
    if scores.ndim == 1:
        indices = astype(scores > 0, np.int64)
    else:
        indices = xp.argmax(scores, axis=1)
    if namespace(classes) is xp:
        return xp.take(classes, indices, axis=0)
    # Classes that X's namespace cannot hold (strings), or scores made
    # in numpy from a model fitted on a device: numpy labels.
    return to_numpy(classes)[to_numpy(indices)]
