"""The scikit-learn estimator: parameters, validation, wiring, fitted attributes."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from . import _dask
from ._array_api import (
    astype,
    check_same_namespace,
    dispatched,
    host_dtype,
    like,
    namespace,
    on_host,
    to_numpy,
)
from ._dask import is_dask_collection
from ._objective import (
    Geometry,
    LogisticObjective,
    expit,
    log_expit,
    log_softmax,
    softmax,
)
from ._solver import SolverResult, gradient_descent


class GradientDescentLogisticRegression(
    CallbackSupportMixin, ClassifierMixin, BaseEstimator
):
    """Logistic regression trained by (accelerated) gradient descent.

    Minimises exactly the objective of scikit-learn's ``LogisticRegression``
    (binary: sigmoid; three or more classes: multinomial softmax)::

        1/S sum_i s_i loss_i + (1 - l1_ratio) / (2 C S) ||W||^2
                             + l1_ratio / (C S) ||W||_1

    where ``s_i`` are the sample weights times the class weights and ``S``
    their sum. At convergence it gives the same model as ``LogisticRegression``
    with the same ``C`` and ``l1_ratio``; with ``C=np.inf`` it gives the
    maximum-likelihood estimate. The loop is a teaching notebook's (forward
    pass, loss, gradient, update, report), made exact, robust and fast: the
    gradient is the true one, steps are taken on an implicitly centred,
    standardised and (with ``learning_rate="auto"``) decorrelated problem (an
    exact change of variables that never copies ``X``), each iteration reads
    ``X`` once, and the L1 part is handled by proximal steps.

    Each iteration is reported to scikit-learn's callbacks
    (``set_callbacks``, ``sklearn.callback``), and ``LossCurveDisplay``
    draws ``loss_curve_``.

    Dask arrays are fitted where their chunks live (a distributed cluster).
    Arrays of PyTorch, CuPy and other array-API libraries are fitted and
    predicted on their own device under
    ``sklearn.config_context(array_api_dispatch=True)`` (which needs
    ``array-api-compat``); the fitted arrays then live there too.

    Parameters
    ----------
    learning_rate : float or "auto", default="auto"
        The step size. A float is a constant step, the notebook's
        ``w -= learning_rate * grad``, taken on the centred and standardised
        problem (on data with zero mean and unit variance and ``C=np.inf`` it
        is exactly the notebook's update of the gradient of the mean loss).
        A step too large for the curvature of the loss makes the objective
        oscillate or grow: on uncorrelated standardised features the
        curvature bound allows steps up to 4 (binary) or 2 (multinomial),
        less with correlated features. A step so large that the objective
        overflows stops the fit with a ``ConvergenceWarning`` and the last
        finite coefficients. ``"auto"`` starts from that largest step (4 or
        2) and adapts it by backtracking: it halves the step until the
        objective decreases enough and lets it grow again after each
        accepted step (by 1.25 at most, and not past the curvature it has
        just measured), so it never needs tuning. With ``"auto"``, dense
        ``X`` of at most 256 features and no L1 term, the steps are also
        taken in the metric of the whole Hessian bound (the covariance of
        the features), which removes the effect of correlated features.
    solver : {"nesterov", "gd"}, default="nesterov"
        ``"gd"`` is plain gradient descent, the notebook's update.
        ``"nesterov"`` adds Nesterov momentum with adaptive restart (FISTA
        when ``l1_ratio > 0``). It is the default because it needs about the
        square root of the iterations of ``"gd"`` on ill-conditioned data
        (correlated features, weak penalty) and never many more elsewhere.
    C : float, default=1.0
        Inverse of the regularisation strength, as in ``LogisticRegression``.
        ``np.inf`` means no penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing, as in ``LogisticRegression``: 0 is a pure L2
        penalty, 1 a pure L1 penalty (exact zeros, through proximal steps).
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int, default=1000
        Maximum number of iterations.
    tol : float, default=1e-4
        Stop when the max-norm of the gradient (with an L1 term: of the
        proximal-gradient mapping) is at most ``tol``, measured with respect
        to the coefficients of the centred, standardised features and the
        intercept. On standardised data this is the rule of
        ``LogisticRegression``'s lbfgs solver; on raw data it means the same
        whatever the units of the features.
    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplied into the sample weights. See
        ``sklearn.utils.class_weight.compute_class_weight``.
    warm_start : bool, default=False
        Start from the previous fit's coefficients when the classes and the
        number of features are unchanged.
    verbose : int, default=0
        Print the iteration and the objective every ``verbose`` iterations
        (the notebook printed every 100). 0 prints nothing.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for a binary problem (for ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, when ``X`` has string
        column names.
    n_iter_ : int
        Number of iterations run.
    loss_curve_ : ndarray of shape (n_iter_ + 1,)
        The objective at the start (index 0) and after each iteration.

    See Also
    --------
    LossCurveDisplay : Plot ``loss_curve_`` of one or several fits.
    sklearn.linear_model.LogisticRegression : The same model, fitted by
        quasi-Newton, Newton or coordinate-descent solvers.
    sklearn.linear_model.SGDClassifier : Stochastic gradient descent,
        with ``loss="log_loss"`` a logistic model fitted one sample at a time.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn_gdlogreg import GradientDescentLogisticRegression
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = GradientDescentLogisticRegression(C=np.inf).fit(X, y)
    >>> clf.coef_.shape, clf.classes_
    ((1, 30), array([0, 1]))
    >>> bool(clf.score(X, y) > 0.95)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "solver": [StrOptions({"gd", "nesterov"})],
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        learning_rate="auto",
        solver="nesterov",
        C=1.0,
        l1_ratio=0.0,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        class_weight=None,
        warm_start=False,
        verbose=0,
    ):
        self.learning_rate = learning_rate
        self.solver = solver
        self.C = C
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Arrays of PyTorch, CuPy, ... under array_api_dispatch (_array_api).
        tags.array_api_support = True
        return tags

    @with_callbacks
    def fit(self, X, y, sample_weight=None):
        """Fit the model by gradient descent.

        Each iteration is reported to the callbacks set with
        ``set_callbacks`` (``sklearn.callback``) as a subtask ``"gd-iter"``
        of the fit, as ``LogisticRegression``'s lbfgs iterations are; a
        callback can stop the fit after any iteration.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 data is kept in float32; C- or F-ordered
            arrays and CSR/CSC matrices are used without a copy. Also dask
            arrays, and arrays of other array-API libraries (PyTorch, CuPy)
            under array-API dispatch.
        y : array-like of shape (n_samples,)
            Class labels (any type: ints, strings, ...).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a sample twice.

        Returns
        -------
        self : GradientDescentLogisticRegression
            The fitted estimator.
        """
        self._validate_params()
        if is_dask_collection(X):
            X, y_codes, weights, classes, class_totals = _dask.validated_fit_data(
                X, y, sample_weight, self.class_weight
            )
            self.n_features_in_ = X.shape[1]
            self.__dict__.pop("feature_names_in_", None)  # from an earlier fit
        elif dispatched(X):
            X, y_codes, weights, classes, class_totals = self._validated_device_data(
                X, y, sample_weight
            )
        else:
            X, y_codes, weights, classes, class_totals = self._validated_fit_data(
                X, y, sample_weight
            )
        _check_classes(classes, class_totals)
        total = float(class_totals.sum())
        weights /= total  # in place; dask: a new lazy array
        n_classes = classes.shape[0]
        penalty = 0.0 if np.isinf(self.C) else 1.0 / (self.C * total)
        objective = LogisticObjective(
            X=X,
            y=y_codes,
            weights=weights,
            n_outputs=1 if n_classes == 2 else n_classes,
            fit_intercept=self.fit_intercept,
            l2=(1 - self.l1_ratio) * penalty,
            l1=self.l1_ratio * penalty,
        )
        adaptive = isinstance(self.learning_rate, str)  # "auto"
        dtype = host_dtype(X)  # the solver's coefficients are numpy, on the host
        reporter = _IterationReporter(self, X, y, sample_weight, objective, classes)
        result = gradient_descent(
            objective,
            # "auto" steps in the full metric; constant steps stay plain
            # gradient descent on the standardised problem (the notebook's).
            Geometry.for_objective(objective, dtype, decorrelate=adaptive),
            self._initial_coef(classes, X.shape[1], objective.n_outputs, dtype),
            learning_rate=1 / objective.curvature if adaptive else self.learning_rate,
            adaptive=adaptive,
            accelerated=self.solver == "nesterov",
            max_iter=self.max_iter,
            tol=self.tol,
            callback=reporter,
        )
        self._warn_unless_converged(result)

        for name, value in _fitted_attributes(objective, result.coef, classes).items():
            setattr(self, name, value)
        self.n_iter_ = result.n_iter
        self.loss_curve_ = like(result.objective_history, X)
        reporter.close()
        return self

    def _validated_fit_data(self, X, y, sample_weight):
        """In-memory input for ``fit``: validated X, class codes, sample
        weights (class weights folded in, a new array), classes and each
        class's total weight."""
        X, y = validate_data(
            self,
            X,
            on_host(y),
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        return X, *self._encoded_targets(y, on_host(sample_weight), X.dtype)

    def _validated_device_data(self, X, y, sample_weight):
        """Input for ``fit`` from another array-API library (PyTorch, CuPy):
        X validated in its own namespace; the labels encoded on the host (as
        ``classes_`` of strings must be), their codes and the weights then
        moved to X's device."""
        xp = namespace(X)
        X = validate_data(self, X, dtype=[xp.float64, xp.float32])
        y = column_or_1d(to_numpy(y), warn=True)
        check_consistent_length(X, y)
        y_codes, weights, classes, class_totals = self._encoded_targets(
            y, on_host(sample_weight), host_dtype(X)
        )
        # int64 codes: PyTorch indexes with nothing else.
        return X, like(y_codes, X, np.int64), like(weights, X), classes, class_totals

    def _encoded_targets(self, y, sample_weight, dtype):
        """Class codes, sample weights (class weights folded in, a new array
        of ``dtype``), classes and each class's total weight, for numpy ``y``."""
        check_classification_targets(y)
        # Not np.unique(y, return_inverse=True): it holds five arrays of
        # len(y) at once, and memory during fit is meant to stay small.
        classes = np.unique(y)
        # Codes in the smallest integer type: one byte a sample below 256 classes.
        y_codes = np.searchsorted(classes, y).astype(
            np.min_scalar_type(classes.shape[0] - 1)
        )
        weights = _validated_sample_weight(sample_weight, y.shape[0], dtype)
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=classes, y=y, sample_weight=weights
            )
            weights *= per_class.astype(dtype)[y_codes]
        class_totals = np.zeros(classes.shape[0])
        np.add.at(class_totals, y_codes, weights)  # bincount would copy y_codes
        return y_codes, weights, classes, class_totals

    def _initial_coef(self, classes, n_features, n_outputs, dtype) -> np.ndarray:
        """Zeros, or the previous fit's coefficients with ``warm_start``."""
        coef = np.zeros((n_features + self.fit_intercept, n_outputs), dtype=dtype)
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and self.coef_.shape == (n_outputs, n_features)
            and np.array_equal(to_numpy(self.classes_), classes)
        ):
            coef[:n_features] = to_numpy(self.coef_).T
            if self.fit_intercept:
                coef[n_features] = to_numpy(self.intercept_)
        return coef

    def _warn_unless_converged(self, result: SolverResult) -> None:
        if result.converged or result.status == "stopped":  # stopped: as asked
            return
        reason = {
            "max_iter": f"did not converge in max_iter={self.max_iter} iterations",
            "stalled": (
                "stopped: no step could decrease the objective any further "
                "(floating-point precision is reached)"
            ),
            "diverged": (
                f"diverged: learning_rate={self.learning_rate} is too large and "
                "made the objective non-finite, so the last finite coefficients "
                "are kept; use a smaller learning_rate or 'auto'"
            ),
        }[result.status]
        history = result.objective_history
        if result.status == "max_iter" and history[-1] > history[0]:
            reason += (
                f"; the objective increased, so learning_rate={self.learning_rate} "
                "is probably too large: use a smaller one or 'auto'"
            )
        warnings.warn(
            f"{type(self).__name__} {reason}. The gradient max-norm is "
            f"{result.optimality:.3g} > tol={self.tol} after {result.n_iter} "
            "iterations; increase max_iter, raise tol, or scale the data.",
            ConvergenceWarning,
            stacklevel=3,
        )

    def decision_function(self, X):
        """Linear scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For a binary problem, positive scores mean ``classes_[1]``.
        """
        return self._scores(X, "decision_function")

    def _scores(self, X, method: str):
        """``decision_function``, for ``method`` (named in errors)."""
        check_is_fitted(self)
        check_same_namespace(X, self.coef_, f"{type(self).__name__}.{method}")
        if is_dask_collection(X):  # lazy: a dask array of scores
            X = _dask.validated_X(X, self.n_features_in_)
            scores = X @ to_numpy(self.coef_).T.astype(X.dtype) + to_numpy(
                self.intercept_
            )
        elif dispatched(X):  # in X's namespace, on its device
            xp = namespace(X)
            X = validate_data(self, X, dtype=[xp.float64, xp.float32], reset=False)
            coef = xp.astype(self.coef_, X.dtype)
            scores = X @ coef.T + xp.astype(self.intercept_, X.dtype)
        else:
            X = validate_data(
                self,
                X,
                accept_sparse=["csr", "csc"],
                dtype=[np.float64, np.float32],
                reset=False,
            )
            scores = X @ to_numpy(self.coef_).T + to_numpy(self.intercept_)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Most probable class of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        return self._from_scores(X, self._labels, "predict")

    def predict_proba(self, X):
        """Probability of each class.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, in the order of ``classes_``.
        """
        return self._from_scores(X, _probabilities, "predict_proba")

    def predict_log_proba(self, X):
        """Logarithm of the probability of each class, computed stably.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, in the order of ``classes_``.
        """
        return self._from_scores(X, _log_probabilities, "predict_log_proba")

    def _labels(self, scores):
        xp = namespace(scores)
        if scores.ndim == 1:
            indices = astype(scores > 0, np.int64)
        else:
            indices = xp.argmax(scores, axis=1)
        if namespace(self.classes_) is xp:
            return xp.take(self.classes_, indices, axis=0)
        # Classes that X's namespace cannot hold (strings), or scores made
        # in numpy from a model fitted on a device: numpy labels.
        return to_numpy(self.classes_)[to_numpy(indices)]

    def _from_scores(self, X, function, method: str):
        """``function`` of the scores, for ``method`` (named in errors); by
        chunks, lazily, for dask input."""
        scores = self._scores(X, method)
        if is_dask_collection(scores):
            n_columns = None if method == "predict" else len(self.classes_)
            return _dask.map_rows(scores, function, n_columns)
        return function(scores)


