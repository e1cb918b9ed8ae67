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
outer products of the per-row scores, ``M = sum_i s_i g_i g_i^T``.

Parameters are ordered as in ``coef_`` then ``intercept_``: for a binary model
``[w_1, ..., w_d, b]``; for ``K >= 3`` classes each class ``k >= 1`` against
the first (``coef_[k] - coef_[0]``, as statsmodels' ``MNLogit`` reports
them), one block ``[w_k1, ..., w_kd, b_k]`` per class. The symmetric softmax
has K blocks of which only the differences are identified (without penalty;
the intercepts' common shift never is), so the multinomial covariance is
``A H^+ A^T`` for the differences ``A``: the same as inverting the information
of the reference parametrisation.
"""

from __future__ import annotations

import os

import numpy as np
import scipy.sparse as sp
from scipy import stats

# Above this share of the machine's memory, the (p, p) matrices (a few are
# held at once) are refused with an error that gives their size.
_MEMORY_SHARE = 0.25


def _design_blocks(X, fit_intercept: bool, rows: int = 4096):
    """Row blocks of ``[X, 1]`` (or ``X``), dense."""
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows]
        block = block.toarray() if sp.issparse(block) else np.asarray(block)
        block = block.astype(np.float64, copy=False)
        if fit_intercept:
            block = np.hstack([block, np.ones((block.shape[0], 1))])
        yield slice(start, start + block.shape[0]), block


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
    fit_intercept: bool, l2: float, robust: bool,
) -> np.ndarray:  # fmt: skip
    """The covariance of the parameters (see the module's docstring).

    ``proba`` are the fitted probabilities (n, K), ``codes`` the class
    codes, ``weights`` the frequency weights (class weights folded in), and
    ``l2`` the penalty ``(1 - l1_ratio) / C`` on ``W``.
    """
    n_classes = proba.shape[1]
    d = X.shape[1] + fit_intercept
    # The symmetric parametrisation's K blocks (one for a binary model).
    blocks = 1 if n_classes == 2 else n_classes
    check_size(blocks * d)
    information = np.zeros((blocks * d, blocks * d))
    # The outer products of the scores (the sandwich's middle), if robust.
    scores = np.zeros_like(information) if robust else np.zeros((0, 0))
    for rows, D in _design_blocks(X, fit_intercept):
        p, s, y = proba[rows], weights[rows], codes[rows]
        if n_classes == 2:
            variance = (s * p[:, 1] * p[:, 0])[:, None]
            information += D.T @ (D * variance)
            if robust:
                g = D * (p[:, 1] - (y == 1))[:, None]
                scores += g.T @ (g * s[:, None])
            continue
        for k in range(n_classes):
            for m in range(k, n_classes):
                v = s * ((k == m) * p[:, k] - p[:, k] * p[:, m])
                part = D.T @ (D * v[:, None])
                information[k * d : (k + 1) * d, m * d : (m + 1) * d] += part
                if m != k:
                    information[m * d : (m + 1) * d, k * d : (k + 1) * d] += part.T
        if robust:
            residual = p - (y[:, None] == np.arange(n_classes))
            g = (residual[:, :, None] * D[:, None, :]).reshape(len(s), -1)
            scores += g.T @ (g * s[:, None])
    penalised = np.zeros(d, dtype=bool)
    penalised[: X.shape[1]] = True
    information[np.diag_indices_from(information)] += l2 * np.tile(penalised, blocks)
    if n_classes == 2:
        inverse = np.linalg.inv(information)
        return inverse @ scores @ inverse if robust else inverse
    # Each class against the first: A maps the K blocks to their differences.
    A = np.zeros(((n_classes - 1) * d, n_classes * d))
    for k in range(1, n_classes):
        A[(k - 1) * d : k * d, k * d : (k + 1) * d] = np.eye(d)
        A[(k - 1) * d : k * d, :d] = -np.eye(d)
    inverse = np.linalg.pinv(information, hermitian=True)
    if robust:
        return A @ inverse @ scores @ inverse @ A.T
    return A @ inverse @ A.T


def table(coef: np.ndarray, cov: np.ndarray, alpha: float) -> dict[str, np.ndarray]:
    """The columns of a coefficient table: coef, se, z, p_value, CI bounds."""
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / se
    quantile = stats.norm.ppf(1 - alpha / 2)
    return {
        "coef": coef,
        "se": se,
        "z": z,
        "p_value": 2 * stats.norm.sf(np.abs(z)),
        "ci_lower": coef - quantile * se,
        "ci_upper": coef + quantile * se,
    }
