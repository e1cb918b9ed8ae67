"""Cross-validation over C (and l1_ratio) along warm-started paths."""

from __future__ import annotations

import inspect
import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, get_scorer_names, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, validate_data

from . import _layout
from ._array_api import dispatched
from ._dask import is_dask_collection
from ._estimator import GradientDescentLogisticRegression
from ._grid import (
    chosen_grid_point,
    grid_of_Cs,
    grid_of_l1_ratios,
    mean_and_standard_error,
)
from ._inputs import _sample_weights

# The parameters of one fit that the CV estimator passes on as they are.
_FIT_PARAMETERS = (
    "penalty_factor",
    "lower_bounds",
    "upper_bounds",
    "learning_rate",
    "solver",
    "fit_intercept",
    "max_iter",
    "tol",
    "class_weight",
    "verbose",
)


class GradientDescentLogisticRegressionCV(GradientDescentLogisticRegression):
    """Gradient-descent logistic regression with C chosen by cross-validation.

    For each fold (and each ``l1_ratio``) the model is fitted along the grid
    of ``Cs``, from the strongest penalty (smallest C) to the weakest, each
    fit warm-started from the previous one, and scored on the fold's test
    part. The C (and ``l1_ratio``) with the best mean score, or with
    ``selection="1se"`` the strongest penalty within one standard error of
    it, is then refitted on all the data: the refit is
    ``GradientDescentLogisticRegression``'s fit at that C, from zeros. This
    is ``LogisticRegressionCV`` with scikit-learn's coming defaults: the
    score is the log-loss (``scoring="neg_log_loss"``), and the attributes
    take its ``use_legacy_attributes=False`` layout (``C_`` and
    ``l1_ratio_`` are floats, ``scores_`` and ``coefs_paths_`` arrays).

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The values of C; an int gives that many on a log scale from 1e-4 to
        1e4, as ``LogisticRegressionCV`` does.
    l1_ratios : array-like of float, default=(0.0,)
        The elastic-net mixings to try (0: L2, 1: L1).
    cv : int, cross-validation generator or iterable, default=None
        As in ``LogisticRegressionCV``: None is 5-fold stratified. A
        splitter that needs ``groups`` (``GroupKFold``) gets them from
        ``fit(X, y, groups=groups)`` with metadata routing enabled
        (``sklearn.set_config(enable_metadata_routing=True)``). As in
        ``LogisticRegressionCV``, each fold's model is fitted on all the
        classes, also where its training part lacks one (a class with no
        weight, whose probability ends near ``tol``); a training part of a
        single class is an error.
    scoring : str or callable, default="neg_log_loss"
        A scikit-learn scorer; higher is better. A metric that takes
        ``labels`` (the log-loss, the Brier score, ...) is given all the
        classes, since a fold's test part may lack one.
    refit : bool, default=True
        Refit the chosen C on all the data. If False, the coefficients are
        the mean of the folds' at each fold's best C, and ``C_`` the mean of
        those Cs (as in ``LogisticRegressionCV``); with ``selection="1se"``,
        the mean of the folds' at the chosen C, which is ``C_``.
    selection : {"best", "1se"}, default="best"
        How the grid point is chosen from the folds' mean scores
        (``cv_mean_scores_``). ``"best"``: the highest mean score. ``"1se"``:
        the one-standard-error rule (glmnet's ``lambda.1se``; Hastie,
        Tibshirani & Friedman, *The Elements of Statistical Learning*,
        7.10): the ``l1_ratio`` of the best mean score, and along its path
        the smallest C (the strongest penalty) whose mean score is at least
        the best mean score minus the best point's standard error
        (``cv_standard_errors_``). That is a simpler model that the folds do
        not tell apart from the best one. It needs two folds or more.
    n_jobs : int, default=None
        Folds (and l1_ratios) fitted in parallel (joblib).
    penalty_factor : array-like of shape (n_features,), default=None
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    lower_bounds, upper_bounds : float or array-like, default=None
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    learning_rate : float or "auto", default="auto"
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    solver : {"nesterov", "gd"}, default="nesterov"
        As in :class:`GradientDescentLogisticRegression`.
    fit_intercept : bool, default=True
        As in :class:`GradientDescentLogisticRegression`.
    max_iter : int, default=1000
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    tol : float, default=1e-4
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    class_weight : dict or "balanced", default=None
        As in :class:`GradientDescentLogisticRegression`.
    verbose : int, default=0
        As in :class:`GradientDescentLogisticRegression`, for every fit.

    Attributes
    ----------
    C_ : float
        The chosen C.
    l1_ratio_ : float
        The chosen l1_ratio.
    Cs_ : ndarray of shape (n_cs,)
        The grid of C.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The grid of l1_ratio.
    scores_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        The test score of each fold and grid point.
    cv_mean_scores_ : ndarray of shape (n_l1_ratios, n_cs)
        The mean over the folds of ``scores_`` (unweighted, as in
        ``LogisticRegressionCV``), from which the grid point is chosen.
    cv_standard_errors_ : ndarray of shape (n_l1_ratios, n_cs)
        The standard error of each mean score: the folds' standard deviation
        with ``ddof=1`` over the square root of the number of folds,
        ``scores_.std(axis=0, ddof=1) / sqrt(n_folds)`` (glmnet's ``cvsd``
        with folds of equal weight); NaN with a single fold.
    coefs_paths_ : ndarray of shape (n_folds, n_l1_ratios, n_cs, n_outputs, n_dof)
        The coefficients along each path; ``n_outputs`` is 1 for two classes,
        and the intercept is last (``n_dof = n_features + fit_intercept``).
    n_iter_ : ndarray of shape (n_folds, n_l1_ratios, n_cs)
        The iterations of each fit of the paths.
    classes_, coef_, intercept_, n_features_in_, feature_names_in_, loss_curve_
        As in :class:`GradientDescentLogisticRegression` (``loss_curve_``:
        of the refit, if any).

    See Also
    --------
    GradientDescentLogisticRegression : One fit, for a given C.
    sklearn.linear_model.LogisticRegressionCV : The same search with
        scikit-learn's solvers.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_gdlogreg import GradientDescentLogisticRegressionCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(), GradientDescentLogisticRegressionCV(Cs=5)
    ... ).fit(X, y)
    >>> float(model[-1].C_)
    1.0
    """

    _parameter_constraints: ClassVar[dict] = {
        **{
            name: GradientDescentLogisticRegression._parameter_constraints[name]
            for name in _FIT_PARAMETERS
        },
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "refit": ["boolean"],
        "selection": [StrOptions({"best", "1se"})],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        *,
        Cs=10,
        l1_ratios=(0.0,),
        cv=None,
        scoring="neg_log_loss",
        refit=True,
        selection="best",
        n_jobs=None,
        penalty_factor=None,
        lower_bounds=None,
        upper_bounds=None,
        learning_rate="auto",
        solver="nesterov",
        fit_intercept=True,
        max_iter=1000,
        tol=1e-4,
        class_weight=None,
        verbose=0,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.selection = selection
        self.n_jobs = n_jobs
        self.penalty_factor = penalty_factor
        self.lower_bounds = lower_bounds
        self.upper_bounds = upper_bounds
        self.learning_rate = learning_rate
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False  # numpy and scipy.sparse input only
        return tags

    def _penalty(self) -> tuple[float, float]:
        return self.C_, self.l1_ratio_

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        offset: Any = None,
        **params: Any,
    ) -> GradientDescentLogisticRegressionCV:
        """Cross-validate the grid, then fit the chosen C on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (numpy or scipy.sparse).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the fits, and of the test scores (with metadata
            routing: of the test scores if the scorer requests them).
        offset : None
            Not taken here (an error if given): scikit-learn's scorers pass
            no offsets to the models they score. Cross-validate
            ``GradientDescentLogisticRegression`` with ``GridSearchCV`` over
            ``C`` instead, with ``set_fit_request(offset=True)`` and
            ``set_score_request(offset=True)`` (its ``score`` takes them).
        **params : dict
            Metadata for the splitter (``groups``) and the scorer, as
            ``LogisticRegressionCV`` takes them: only with
            ``sklearn.set_config(enable_metadata_routing=True)``.

        Returns
        -------
        self : GradientDescentLogisticRegressionCV
            The fitted estimator.
        """
        _raise_for_params(params, self, "fit")
        self._validate_params()
        if offset is not None:
            raise ValueError(
                f"{type(self).__name__} does not take an offset: scikit-learn's "
                "scorers pass none to the models they score. Use GridSearchCV "
                "over C with GradientDescentLogisticRegression, "
                "set_fit_request(offset=True) and set_score_request(offset=True)."
            )
        _check_in_memory(X=X, y=y, sample_weight=sample_weight)
        checker = self._snapshot()
        X, y = validate_data(
            checker,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        check_classification_targets(y)
        classes = np.unique(y)
        if classes.size < 2:
            raise ValueError(
                "This solver needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {classes[0]!r}."
            )
        if sample_weight is not None:  # checked once, then split by fold
            sample_weight = _sample_weights(sample_weight, y.shape[0], np.float64)
        Cs = grid_of_Cs(self.Cs)
        l1_ratios = grid_of_l1_ratios(self.l1_ratios)
        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
            split_params, score_params = routed.splitter.split, routed.scorer.score
        else:  # as LogisticRegressionCV: the weights go to the scorer too
            split_params = {}
            score_params = (
                {} if sample_weight is None else {"sample_weight": sample_weight}
            )
        cv = check_cv(self.cv, y, classifier=True)
        folds = list(cv.split(X, y, **split_params))
        if self.selection == "1se" and len(folds) < 2:
            raise ValueError(
                'selection="1se" needs two cross-validation folds or more (its '
                f"standard error is over the folds); cv gives {len(folds)}."
            )
        missing = [
            _missing_classes(y[train], classes, index)
            for index, (train, _) in enumerate(folds)
        ]
        scorer = _scorer(self.scoring, classes)
        fit_params = {name: getattr(self, name) for name in _FIT_PARAMETERS}
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(_path)(
                fit_params,
                X,
                y,
                sample_weight,
                train,
                test,
                absent,
                Cs,
                l1,
                scorer,
                _check_method_params(X, params=score_params, indices=test),
            )
            for (train, test), absent in zip(folds, missing, strict=True)
            for l1 in l1_ratios
        )
        shape = (len(folds), l1_ratios.size)
        coefs = np.stack([coef for coef, _, _ in paths]).reshape(
            *shape, *paths[0][0].shape
        )
        scores = np.stack([s for _, s, _ in paths]).reshape(*shape, Cs.size)
        n_iter = np.stack([n for _, _, n in paths]).reshape(*shape, Cs.size)
        mean_scores, standard_errors = mean_and_standard_error(scores)
        chosen_l1, chosen_C = chosen_grid_point(
            mean_scores, standard_errors, Cs, self.selection
        )
        if self.refit:
            C, l1_ratio = float(Cs[chosen_C]), float(l1_ratios[chosen_l1])
            # From zeros, not from the folds' mean: the refit is the plain
            # estimator's fit at C_, whatever the folds.
            final = GradientDescentLogisticRegression(
                C=C, l1_ratio=l1_ratio, **fit_params
            ).fit(X, y, sample_weight=sample_weight)
            coef, intercept = final.coef_, final.intercept_
            loss_curve = final.loss_curve_
        else:  # the folds' coefficients, averaged
            if self.selection == "best":  # LogisticRegressionCV's: each fold's best
                flat = scores.reshape(len(folds), -1).argmax(axis=1)
                l1_index, C_index = np.unravel_index(flat, scores.shape[1:])
            else:  # a standard error needs all the folds: one point for all
                l1_index = np.full(len(folds), chosen_l1)
                C_index = np.full(len(folds), chosen_C)
            chosen = coefs[np.arange(len(folds)), l1_index, C_index].mean(axis=0)
            C, l1_ratio = float(Cs[C_index].mean()), float(l1_ratios[l1_index].mean())
            coef, intercept = _layout.from_path_rows(chosen, self.fit_intercept)
            loss_curve = None
        self._commit(
            n_features_in_=checker.n_features_in_,
            **(
                {"feature_names_in_": checker.feature_names_in_}
                if hasattr(checker, "feature_names_in_")
                else {}
            ),
            classes_=classes,
            coef_=coef,
            intercept_=intercept,
            C_=C,
            l1_ratio_=l1_ratio,
            Cs_=Cs,
            l1_ratios_=l1_ratios,
            scores_=scores,
            cv_mean_scores_=mean_scores,
            cv_standard_errors_=standard_errors,
            coefs_paths_=coefs,
            n_iter_=n_iter,
            **({} if loss_curve is None else {"loss_curve_": loss_curve}),
        )
        return self

    def get_metadata_routing(self) -> MetadataRouter:
        """Get the metadata routing of this estimator.

        As ``LogisticRegressionCV``'s: ``fit`` consumes ``sample_weight``
        itself and routes metadata to the splitter's ``split`` (``groups``)
        and to the scorer (what it requests, such as ``sample_weight``).
        ``score`` is the classifier's accuracy, and consumes
        ``sample_weight`` itself.

        Returns
        -------
        routing : MetadataRouter
            The routing information (see scikit-learn's metadata routing
            user guide).
        """
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(
                splitter=self.cv,
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
            .add(
                scorer=get_scorer(self.scoring),
                method_mapping=MethodMapping().add(caller="fit", callee="score"),
            )
        )


