"""The scikit-learn estimator: parameters, validation, wiring, fitted attributes."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.callback import CallbackSupportMixin, with_callbacks
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from . import _inference, _layout, _penalty
from ._array_api import (
    from_host_state,
    host_state,
    like,
    to_numpy,
)
from ._inputs import ArrayInput, FitData, input_adapter
from ._objective import LogisticObjective
from ._plan import FitPlan, make_plan, solve
from ._predict import PredictMixin
from ._report import IterationReporter, caller_stacklevel
from ._solver import SolverResult
from ._statistics import InferenceMixin


# PredictMixin before ClassifierMixin: its score takes offsets; every mixin
# left of BaseEstimator, as scikit-learn needs.
class GradientDescentLogisticRegression(
    CallbackSupportMixin, PredictMixin, ClassifierMixin, InferenceMixin, BaseEstimator
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
        The step size. A float is a constant step,
        ``w -= learning_rate * grad``, taken on the centred and standardised
        problem (on data with zero mean and unit variance and ``C=np.inf`` it
        is exactly that update with the gradient of the mean loss).
        A step too large for the curvature of the loss makes the objective
        oscillate or grow: on uncorrelated standardised features the
        curvature bound allows steps up to 4 (binary) or 2 (multinomial),
        less with correlated features. A step so large that the objective
        overflows stops the fit with a ``ConvergenceWarning`` and the last
        finite coefficients. ``"auto"`` starts from the step that the
        curvature where the fit starts allows (4 binary; ``K`` with ``K``
        classes, whose softmax curves ``K / 2`` times less there than the
        bound says) and adapts it by backtracking: it halves the step until the
        objective decreases enough and lets it grow again after each
        accepted step (by 1.25 at most, and not past the curvature it has
        just measured; on wide dense data without an L1 term, where a step
        tried costs no read of ``X``, up to that curvature's limit), so it
        never needs tuning. With ``"auto"``, dense
        ``X`` of at most 256 features and no L1 term, the steps are also
        taken in the metric of the whole Hessian bound (the covariance of
        the features), which removes the effect of correlated features;
        each time the gradient has shrunk 100-fold, that metric is measured
        again at the current coefficients (the covariance weighted by each
        sample's curvature ``p (1 - p)``: the Hessian there), so that the
        last iterations are not slowed where predictions are confident.
    solver : {"nesterov", "gd"}, default="nesterov"
        ``"gd"`` is plain gradient descent.
        ``"nesterov"`` adds Nesterov momentum with adaptive restart (FISTA
        when ``l1_ratio > 0``). It is the default because it needs about the
        square root of the iterations of ``"gd"`` on ill-conditioned data
        (correlated features, weak penalty) and never many more elsewhere.
        With ``learning_rate="auto"``, no L1 term and no bounds, where the
        solver keeps each sample's scores (``X`` in memory or on a device,
        dense or sparse, whose scores are small next to it, or small), the
        momentum is that of conjugate gradients instead: the gradient in the
        metric plus a multiple of the last step, each step the exact
        minimum along its line (found from the kept scores, reading no data;
        on a wide dense ``X`` in memory, the minimum over the span of the
        last steps and gradients, in the variances' metric corrected along
        the few directions where the features' common factors make the
        Hessian bound curve far more than elsewhere, found by a sketch of a
        sample of the rows). Where such an ``X`` is dense but too
        narrow for its scores to be kept (at most 256 features; no
        offsets), the steps are taken in the metric measured again at the
        curvature (the Hessian, or its blocks class by class) and take no
        momentum: in a metric that close to the Hessian they need about as
        many iterations without it, each evaluating one point where momentum
        evaluates two.
        Dask chunks keep no scores, and keep the momentum.
    C : float, default=1.0
        Inverse of the regularisation strength, as in ``LogisticRegression``.
        ``np.inf`` means no penalty.
    l1_ratio : float, default=0.0
        Elastic-net mixing, as in ``LogisticRegression``: 0 is a pure L2
        penalty, 1 a pure L1 penalty (exact zeros, through proximal steps).
    penalty_factor : array-like of shape (n_features,), default=None
        A non-negative factor of each feature's penalty, both its L1 and its
        L2 part (glmnet's ``penalty.factor``): 0 leaves a feature
        unpenalised, 2 penalises it twice as much. None: 1 for every feature.
    lower_bounds, upper_bounds : float or array-like, default=None
        Bounds of the coefficients (not the intercepts): a number for all,
        an array of shape (n_features,), or with three or more classes of
        shape (n_classes, n_features). ``lower_bounds=0`` gives non-negative
        coefficients. Exact: the steps end with the proximal step of the
        penalty and the box together, and ``tol`` measures the
        proximal-gradient mapping, zero where the KKT conditions hold. None:
        no bound on that side. Bounds (like an L1 term) take the steps in a
        diagonal metric.
    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.
    max_iter : int, default=1000
        Maximum number of iterations.
    tol : float, default=1e-4
        Stop when the max-norm of the gradient (with an L1 term: of the
        proximal-gradient mapping) is at most ``tol``, measured with respect
        to the coefficients of the centred, standardised features and the
        intercept. On standardised data this is the rule of
        ``LogisticRegression``'s lbfgs solver, and the default is its
        default; on raw data it means the same whatever the units of the
        features. At the default these fits end within twice as far from
        the minimum (in objective) as ``LogisticRegression()``'s, mostly
        closer (``benchmarks/bench_matrix.py``).
    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplied into the sample weights. See
        ``sklearn.utils.class_weight.compute_class_weight``.
    warm_start : bool, default=False
        Start from the previous fit's coefficients when the classes and the
        number of features are unchanged.
    verbose : int, default=0
        Print the iteration and the objective every ``verbose`` iterations;
        0 prints nothing.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients; one row for a binary problem (for ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts (zeros when ``fit_intercept=False``). With three or more
        classes they sum to zero, as ``LogisticRegression``'s do (the
        softmax is the same for any common shift).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when ``X`` has string
        column names.
    n_iter_ : int
        Number of iterations run. An int, as in ``SGDClassifier`` and
        ``MLPClassifier`` (one solver run, one count); ``LogisticRegression``
        keeps an array of shape (1,). Code for both can read
        ``int(np.max(clf.n_iter_))``.
    loss_curve_ : ndarray of shape (`n_iter_` + 1,)
        The objective at the start (index 0) and after each iteration: at
        the iterate, or, where the solver keeps the scores and takes
        accelerated steps (an L1 term or bounds on wide dense or sparse
        data), computing the gradient at the momentum point only, at that
        point (where the fit's optimality is measured, and which it
        returns).

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
        "penalty_factor": ["array-like", None],
        "lower_bounds": [Real, "array-like", None],
        "upper_bounds": [Real, "array-like", None],
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
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
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
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
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

    def _penalty(self) -> tuple[float, float]:
        """``(C, l1_ratio)`` of the fitted model."""
        return self.C, self.l1_ratio

    def __getstate__(self):
        # Fitted arrays of another library (PyTorch, ...) are stored as numpy
        # arrays with their library and device (see _array_api.host_state),
        # so that skops, which knows numpy only, can save the model too.
        return host_state(super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(from_host_state(state))

    def fit(
        self,
        X: ArrayInput,
        y: ArrayInput,
        sample_weight: ArrayInput = None,
        offset: ArrayInput = None,
    ) -> GradientDescentLogisticRegression:
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
        offset : array-like of shape (n_samples,) or (n_samples, n_classes), \
                default=None
            A known term added to each sample's scores, ``X @ coef_.T +
            intercept_ + offset`` (for example the log of an exposure): one
            value per sample for two classes, one per sample and class for
            more. Its coefficient is fixed to 1. Pass it to the predict
            methods too. Requested through metadata routing with
            ``set_fit_request(offset=True)``.

        Returns
        -------
        self : GradientDescentLogisticRegression
            The fitted estimator.
        """
        self._validate_params()
        return self._solve(self._prepare(X, y, sample_weight, offset=offset))

    def _prepare(
        self, X, y, sample_weight, path: bool = False, offset=None
    ) -> _Prepared:
        """The validated data of a fit (for the CV estimator, once per fold:
        with ``path``, its fits along the Cs share the columns' moments)."""
        # Validation records n_features_in_ and feature_names_in_ on a copy:
        # this estimator changes only at the end, all at once (_commit).
        checker = self._snapshot()
        adapter = input_adapter(X)
        data = adapter.fit_data(checker, X, y, sample_weight, self.class_weight, offset)
        return _Prepared(X, y, sample_weight, adapter, data, {} if path else None)

    def _solve(self, prepared: _Prepared) -> GradientDescentLogisticRegression:
        """Fit on validated data at this estimator's C and l1_ratio, from
        zero or (``warm_start``) from the last fit's coefficients."""
        data = prepared.data
        n_classes = data.classes.shape[0]
        n_outputs = 1 if n_classes == 2 else n_classes
        penalty = data.inverse_total(self.C)  # 0 for C=np.inf
        dtype = data.backend.dtype  # the solver's coefficients: numpy, on the host
        bounds = _penalty.coefficient_bounds(
            self.lower_bounds, self.upper_bounds, data.n_features, n_outputs, dtype
        )
        objective = LogisticObjective(
            backend=data.backend,
            y=data.y,
            weights=data.weights,
            n_outputs=n_outputs,
            fit_intercept=self.fit_intercept,
            l2=(1 - self.l1_ratio) * penalty,
            l1=self.l1_ratio * penalty,
            penalty_factor=_penalty.penalty_factors(
                self.penalty_factor, data.n_features
            ),
            bounds=bounds,
            shifted=data.shifted,
        )
        names: dict[str, Any] = {"n_features_in_": data.n_features}
        if data.feature_names is not None:
            names["feature_names_in_"] = data.feature_names
        X, y, sample_weight = prepared.X, prepared.y, prepared.sample_weight
        reporter = IterationReporter(
            self, X, y, sample_weight, objective, data.classes, names
        )
        start = self._initial_coef(
            data.classes, data.n_features, objective.n_outputs, dtype, bounds
        )
        plan = self._plan(objective, start)
        if self.verbose:
            print(plan.describe())
        result = solve(
            objective,
            plan,
            start,
            max_iter=self.max_iter,
            tol=self.tol,
            callback=reporter,
            moments=prepared.moments,
        )
        self._warn_unless_converged(result)
        fitted = _layout.fitted_attributes(
            result.coef, data.n_features, self.fit_intercept, data.classes, data.X
        )
        free = _inference.free_columns(objective.unpenalised(), bounds)
        if free is not None and _inference.separated_fit(
            prepared.adapter, data, fitted, free, self.fit_intercept
        ):
            warnings.warn(
                _inference.SEPARATED, ConvergenceWarning, stacklevel=caller_stacklevel()
            )
        self._commit(
            **names,
            **fitted,
            n_iter_=result.n_iter,
            loss_curve_=like(result.objective_history, data.X),
            # The predict methods warn when such a model is given no offset.
            _fitted_with_offset=data.shifted,
        )
        reporter.close()
        return self

    if not TYPE_CHECKING:  # scikit-learn's decorator is untyped: keep fit's type
        fit = with_callbacks(fit)

    def _snapshot(self):
        """A shallow copy of this estimator: its attributes as they are now.

        ``fit`` validates on one, so that this estimator changes only when
        ``fit`` commits; the predict methods read one, so that a refit in
        another thread cannot hand them the coefficients of one fit and the
        classes of another.
        """
        snapshot = object.__new__(type(self))
        snapshot.__dict__.update(self.__dict__)  # one step: a consistent view
        return snapshot

    def _commit(self, **fitted) -> None:
        """Set the fitted attributes all at once (one assignment of the
        attributes' dict), dropping those of an earlier fit that this one
        does not set (``feature_names_in_``; ``loss_curve_`` in the CV
        variant without refit)."""
        state = {
            name: value
            for name, value in self.__dict__.items()
            if name not in ("feature_names_in_", "loss_curve_")
        }
        state.update(fitted)
        self.__dict__ = state

    def _initial_coef(
        self, classes, n_features, n_outputs, dtype, bounds=None
    ) -> np.ndarray:
        """Zeros, or the previous fit's coefficients with ``warm_start``;
        in the box of ``bounds``."""
        if (
            self.warm_start
            and hasattr(self, "coef_")
            and self.coef_.shape == (n_outputs, n_features)
            and np.array_equal(to_numpy(self.classes_), classes)
        ):
            # With an L1 term or a box the classes may share a part;
            # without, the steps keep none (see Geometry.direction).
            start = _layout.from_fitted(
                to_numpy(self.coef_),
                to_numpy(self.intercept_),
                self.fit_intercept,
                dtype,
                common_part=self.l1_ratio != 0 or bounds is not None,
            )
            return _penalty.start_in_box(start, bounds, n_features, warm=True)
        start = _layout.zeros(n_features, n_outputs, self.fit_intercept, dtype)
        return _penalty.start_in_box(start, bounds, n_features, warm=False)

    def _plan(self, objective: LogisticObjective, start: np.ndarray) -> FitPlan:
        """How the fit of ``objective`` from ``start`` runs (see
        ``_plan.make_plan``)."""
        return make_plan(objective, self.learning_rate, self.solver, start)

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
        constant = not isinstance(self.learning_rate, str)
        if result.status == "max_iter" and constant and history[-1] > history[0]:
            reason += (
                f"; the objective increased, so learning_rate={self.learning_rate} "
                "is probably too large: use a smaller one or 'auto'"
            )
        warnings.warn(
            f"{type(self).__name__} {reason}. The gradient max-norm is "
            f"{result.optimality:.3g} > tol={self.tol} after {result.n_iter} "
            "iterations; increase max_iter, raise tol, or scale the data.",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )


@dataclass(frozen=True)
class _Prepared:
    """The input of a fit as given (for the callbacks' reports) and as
    validated (``FitData``, through its input kind's adapter), and what the
    fits on it keep."""

    X: Any
    y: Any
    sample_weight: Any
    adapter: Any
    data: FitData
    # The columns' moments, kept for the next fit on these data where there
    # is one (a path of Cs reads X for them once; see
    # Geometry.for_objective); None: not kept, as one fit needs them once.
    moments: dict | None = None