def _validated_sample_weight(sample_weight, n_samples: int, dtype) -> np.ndarray:
    """Sample weights as a new float array; a clear error for anything invalid."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight)
    weights = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=dtype,
        copy=True,  # the caller scales it in place
        input_name="sample_weight",
    )
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weights.shape}; expected ({n_samples},), "
            "one weight per sample."
        )
    if (weights < 0).any():
        raise ValueError("sample_weight has negative values; weights must be >= 0.")
    if not weights.any():
        raise ValueError(
            "sample_weight is all zero; at least one sample needs a positive weight."
        )
    return weights


def _check_classes(classes: np.ndarray, class_totals: np.ndarray) -> None:
    """At least two classes, and two with a positive total weight."""
    if classes.shape[0] < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, "
            f"but the data contains only one class: {classes[0]!r}."
        )
    if np.count_nonzero(class_totals) < 2:
        raise ValueError(
            "Only one class has a non-zero total weight after sample_weight "
            "and class_weight are applied; at least 2 classes are needed."
        )


def _probabilities(scores):
    if scores.ndim == 1:
        # expit(-z) rather than 1 - expit(z): exact for tiny probabilities.
        return namespace(scores).stack([expit(-scores), expit(scores)], axis=1)
    return softmax(scores)


def _log_probabilities(scores):
    if scores.ndim == 1:
        return namespace(scores).stack([log_expit(-scores), log_expit(scores)], axis=1)
    return log_softmax(scores)


def _fitted_attributes(objective: LogisticObjective, coef, classes) -> dict:
    """``classes_``, ``coef_`` and ``intercept_`` for the solver's ``coef``,
    in the namespace and on the device of the objective's X (``classes_``
    only if that namespace can hold them: numbers, not strings)."""
    W, b = objective.split(coef)
    X = objective.X
    return {
        "classes_": like(classes, X) if classes.dtype.kind in "biuf" else classes,
        "coef_": like(np.ascontiguousarray(W.T), X),
        "intercept_": like(np.array(b, dtype=coef.dtype), X),
    }


class _IterationReporter:
    """What the estimator does with each iteration of the solver.

    Prints the notebook's report every ``verbose`` iterations, and reports
    the fit and its iterations to scikit-learn's callbacks (``set_callbacks``)
    as ``LogisticRegression``'s lbfgs path does: the fit is a task, each
    iteration a subtask ``"gd-iter"`` that begins at the iteration's starting
    point and ends at its result. Like lbfgs's, the last subtask is begun
    but never run; ``close`` ends it empty.
    """

    def __init__(self, estimator, X, y, sample_weight, objective, classes):
        self.estimator, self.X, self.y = estimator, X, y
        self.objective, self.classes = objective, classes
        self.verbose = int(estimator.verbose)
        self.metadata = (
            None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.context = self.task = None
        if hasattr(estimator, "_skl_callbacks"):
            self.context = estimator._init_callback_context(
                max_subtasks=estimator.max_iter + 1
            )
            self.context.call_on_fit_task_begin(
                estimator=estimator, X=X, y=y, metadata=self.metadata
            )

    def __call__(self, iteration, coef, objective, optimality, step) -> bool:
        if self.verbose and iteration % self.verbose == 0:
            print(
                f"iteration {iteration:>6}   objective {objective:.10g}   "
                f"gradient max-norm {optimality:.3g}   step {step:.3g}"
            )
        if self.context is None:
            return False
        stop = False
        hooks = {
            "estimator": self.estimator,
            "X": self.X,
            "y": self.y,
            "metadata": self.metadata,
        }
        # Evaluated only if a callback asks for a fitted estimator.
        attributes = lambda: _fitted_attributes(self.objective, coef, self.classes)  # noqa: E731
        if self.task is not None:
            stop = self.task.call_on_fit_task_end(
                **hooks, reconstruction_attributes=attributes
            )
        self.task = self.context.subcontext(task_name="gd-iter")
        self.task.call_on_fit_task_begin(**hooks, reconstruction_attributes=attributes)
        return stop

    def close(self) -> None:
        if self.context is None:
            return
        self.task.call_on_fit_task_end(estimator=self.estimator)
        self.context.call_on_fit_task_end(
            estimator=self.estimator,
            X=self.X,
            y=self.y,
            metadata=self.metadata,
            reconstruction_attributes={},
        )