def _check_in_memory(**arrays: Any) -> None:
    """Refuse dask collections and arrays of other array-API libraries under
    dispatch: the folds are indexed in memory, with numpy."""
    for name, array in arrays.items():
        if is_dask_collection(array):
            raise TypeError(
                "GradientDescentLogisticRegressionCV takes numpy arrays and "
                f"scipy.sparse matrices (also lists and pandas); {name} is a dask "
                f"collection ({type(array).__name__}). Compute it first "
                f"({name}.compute()) if it fits in memory, or fit "
                "GradientDescentLogisticRegression at a given C on the dask data."
            )
        if dispatched(array):
            raise TypeError(
                "GradientDescentLogisticRegressionCV takes numpy arrays and "
                f"scipy.sparse matrices; under array_api_dispatch=True, {name} is "
                f"a {type(array).__module__}.{type(array).__name__}, which it does "
                "not convert. Convert it to numpy first, or fit outside "
                "sklearn.config_context(array_api_dispatch=True)."
            )


def _missing_classes(y_train: np.ndarray, classes: np.ndarray, fold: int) -> np.ndarray:
    """The classes that fold ``fold``'s training part lacks.

    Its model is still fitted on all the classes, as ``LogisticRegressionCV``
    fits each fold's (see ``_with_all_classes``); with fewer than two classes
    in the training part there is no model to fit.
    """
    present = np.unique(y_train)
    if present.size < 2:
        raise ValueError(
            f"The training part of cross-validation fold {fold} holds only the "
            f"class {present.tolist()}; it lacks "
            f"{np.setdiff1d(classes, present).tolist()} of the classes "
            f"{classes.tolist()}. Each training part needs at least two classes: "
            "use a stratified or shuffled cv (StratifiedKFold)."
        )
    return np.setdiff1d(classes, present)


