"""Cross-validation over C (and l1_ratio) along warm-started paths."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any, ClassVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import get_scorer, get_scorer_names, log_loss, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import validate_data

from ._estimator import GradientDescentLogisticRegression
from ._inputs import _sample_weights

# The parameters of one fit that the CV estimator passes on as they are.
_FIT_PARAMETERS = (
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
    part. The C (and ``l1_ratio``) with the best mean score is then refitted
    on all the data: the refit is ``GradientDescentLogisticRegression``'s
    fit at that C, from zeros. This
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
        As in ``LogisticRegressionCV``: None is 5-fold stratified.
    scoring : str or callable, default="neg_log_loss"
        A scikit-learn scorer; higher is better.
    refit : bool, default=True
        Refit the best C on all the data. If False, the coefficients are the
        mean of the folds' at each fold's best C, and ``C_`` the mean of
        those Cs (as in ``LogisticRegressionCV``).
    n_jobs : int, default=None
        Folds (and l1_ratios) fitted in parallel (joblib).
    learning_rate : float or "auto", default="auto"
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    solver : {"nesterov", "gd"}, default="nesterov"
        As in :class:`GradientDescentLogisticRegression`.
    fit_intercept : bool, default=True
        As in :class:`GradientDescentLogisticRegression`.
    max_iter : int, default=1000
        As in :class:`GradientDescentLogisticRegression`, for every fit.
    tol : float, default=5e-5
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
        n_jobs=None,
        learning_rate="auto",
        solver="nesterov",
        fit_intercept=True,
        max_iter=1000,
        tol=5e-5,
        class_weight=None,
        verbose=0,
    ):
        self.Cs = Cs
        self.l1_ratios = l1_ratios
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
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
        self, X: Any, y: Any, sample_weight: Any = None
    ) -> GradientDescentLogisticRegressionCV:
        """Cross-validate the grid, then fit the best C on all the data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (numpy or scipy.sparse).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the fits and of the test scores.

        Returns
        -------
        self : GradientDescentLogisticRegressionCV
            The fitted estimator.
        """
        self._validate_params()
        checker = self._snapshot()
        X, y = validate_data(
            checker,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
        )
        check_classification_targets(y)
        if sample_weight is not None:  # checked once, then split by fold
            sample_weight = _sample_weights(sample_weight, y.shape[0], np.float64)
        Cs = (
            np.logspace(-4, 4, self.Cs)
            if isinstance(self.Cs, Integral)
            else np.asarray(self.Cs, dtype=float)
        )
        l1_ratios = np.asarray(self.l1_ratios, dtype=float).ravel()
        if Cs.size == 0 or l1_ratios.size == 0 or (Cs <= 0).any():
            raise ValueError("Cs must hold positive numbers and l1_ratios one or more.")
        if ((l1_ratios < 0) | (l1_ratios > 1)).any():
            raise ValueError(f"l1_ratios must be in [0, 1], got {l1_ratios}.")
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y))
        scorer = _scorer(self.scoring, np.unique(y))
        params = {name: getattr(self, name) for name in _FIT_PARAMETERS}
        paths = Parallel(n_jobs=self.n_jobs)(
            delayed(_path)(params, X, y, sample_weight, train, test, Cs, l1, scorer)
            for train, test in folds
            for l1 in l1_ratios
        )
        shape = (len(folds), l1_ratios.size)
        coefs = np.stack([coef for coef, _, _ in paths]).reshape(
            *shape, *paths[0][0].shape
        )
        scores = np.stack([s for _, s, _ in paths]).reshape(*shape, Cs.size)
        n_iter = np.stack([n for _, _, n in paths]).reshape(*shape, Cs.size)
        best_l1, best_C = np.unravel_index(
            np.argmax(scores.mean(axis=0)), scores.shape[1:]
        )
        if self.refit:
            C, l1_ratio = float(Cs[best_C]), float(l1_ratios[best_l1])
            # From zeros, not from the folds' mean: the refit is the plain
            # estimator's fit at C_, whatever the folds.
            final = GradientDescentLogisticRegression(
                C=C, l1_ratio=l1_ratio, **params
            ).fit(X, y, sample_weight=sample_weight)
            coef, intercept = final.coef_, final.intercept_
            loss_curve = final.loss_curve_
        else:  # LogisticRegressionCV's: each fold's best, averaged
            flat = scores.reshape(len(folds), -1).argmax(axis=1)
            l1_index, C_index = np.unravel_index(flat, scores.shape[1:])
            chosen = coefs[np.arange(len(folds)), l1_index, C_index].mean(axis=0)
            C, l1_ratio = float(Cs[C_index].mean()), float(l1_ratios[l1_index].mean())
            coef, intercept = _split(chosen, self.fit_intercept)
            loss_curve = None
        classes = np.unique(y)
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
            coefs_paths_=coefs,
            n_iter_=n_iter,
            **({} if loss_curve is None else {"loss_curve_": loss_curve}),
        )
        return self


def _scorer(scoring, classes: np.ndarray):
    """The scorer; the log-loss's knows all the classes, since a fold's test
    part may lack one."""
    if scoring == "neg_log_loss":
        return make_scorer(
            log_loss,
            greater_is_better=False,
            response_method="predict_proba",
            labels=classes,
        )
    return get_scorer(scoring)


def _split(coef: np.ndarray, fit_intercept: bool):
    """``coef_`` and ``intercept_`` of a path's ``(n_outputs, n_dof)`` array."""
    if fit_intercept:
        return np.ascontiguousarray(coef[:, :-1]), coef[:, -1].copy()
    return coef.copy(), np.zeros(coef.shape[0], dtype=coef.dtype)


def _path(params, X, y, sample_weight, train, test, Cs, l1_ratio, scorer):
    """One fold's path over ``Cs`` (strongest penalty first, warm-started):
    coefficients ``(n_cs, n_outputs, n_dof)``, test scores and iterations,
    in the order of ``Cs``."""
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    weights = None if sample_weight is None else sample_weight[train]
    test_weights = None if sample_weight is None else sample_weight[test]
    n_cs = Cs.shape[0]
    coefs, scores, n_iter = [None] * n_cs, np.empty(n_cs), np.empty(n_cs, dtype=int)
    model = GradientDescentLogisticRegression(
        l1_ratio=l1_ratio, warm_start=True, **params
    )
    for index in np.argsort(Cs):
        model.set_params(C=float(Cs[index]))
        with warnings.catch_warnings():
            # Along a path, a fit that stops short is only a rougher score.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train, sample_weight=weights)
        coef = model.coef_
        if params["fit_intercept"]:
            coef = np.hstack([coef, model.intercept_[:, None]])
        coefs[index] = coef
        kwargs = {} if test_weights is None else {"sample_weight": test_weights}
        scores[index] = scorer(model, X_test, y_test, **kwargs)
        n_iter[index] = model.n_iter_
    return np.stack(coefs), scores, n_iter
