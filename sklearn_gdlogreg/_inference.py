"""Standard errors of the fitted coefficients: the Fisher information and HC0.

For the weighted log-likelihood ``l(theta) = -sum_i s_i loss_i(theta)`` (the
weights are frequency weights: a weight of 2 is a duplicated row) the
classical covariance is the inverse of the observed (= expected) information
``H = sum_i s_i J_i^T V_i J_i`` at the fitted coefficients, where ``V_i`` is
the softmax's covariance ``diag(p_i) - p_i p_i^T`` (binary: ``p_i (1 - p_i)``)
and ``J_i`` maps the parameters to the scores of row ``x_i`` (``[x_i, 1]`` per
class). With an L2 term ``1 / (2 C) ||W||^2`` (``LogisticRegression``'s
scaling) the information is that of the penalised objective, ``H + I / C`` on
``W``. The robust (HC0) covariance is the sandwich ``H^-1 M H^-1`` with the
outer products of the per-row scores, ``M = sum_i s_i g_i g_i^T``. Both
``H`` and ``M`` come from one pass of the backend over X (dense or sparse),
``Backend.information_matrix``, whose ``H`` the multinomial step metric
uses too.

Parameters are ordered as in ``coef_`` then ``intercept_``: for a binary model
``[w_1, ..., w_d, b]``; for ``K >= 3`` classes each class ``k >= 1`` against
the first (``coef_[k] - coef_[0]``, as statsmodels' ``MNLogit`` reports
them; ``_layout.against_the_first``), one block ``[w_k1, ..., w_kd, b_k]``
per class. The symmetric softmax has K blocks of which only the differences
are identified (without penalty; the intercepts' common shift never is), so
the multinomial covariance is ``A H^+ A^T`` for the differences ``A``: the
same as inverting the information of the reference parametrisation.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import scipy.sparse as sp
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_consistent_length, column_or_1d

from . import _layout, _penalty
from ._array_api import dispatched, on_host, to_numpy
from ._backends import OffsetLabels, backend_for
from ._inputs import MemoryInput, check_offset, encode_on_host
from ._loss import proba_of_scores
from ._report import caller_stacklevel

# Above this share of the machine's memory, the (p, p) matrices (a few are
# held at once) are refused with an error that gives their size.
_MEMORY_SHARE = 0.25


def check_size(n_parameters: int) -> None:
    """A clear error when the (p, p) matrices would not fit in memory."""
    n_bytes = 8 * n_parameters**2
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX: 16 GiB
        memory = 16 * 2**30
    if n_bytes > _MEMORY_SHARE * memory:
        raise ValueError(
            f"The covariance matrix of {n_parameters} parameters would take "
            f"{n_bytes / 2**30:.1f} GiB ({n_parameters} x {n_parameters} "
            f"float64), more than {_MEMORY_SHARE:.0%} of this machine's "
            f"{memory / 2**30:.1f} GiB. Compute it for fewer features."
        )


def covariance(
    X, proba: np.ndarray, codes: np.ndarray, weights: np.ndarray, *,
    fit_intercept: bool, l2: np.ndarray, robust: bool,
) -> np.ndarray:  # fmt: skip
    """The covariance of the parameters (see the module's docstring).

    ``proba`` are the fitted probabilities (n, K), ``codes`` the class
    codes, ``weights`` the frequency weights (class weights folded in), and
    ``l2`` the penalty ``(1 - l1_ratio) / C`` on each row of ``W`` (times
    its penalty factor), of shape (n_features,). ``X`` is dense or
    sparse (CSR or CSC).
    """
    n_classes = proba.shape[1]
    d = X.shape[1] + fit_intercept
    # The symmetric parametrisation's K blocks (one for a binary model).
    blocks = 1 if n_classes == 2 else n_classes
    check_size(blocks * d)
    residuals = None
    if robust:  # the scores' factors p_i - onehot(y_i) (binary: p_i1 - y_i)
        residuals = proba - (codes[:, None] == np.arange(n_classes))
        if blocks == 1:
            residuals = residuals[:, 1:]
    information, scores = backend_for(X).information_matrix(
        weights, proba, blocks, fit_intercept=fit_intercept, residuals=residuals
    )
    penalty = np.zeros(d)
    penalty[: X.shape[1]] = l2
    information[np.diag_indices_from(information)] += np.tile(penalty, blocks)
    # The parameters reported (``_layout.against_the_first``): the
    # coefficients themselves (binary), or each class against the first. It
    # is linear in the K blocks: A is it applied to each unit vector.
    A = np.column_stack(
        [
            _layout.against_the_first(np.eye(1, blocks * d, j).reshape(blocks, d))
            for j in range(blocks * d)
        ]
    )
    inverse, identified = _identified_inverse(information, A)
    middle = inverse @ scores @ inverse if scores is not None else inverse
    cov = A @ middle @ A.T
    cov[~identified] = np.nan
    cov[:, ~identified] = np.nan
    return cov


# Eigenvalues of the information (scaled to a unit diagonal) below this
# fraction of the largest are within a thousand times its rounding (about
# eps times its size): the directions they belong to are not identified to
# working precision, and would give standard errors 1e5 times the others'
# or more, that mean nothing.
_RCOND = 1e-10


def _identified_inverse(
    information: np.ndarray, A: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The pseudo-inverse of ``information`` and which parameters ``A @
    theta`` it identifies.

    A parameter ``a @ theta`` is identified when ``a`` is orthogonal to the
    directions of (numerically) no information: its variance is then
    ``a H^+ a^T``. The symmetric softmax's common shift of every class
    never is, and the differences ``A`` never see it; collinear columns,
    or a column constant once the intercept is there, make other
    directions, and the parameters along them are not identified.
    """
    std = np.sqrt(np.maximum(np.diag(information), 0.0))
    informed = std > 0
    scale = np.where(informed, std, 1.0)
    scaled = information / scale[:, None] / scale[None, :]
    values, vectors = np.linalg.eigh(scaled)
    kept = values > _RCOND * values.max() if values.size else values > 0
    inverse = (vectors[:, kept] / values[kept]) @ vectors[:, kept].T
    inverse /= scale[:, None]
    inverse /= scale[None, :]
    # Each parameter's part along the uninformed directions (in the scaled
    # coordinates, where they are orthonormal), relative to its size.
    null = vectors[:, ~kept]
    directions = A / scale[None, :]
    sizes = np.linalg.norm(directions, axis=1)
    along = np.linalg.norm(directions @ null, axis=1) / np.where(sizes > 0, sizes, 1)
    identified = (along <= np.sqrt(_RCOND)) & (sizes > 0)
    return inverse, identified


def separated(
    X, codes: np.ndarray, weights: np.ndarray, proba: np.ndarray, fit_intercept: bool
) -> bool:
    """Whether the classes are (quasi-)separated, so that the maximum
    likelihood estimate does not exist (Albert and Anderson, 1984).

    They are when some nonzero direction ``beta`` of the coefficients never
    lowers any sample's true-class score against another class's (``M beta
    >= 0``, a row of ``M`` for each sample and other class, in the reference
    parametrisation where class 0's scores are zero): the loss then falls
    (or stays) along it without end. By Stiemke's lemma they are not exactly
    when some ``lambda > 0`` has ``M^T lambda = 0``. The fitted model gives
    one nearly: ``lambda`` its weighted probabilities of the other classes
    (``M^T lambda`` is then its gradient, zero at the minimum), corrected by
    least squares for the gradient that tol left. Where that correction
    keeps it positive this is settled in one small solve; else a linear
    program decides (Konis, 2007): maximise the total margin over such
    directions in a box, positive exactly where they exist.
    ``proba`` are the fitted probabilities, one column per class.
    """
    import scipy.optimize

    rows = weights > 0
    X, codes, weights, proba = X[rows], codes[rows], weights[rows], proba[rows]
    D = sp.csr_matrix(X, dtype=np.float64)
    if fit_intercept:
        D = sp.hstack([D, np.ones((D.shape[0], 1))], format="csr")
    # Each column in units of its largest entry, so that the box bounds
    # every direction alike.
    largest = abs(D).max(axis=0).toarray().ravel()
    D = D @ sp.diags(1 / np.where(largest > 0, largest, 1.0))
    n_classes = proba.shape[1]
    parts, certificate = [], []
    for other in range(n_classes):
        keep = codes != other
        D_keep, mine = D[keep], codes[keep]
        blocks = [
            sp.diags((mine == k) - float(other == k)) @ D_keep
            for k in range(1, n_classes)
        ]
        parts.append(sp.hstack(blocks, format="csr"))
        certificate.append(weights[keep] * proba[keep, other])
    margins = sp.vstack(parts, format="csr")
    if _stiemke(margins, np.concatenate(certificate)):
        return False
    result = scipy.optimize.linprog(
        -np.asarray(margins.sum(axis=0)).ravel(),
        A_ub=-margins,
        b_ub=np.zeros(margins.shape[0]),
        bounds=(-1, 1),
        method="highs-ds",
    )
    if result.status != 0:  # no verdict: say nothing rather than guess
        return False
    # The solver meets the constraints to its tolerance: without separation
    # what it gains is of that size, with it some margin is far larger than
    # the constraints' violation.
    margin = margins @ result.x
    gained, violated = float(margin.max()), max(0.0, -float(margin.min()))
    return gained > 1e-6 and gained > 1e3 * violated


def _stiemke(margins, lam: np.ndarray, rounds: int = 5) -> bool:
    """Whether ``lam > 0``, corrected, makes ``margins^T lam`` zero: a proof
    that no direction separates the classes (see :func:`separated`).

    Each correction ``lam (1 + M c)`` solves ``M^T (lam (1 + M c)) = 0``
    (``M^T diag(lam) M``, a few coefficients square): the change of the
    margins of a Newton step of the fit, which keeps ``lam`` positive near
    the minimum. Farther, ``lam exp(M c)`` (positive) and another round.
    """
    lam = lam.astype(np.float64)
    if not lam.min() > 0:
        return False
    for _ in range(rounds):
        residual = margins.T @ lam
        gram = (margins.T @ sp.diags(lam) @ margins).toarray()
        solved, *_ = np.linalg.lstsq(gram, -residual, rcond=None)
        step = margins @ solved
        if step.min() > -1:
            corrected = lam * (1 + step)
            left = float(np.abs(margins.T @ corrected).max())
            if left <= 1e-9 * float((abs(margins).T @ corrected).max()):
                return True
        lam = lam * np.exp(np.minimum(step, 50.0))
    return False


def optimality(
    X, codes, weights, coef, intercept, *, fit_intercept: bool, l2: np.ndarray,
    offset: np.ndarray | None = None,
) -> float:  # fmt: skip
    """The fit's stopping measure at ``coef`` and ``intercept`` on these
    data (with the rows' ``offset``): the gradient's max-norm in
    standardised units (``tol``'s units). ``weights`` are frequency weights
    and ``l2`` the penalty ``(1 - l1_ratio) / C``, as for :func:`covariance`."""
    from ._metrics import Geometry
    from ._objective import LogisticObjective

    total = float(weights.sum())
    objective = LogisticObjective(
        backend=backend_for(X),
        y=codes if offset is None else OffsetLabels(codes, offset.astype(X.dtype)),
        weights=(weights / total).astype(X.dtype),
        n_outputs=coef.shape[0],
        fit_intercept=fit_intercept,
        l2=1 / total,
        l1=0.0,
        penalty_factor=l2,
        shifted=offset is not None,
    )
    theta = _layout.from_fitted(coef, intercept, fit_intercept, X.dtype)
    _, grad = objective.value_and_grad(theta)
    return Geometry.for_objective(objective, X.dtype).optimality(theta, grad)


def table(coef: np.ndarray, cov: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """The columns of a coefficient table: coef, se, z, p_value, CI bounds."""
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / se
    quantile = stats.norm.isf(alpha / 2)
    return {
        "coef": coef,
        "se": se,
        "z": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower": coef - quantile * se,
        "ci_upper": coef + quantile * se,
    }


SEPARATED = (
    "The classes are separated (some direction of the coefficients never "
    "lowers a sample's true-class score): with C=np.inf (or along features "
    "of penalty_factor 0) the maximum-likelihood estimate does not exist, "
    "and the coefficients grow without bound as tol shrinks. Use a finite C "
    "(and positive penalty factors)."
)


def free_columns(unpenalised: np.ndarray, bounds) -> np.ndarray | None:
    """The columns whose coefficients nothing holds back: ``unpenalised``
    (a mask) and not boxed on both sides. Separated classes make the loss
    fall without end only along them. None where a bound holds one side of
    such a coefficient only: a direction must then keep its sign, which
    :func:`separated` does not model, and no check is made."""
    free = unpenalised.copy()
    if bounds is not None:
        lower, upper = (np.isfinite(side).any(axis=1) for side in bounds)
        if (free & (lower != upper)).any():
            return None
        free &= ~(lower & upper)
    return free


def _codes_and_offset(labels):
    """The class codes of a fit's labels, and their offsets (None without)."""
    if isinstance(labels, OffsetLabels):
        return labels.y, labels.offset
    return labels, None


def _fitted_proba(X, coef, intercept, offset):
    """The probabilities of a host X's rows (with their ``offset``, if any)
    under the fitted ``coef`` and ``intercept`` (numpy)."""
    scores = MemoryInput().scores(X, coef, intercept)
    return proba_of_scores(scores if offset is None else scores + offset)


def _columns(X, kept: np.ndarray):
    """X's ``kept`` columns (X itself where they are all kept)."""
    return X if kept.all() else X[:, kept]


def separated_fit(
    adapter, data, fitted: dict, free: np.ndarray, fit_intercept: bool
) -> bool:
    """Whether a fit's classes are separated along its ``free`` columns:
    first the cheap sign (the model puts every sample on its class's side,
    :func:`classifies_every_sample`), then, only then, the exact test
    (:func:`separated`) on those columns. Not checked on dask input."""
    if not free.any() or not classifies_every_sample(adapter, data, fitted):
        return False
    X = data.X
    X = to_numpy(X) if not sp.issparse(X) else X.tocsr()
    codes, offset = _codes_and_offset(data.y)
    proba = _fitted_proba(
        X,
        to_numpy(fitted["coef_"]),
        to_numpy(fitted["intercept_"]),
        None if offset is None else to_numpy(offset),
    )
    codes, weights = to_numpy(codes), to_numpy(data.weights)
    return separated(_columns(X, free), codes, weights, proba, fit_intercept)


def classifies_every_sample(adapter, data, fitted: dict) -> bool:
    """Whether the fitted model puts every sample of positive weight strictly
    on its class's side: its direction then separates the classes. Not
    checked on dask input (False): ``coef_table`` checks any input."""
    if data.y is None:
        return False
    Z = to_numpy(adapter.scores(data.X, fitted["coef_"], fitted["intercept_"]))
    codes, offset = _codes_and_offset(data.y)
    if offset is not None:  # the scores with their offsets
        Z = Z + to_numpy(offset)
    codes, weights = to_numpy(codes), to_numpy(data.weights)
    if Z.ndim == 1:
        margin = np.where(codes == 1, Z, -Z)
    else:
        rows = np.arange(Z.shape[0])
        true = Z[rows, codes].copy()
        Z[rows, codes] = -np.inf
        margin = true - Z.max(axis=1)
    return bool(np.all((margin > 0) | (weights == 0)))


def checked_covariance(
    model, X, y, sample_weight, robust: bool, offset=None
) -> np.ndarray:
    """``covariance`` of a fitted ``model`` on ``(X, y, sample_weight)``, with
    the rules that keep standard errors that mean nothing from passing for
    numbers: separated classes (``C=np.inf``) give NaN and a warning, a
    model not at its minimum on these data warns, and parameters that are
    not identified get NaN and a warning (see ``covariance``). With the
    rows' ``offset``, as in ``fit``."""
    X, codes, weights, l2 = _data(model, X, y, sample_weight)
    coef, intercept = to_numpy(model.coef_), to_numpy(model.intercept_)
    n_classes = to_numpy(model.classes_).shape[0]
    fit_intercept = model.fit_intercept
    offset = check_offset(on_host(offset), X.shape[0], n_classes, np.float64)
    proba = _fitted_proba(X, coef, intercept, offset)
    free = free_columns(l2 == 0, _penalty.coefficient_bounds(
        model.lower_bounds, model.upper_bounds, coef.shape[1], coef.shape[0]
    ))  # fmt: skip
    if (
        free is not None
        and free.any()
        and separated(_columns(X, free), codes, weights, proba, fit_intercept)
    ):
        warnings.warn(
            f"{SEPARATED} Its standard errors are NaN.",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
        size = (X.shape[1] + fit_intercept) * max(n_classes - 1, 1)
        return np.full((size, size), np.nan)
    gradient = optimality(
        X, codes, weights, coef, intercept,
        fit_intercept=fit_intercept, l2=l2, offset=offset,
    )  # fmt: skip
    # A converged fit meets tol at its coefficients (here on data
    # prepared again, so up to rounding): far above, they are not the
    # minimum the standard errors are the curvature of.
    if gradient > 10 * model.tol:
        warnings.warn(
            f"The coefficients are not at the minimum of the objective on "
            f"these data (gradient max-norm {gradient:.3g} > "
            f"tol={model.tol}): the fit did not converge, was made on other "
            "data, or averages the folds' coefficients (the CV estimator "
            "with refit=False). The standard errors are those of the "
            "minimum: refit to convergence on these data.",
            ConvergenceWarning,
            stacklevel=caller_stacklevel(),
        )
    cov = covariance(
        X,
        proba,
        codes,
        weights,
        fit_intercept=fit_intercept,
        l2=l2,
        robust=robust,
    )
    unidentified = np.flatnonzero(np.isnan(np.diag(cov)))
    if unidentified.size:
        warnings.warn(
            "The information matrix is singular to working precision: "
            f"parameters {unidentified[:10].tolist()} (in the order of "
            "the covariance matrix) are not identified (collinear "
            "columns, or a column constant where the intercept is), and "
            "their standard errors are NaN. Drop or combine those "
            "columns, or fit with a finite C.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    return cov


def coef_frame(model, cov: np.ndarray, alpha: float, pd):
    """The coefficient table of ``model`` (a pandas DataFrame) with the
    covariance ``cov``: one row per parameter, named by the features (the
    intercept's name kept apart from a feature's), each class against the
    first for ``K >= 3`` classes."""
    coef, intercept = to_numpy(model.coef_), to_numpy(model.intercept_)
    if hasattr(model, "feature_names_in_"):
        names = [str(name) for name in model.feature_names_in_]
    else:
        names = [f"x{j}" for j in range(model.n_features_in_)]
    if model.fit_intercept:
        # A feature may be called "intercept" too: the index stays unique.
        name = "intercept"
        while name in names:
            name = "_" + name
        names.append(name)
    rows = _layout.path_rows(coef, intercept, model.fit_intercept)
    values = _layout.against_the_first(rows)
    if rows.shape[0] == 1:
        index = pd.Index(names, name="feature")
    else:
        classes = to_numpy(model.classes_)[1:]
        index = pd.MultiIndex.from_product([classes, names], names=["class", "feature"])
    return pd.DataFrame(table(values, cov, alpha), index=index)


def validated_on_host(model, X):
    """X validated as the predict methods validate it, as numpy or
    scipy.sparse: the standard errors and intervals are computed on the host
    (arrays of other libraries come there)."""
    return MemoryInput().predict_X(model, to_numpy(X) if dispatched(X) else X)


def _data(model, X, y, sample_weight):
    """X, class codes, frequency weights (class weights folded in) and the
    L2 factor, for the standard errors of ``model``'s coefficients."""
    C, l1_ratio = model._penalty()
    if l1_ratio > 0 and np.isfinite(C):
        raise ValueError(
            "Standard errors are not available with an L1 term (l1_ratio > 0): "
            "the objective is not differentiable where the L1 penalty sets "
            "coefficients to zero, and the usual formulas ignore that "
            "selection, so they would be wrong. Refit with l1_ratio=0 (or "
            "C=np.inf), or use the bootstrap."
        )
    X = validated_on_host(model, X)
    y = column_or_1d(to_numpy(y), warn=True)
    check_consistent_length(X, y)
    classes = to_numpy(model.classes_)
    codes, weights, seen, total, exponent = encode_on_host(
        y, on_host(sample_weight), np.float64, model.class_weight
    )
    if not np.array_equal(seen, classes):
        raise ValueError(
            f"y has the classes {seen.tolist()}, but the model was fitted with "
            f"{classes.tolist()}: pass the data the model was fitted on."
        )
    weights *= np.ldexp(total, exponent)  # frequency weights again
    _check_no_active_bound(model)
    factor = _penalty.penalty_factors(model.penalty_factor, X.shape[1])
    l2 = np.full(X.shape[1], (1 - l1_ratio) / C)
    return X, codes, weights, l2 if factor is None else l2 * factor


def _check_no_active_bound(model) -> None:
    """Refuse standard errors where a coefficient lies on its bound: the
    estimate is then not a smooth function of the data there, and the
    formulas ignore the box."""
    coef = to_numpy(model.coef_)
    bounds = _penalty.coefficient_bounds(
        model.lower_bounds, model.upper_bounds, coef.shape[1], coef.shape[0], coef.dtype
    )
    if bounds is None:
        return
    at_bound = (coef.T == bounds[0]) | (coef.T == bounds[1])
    if at_bound.any():
        features = np.flatnonzero(at_bound.any(axis=1))
        raise ValueError(
            "Standard errors are not available where coefficients lie on "
            f"their bounds (features {features[:10].tolist()}): the usual "
            "formulas ignore the box. Refit without those bounds, or use "
            "the bootstrap."
        )