def _scorer(scoring: Any, classes: np.ndarray) -> Any:
    """The scorer; one whose metric takes ``labels`` gets all the classes, since
    a fold's test part may lack one (as in ``LogisticRegressionCV``). The
    default, the log-loss, is computed from the model's probabilities
    directly (:class:`_NegLogLoss`)."""
    if isinstance(scoring, str) and scoring == "neg_log_loss":
        return _NegLogLoss(classes)
    scorer = get_scorer(scoring)
    function = getattr(scorer, "_score_func", None)
    if function is None or "labels" not in inspect.signature(function).parameters:
        return scorer
    return make_scorer(
        function,
        greater_is_better=scorer._sign > 0,
        response_method=scorer._response_method,
        **{"labels": classes, **scorer._kwargs},  # the scorer's own labels first
    )


class _NegLogLoss:
    """scikit-learn's ``neg_log_loss`` scorer with ``labels=classes``, for
    this estimator's probabilities: the same number (each row's probability
    of its class, clipped to ``[eps, 1 - eps]``, its negative log averaged
    with the weights), without the checks that a model's own
    ``predict_proba`` needs none of (rows that sum to one, in [0, 1], with a
    column per class). Those checks cost more than the fit of a small fold
    at one C, and the CV estimator scores every C of every fold.
    """

    def __init__(self, classes: np.ndarray):
        self.classes = classes

    def __call__(self, model, X, y, sample_weight=None) -> float:
        proba = np.asarray(model.predict_proba(X))
        codes = np.searchsorted(self.classes, y)
        if not np.array_equal(
            self.classes[np.minimum(codes, len(self.classes) - 1)], y
        ):
            raise ValueError("y holds a label the model was not fitted with.")
        eps = np.finfo(proba.dtype).eps
        chosen = np.clip(proba[np.arange(len(codes)), codes], eps, 1 - eps)
        return float(np.average(np.log(chosen), weights=sample_weight))


def _with_all_classes(
    X: Any, y: np.ndarray, weights: np.ndarray | None, missing: np.ndarray
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """A training part with one zero-weight row for each class it lacks.

    ``LogisticRegressionCV`` fits each fold with all the classes (it passes
    them to its path), so that every fold's model has the same outputs, its
    coefficients the same shape, and the test scores see all the classes. A
    row of weight zero adds a class to the fit and nothing to the objective:
    the fit is that objective's, whose missing class gets no weight. (With an
    intercept, that class's intercept falls until the fit reaches ``tol``, as
    in ``LogisticRegressionCV``: its probability there is about ``tol``. A
    binary fit of the classes present would be another model: the penalty
    of the multinomial one differs, and so does the minimum without an
    intercept.) The rows copy the first row, so that no statistic of ``X``
    changes.
    """
    if missing.size == 0:
        return X, y, weights
    extra = X[np.zeros(missing.size, dtype=np.intp)]
    if sp.issparse(X):
        X = sp.vstack([X, extra], format=X.format)
    else:
        X = np.concatenate([X, extra])
    if weights is None:
        weights = np.ones(y.shape[0])
    return (
        X,
        np.concatenate([y, missing]),
        np.concatenate([weights, np.zeros(missing.size)]),
    )


def _path(
    params: dict,
    X: Any,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    train: np.ndarray,
    test: np.ndarray,
    missing: np.ndarray,
    Cs: np.ndarray,
    l1_ratio: float,
    scorer: Any,
    score_params: dict,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One fold's path over ``Cs`` (strongest penalty first, warm-started):
    coefficients ``(n_cs, n_outputs, n_dof)``, test scores and iterations,
    in the order of ``Cs``."""
    weights = None if sample_weight is None else sample_weight[train]
    X_train, y_train, weights = _with_all_classes(X[train], y[train], weights, missing)
    X_test, y_test = X[test], y[test]
    n_cs = Cs.shape[0]
    coefs: list[Any] = [None] * n_cs
    scores, n_iter = np.empty(n_cs), np.empty(n_cs, dtype=int)
    model = GradientDescentLogisticRegression(
        l1_ratio=l1_ratio, warm_start=True, **params
    )
    model._validate_params()
    # The fold's data validated once; each C is solved on it, warm-started.
    prepared = model._prepare(X_train, y_train, weights, path=True)
    for index in np.argsort(Cs):
        model.C = float(Cs[index])  # a positive number of the grid: valid
        with warnings.catch_warnings():
            # Along a path, a fit that stops short is only a rougher score.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model._solve(prepared)
        coefs[index] = _layout.path_rows(
            model.coef_, model.intercept_, params["fit_intercept"]
        )
        scores[index] = scorer(model, X_test, y_test, **score_params)
        n_iter[index] = model.n_iter_
    return np.stack(coefs), scores, n_iter
