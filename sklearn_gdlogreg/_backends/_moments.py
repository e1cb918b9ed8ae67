"""Moments of X's columns: weighted means and (co)variances, and the
multinomial Hessian's blocks, in one read of X each; and the structure of a
one-hot encoded sparse X.

They shape the steps' metrics (``_metrics``) and measure the optimality in
the standardised units; every centred sum is formed so that the mean
cancels before the rounding, not after.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from .._array_api import astype, host_dtype, like, namespace, to_numpy
from ._blocks import (
    _BLOCK_BYTES,
    _DEVICE_BLOCK_BYTES,
    _SMALL_BLOCK_BYTES,
    PASSES,
    _compressed_view,
    _host64,
    _host_threads,
    _row_blocks,
    _row_bytes,
    is_row_chunks,
    one_block,
)

# reweight(X_block, weights_block) -> the block's weights for column_moments.
Reweight = Callable[[Any, Any], Any]

# probabilities(X_block) -> the block's class probabilities, one column per
# class, for information_matrix; or every row's, one array (X on the host).
Probabilities = Callable[[Any], Any] | np.ndarray


def column_moments(
    X,
    weights: np.ndarray,
    covariance: bool = False,
    block_bytes: int | None = None,
    reweight: Reweight | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted mean and variance (or covariance) of the columns of ``X``, one read.

    ``weights`` must sum to one. Returns the mean, of shape (n_features,),
    and the variances, of shape (n_features,), or with ``covariance`` (dense
    ``X`` only) the covariance matrix, of shape (n_features, n_features),
    all in float64. Each block is summarised (mean, then centred sums of
    squares or products, over the cached block) and the blocks are merged
    with the update of Chan, Golub and LeVeque, so there is no cancellation,
    and float64 features of magnitude up to about 1e150 do not overflow.
    Dense blocks are summarised in X's precision (float32 is twice as fast,
    and its rounding only blurs the preconditioner a little), or in float64
    where float32 squares would overflow. Sparse blocks centre each stored
    entry before squaring it (see ``_centred_square_sums``), so a column
    with a large constant part keeps its spread there too.
    ``block_bytes`` is as in :func:`linear_pass` (a quarter of it on a
    device, where each block is centred in a copy).

    ``reweight(X_block, weights_block)``, if given, gives each block's
    weights instead (for example the curvature of a loss at a point, see
    ``_objective.LogisticObjective.curvature_at``; X in memory or row
    chunks). The third value returned is the total weight: 1 without
    ``reweight``; where it is zero, so are the mean and the (co)variance.
    """
    PASSES["column_moments" if reweight is None else "curvature_moments"] += 1
    if covariance and sp.issparse(X):
        raise ValueError("covariance=True needs a dense X")
    # Sparse moments are summed in float64 (the centred entries are new arrays).
    dtype = np.float64 if sp.issparse(X) else host_dtype(X)
    # Summaries in X's precision, or in float64 where their squares over-
    # or underflow it.
    for precision in dict.fromkeys((dtype, np.float64)):
        if is_row_chunks(X):  # each chunk summarised where it lives, merged here
            parts = X.map_chunks(
                _chunk_moments, covariance, precision, block_bytes, reweight
            )
        else:
            parts = [
                _moments(X, weights, covariance, precision, block_bytes, reweight, True)
            ]
        mean, spread, seen = _merge_moments(parts, covariance)
        overflow = not np.isfinite(spread).all()
        underflow = _underflowed(mean, spread, seen, covariance, precision)
        if not (overflow or underflow.any()):
            break
    if overflow:
        raise ValueError(
            "X's values are too large: the variance of a column overflows "
            "float64 (features of magnitude above about 1e150). Divide X by "
            "a constant before fitting."
        )
    if underflow.any() and reweight is None:
        raise ValueError(
            "X's values are too small: the squares of the values of column(s) "
            f"{np.flatnonzero(underflow)[:10].tolist()} underflow float64 "
            "(nonzero features of magnitude below about 1e-154), so their "
            "spread cannot be measured. Multiply X by a constant before fitting."
        )
    if seen == 0:  # no weight at all (``reweight`` gave none): zeros
        d = X.shape[1]
        return np.zeros(d), np.zeros((d, d) if covariance else d), 0.0
    return mean, spread / seen, seen


def _underflowed(mean, spread, seen: float, covariance: bool, dtype) -> np.ndarray:
    """The columns whose nonzero values have squares below ``dtype``'s
    smallest normal number: their second moment is lost to underflow (and
    their variance with it, which would make them look constant)."""
    if seen == 0:
        return np.zeros(np.shape(mean), dtype=bool)
    variance = np.diagonal(spread) if covariance else spread
    with np.errstate(over="ignore", invalid="ignore"):
        second = variance / seen + np.square(mean)
    return (mean != 0) & (second < np.finfo(dtype).tiny)


def _moments(
    X, weights, covariance: bool, dtype, block_bytes=None, reweight=None, threads=False
):
    """``(mean, spread, weight)`` of X's rows: Chan's merge of its blocks
    (in threads over groups of blocks if ``threads``, as in ``_linear_pass``)."""
    xp = namespace(X)
    weights = astype(weights, dtype)
    # On a device, a quarter of the pass's blocks: each is centred in a copy.
    if xp is np:
        block_bytes = block_bytes or _SMALL_BLOCK_BYTES
        if threads and covariance:
            # Each thread holds its (n_features, n_features) sums: smaller blocks.
            block_bytes //= 4
    else:
        block_bytes = (block_bytes or _DEVICE_BLOCK_BYTES) // 4
    summarise = partial(_summarised_blocks, weights, covariance, reweight)
    whole = one_block(X, block_bytes)
    if whole is not None:
        parts = [summarise(whole)]
    elif threads and xp is np:
        parts = _host_threads.map_groups(X, block_bytes, summarise)
    else:
        parts = [summarise(_row_blocks(X, block_bytes))]
    return _merge_moments(parts, covariance)


def _summarised_blocks(weights, covariance: bool, reweight, blocks):
    """The merged ``(mean, spread, weight)`` of ``blocks``."""
    xp = namespace(weights)
    summary = (0.0, 0.0, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
        for rows, X_b, X_b_T in blocks:
            w_b = weights[rows]
            if reweight is not None:
                w_b = reweight(X_b, w_b)
            weight_b = float(xp.sum(w_b, dtype=xp.float64))
            if weight_b > 0:
                block = _block_moments(X_b, X_b_T, w_b, weight_b, covariance)
                # Merged as it comes: one (n_features, n_features) sum at a time.
                summary = _merge_moments([summary, (*block, weight_b)], covariance)
    return summary


def _merge_moments(parts, covariance: bool):
    """Merge ``(mean, spread, weight)`` summaries (Chan, Golub and LeVeque)."""
    parts = [part for part in parts if part[2] > 0]
    if not parts:  # no weight at all (a chunk may have none)
        return 0.0, 0.0, 0.0
    mean, spread, seen = parts[0]
    for mean_b, spread_b, weight_b in parts[1:]:
        delta = mean_b - mean
        total = seen + weight_b
        mean = mean + delta * (weight_b / total)
        factor = seen * weight_b / total
        if covariance:  # in place: the summaries are the passes' own arrays
            spread += spread_b
            _add_outer(spread, factor, delta)
        else:
            spread = spread + spread_b + delta**2 * factor
        seen = total
    return mean, spread, seen


def _add_outer(matrix: np.ndarray, alpha: float, v: np.ndarray) -> None:
    """``matrix += alpha * outer(v, v)`` in place, without an (n, n) temporary
    (BLAS ``dger`` on the transpose: a symmetric update, F-ordered there)."""
    if matrix.flags.c_contiguous and matrix.dtype == np.float64:
        scipy.linalg.blas.dger(alpha, v, v, a=matrix.T, overwrite_a=True)
    else:
        matrix += alpha * np.outer(v, v)


def information_matrix(
    X,
    weights,
    probabilities: Probabilities,
    n_outputs: int,
    *,
    fit_intercept: bool,
    center: np.ndarray | None = None,
    residuals: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``sum_i w_i V_i kron u_i u_i^T``, the logistic loss's Hessian (Fisher
    information) in the coefficients, in one read of X; with ``residuals``,
    the outer products of the per-row scores too, in the same read.

    ``p_i`` are sample i's class probabilities, one column per class:
    ``probabilities(X_block)`` (in the block's namespace), or, for X on the
    host, an array of every row's. With ``n_outputs = K``, the symmetric
    softmax's K outputs, ``V_i = diag(p_i) - p_i p_i^T``, all classes
    coupled; with ``n_outputs = 1``, the sigmoid's one output of two
    classes (class 1's scores, class 0's zero), ``V_i = p_i0 p_i1``, formed
    as that product so that it is exact where either is tiny. ``u_i = [x_i -
    center, 1]``, or ``x_i - center`` without ``fit_intercept``; a
    ``center`` of None is zero (the coefficients of X's own columns).

    ``residuals``, an array of shape (n_samples, n_outputs) (X on the host),
    gives the second matrix ``sum_i w_i (r_i r_i^T) kron u_i u_i^T``: with
    ``r_i = p_i - onehot(y_i)`` (binary: ``p_i1 - y_i``) the outer products
    of the scores ``r_i kron u_i``, the middle of the HC0 sandwich. Returns
    ``(information, scores)``, numpy float64 arrays of shape ``(K m, K m)``,
    ``m = len(u)``, rows and columns class by class, feature by feature
    (``k * m + j``); ``scores`` is None without ``residuals``. They cost
    ``K^2`` covariances each.

    Dense X: numpy (in threads over groups of row blocks where each
    thread's sums are small), row chunks, or an array of another array-API
    library (on its device, in its precision). Sparse X (CSR or CSC),
    without a ``center``: one sparse product for each pair of classes, over
    blocks of rows (a CSC X is one block), copying no more than a block.
    """
    PASSES["information_matrix"] += 1
    m = X.shape[1] + fit_intercept
    if sp.issparse(X) and center is not None:
        raise ValueError("a center needs a dense X")
    on_host = not is_row_chunks(X) and namespace(X) is np
    if not on_host and (not callable(probabilities) or residuals is not None):
        raise TypeError("probabilities or residuals as arrays need X on the host")
    summed = partial(
        _information_blocks,
        weights,
        probabilities,
        residuals,
        center,
        fit_intercept,
        n_outputs,
    )
    if is_row_chunks(X):
        parts = X.map_chunks(
            _chunk_information, probabilities, center, fit_intercept, n_outputs
        )
    elif not on_host:
        parts = [summed(_row_blocks(X, _DEVICE_BLOCK_BYTES // n_outputs))]
    else:
        block_bytes = _information_block_bytes(X, n_outputs, m)
        # Each thread holds its own sums: in threads only where they are
        # small, one sum (and BLAS's threads) for the larger.
        if sp.issparse(X) or 8 * (n_outputs * m) ** 2 > _BLOCK_BYTES:
            parts = [summed(_row_blocks(X, block_bytes))]
        else:
            parts = _host_threads.map_groups(X, block_bytes, summed)
    information, scores = _added_sums(parts)
    size = n_outputs * m
    if isinstance(information, float):  # no rows
        information = np.zeros((size, size))
    if isinstance(scores, float):
        scores = np.zeros((size, size))
    return information, scores


# A dense block has at least this many rows: each block's sums of products
# are added to the (K m, K m) totals, and a product of fewer rows would cost
# little more than that addition.
_MIN_INFORMATION_ROWS = 512


def _information_block_bytes(X, n_outputs: int, m: int) -> int:
    if sp.issparse(X):
        # Each pair of classes adds a block's (m, m) products to the totals:
        # blocks of at least m^2 stored entries, so that the additions cost
        # less than the products, and a block's copies (scaled, transposed)
        # take no more room than the totals.
        entry = X.data.itemsize + X.indices.itemsize
        return max(_BLOCK_BYTES, 2 * entry * m * m)
    least = int(_MIN_INFORMATION_ROWS * _row_bytes(X))
    return max(_coupled_block_bytes(n_outputs), least)


def _coupled_block_bytes(n_classes: int) -> int:
    # A block's products (n_rows, K m) are K times the block, and the block
    # is copied to float64 and centred: blocks of a 2 K-th of a small block.
    return _SMALL_BLOCK_BYTES // (2 * n_classes)


def _added_sums(parts) -> tuple[Any, Any]:
    """The sums of ``(information, scores)`` parts, in their order."""
    information, scores = parts[0]
    for information_b, scores_b in parts[1:]:
        # In place: the parts are the passes' own arrays (or 0.0, the sums
        # of no rows).
        if isinstance(information, float):
            information = information_b
        elif not isinstance(information_b, float):
            information += information_b
        if isinstance(scores, float):
            scores = scores_b
        elif scores is not None and not isinstance(scores_b, float):
            scores += scores_b
    return information, scores


def _chunk_information(X, y, weights, probabilities, center, fit_intercept, n_outputs):
    m = X.shape[1] + fit_intercept
    blocks = _row_blocks(X, _information_block_bytes(X, n_outputs, m))
    return _information_blocks(
        weights, probabilities, None, center, fit_intercept, n_outputs, blocks
    )


def _augmented(X_b, center, fit_intercept: bool):
    """``U = [X_b - center, 1]`` (no 1 without ``fit_intercept``, no centring
    for a ``center`` of None), float64 on the host, in X_b's precision on a
    device."""
    xp = namespace(X_b)
    U = astype(X_b, np.float64) if xp is np else X_b
    dtype = host_dtype(U)
    if center is not None:
        U = U - like(center, U, dtype)
    if not fit_intercept:
        return U
    ones = like(np.ones((U.shape[0], 1)), U, dtype)
    return xp.concat([U, ones], axis=1)


def _information_blocks(
    weights, probabilities, residuals, center, fit_intercept, n_outputs, blocks
) -> tuple[Any, Any]:
    """:func:`information_matrix`'s ``(information, scores)`` over ``blocks``
    (0.0 for a sum of no blocks; scores None without ``residuals``)."""
    information: Any = 0.0
    scores: Any = None if residuals is None else 0.0
    for rows, X_b, X_b_T in blocks:
        if callable(probabilities):
            P = probabilities(X_b)
        else:
            P = probabilities[rows]
        R = None if residuals is None else residuals[rows]
        if sp.issparse(X_b):
            parts = _sparse_information(
                X_b, X_b_T, weights[rows], P, R, n_outputs, fit_intercept
            )
        else:
            parts = _dense_information(
                X_b, weights[rows], P, R, n_outputs, center, fit_intercept
            )
        # In place: (K m)^2 sums are large next to a narrow X's blocks.
        information, scores = _added_sums([(information, scores), parts])
        del parts, P, R  # before the next block's come
    return information, scores


def _dense_information(X_b, w_b, P, R, n_outputs, center, fit_intercept):
    """``(information, scores)`` of a dense block (scores None without R)."""
    xp = namespace(X_b)
    U = _augmented(X_b, center, fit_intercept)
    P = astype(P, host_dtype(U))
    w_b = astype(w_b, host_dtype(U))
    root = xp.sqrt(w_b)[:, None]
    if n_outputs == 1:  # sum w p_0 p_1 u u^T: no difference of sums cancels
        curvature = w_b * P[:, 1] * P[:, 0]
        grams = _class_grams(U, curvature[:, None])
        information = to_numpy(grams[0, ...]).astype(np.float64, copy=False)
    else:
        # -sum w p p^T kron u u^T: the Gram matrix of the rows sqrt(w) p kron u.
        coupled = xp.reshape((P * root)[:, :, None] * U[:, None, :], (U.shape[0], -1))
        # + sum w p_k u u^T on the diagonal blocks.
        diagonal = _class_grams(U, w_b[:, None] * P)
        information = to_numpy(coupled.T @ coupled).astype(np.float64, copy=False)
        np.negative(information, out=information)
        m = U.shape[1]
        for k, square in enumerate(to_numpy(diagonal)):
            information[k * m : (k + 1) * m, k * m : (k + 1) * m] += square
        del coupled, diagonal
    if R is None:
        return information, None
    # The Gram matrix of the scores sqrt(w) r kron u.
    R = astype(R, host_dtype(U))
    scores = xp.reshape((R * root)[:, :, None] * U[:, None, :], (U.shape[0], -1))
    return information, to_numpy(scores.T @ scores).astype(np.float64, copy=False)


def _sparse_information(X_b, X_b_T, w_b, P, R, n_outputs, fit_intercept):
    """``(information, scores)`` of a sparse block (scores None without R),
    each entry of ``V_i`` (and of ``r_i r_i^T``) formed row by row: no
    difference of sums cancels."""
    w_b = np.asarray(w_b, dtype=np.float64)
    P = np.asarray(P, dtype=np.float64)
    if n_outputs == 1:

        def curvature(k, other):
            return w_b * P[:, 1] * P[:, 0]

    else:

        def curvature(k, other):
            return w_b * P[:, k] * (float(k == other) - P[:, other])

    # Both factors of each product in CSR: X_b^T's rows and X_b's (a CSC X,
    # one block, is converted once rather than in each product).
    left = X_b_T.tocsr() if X_b_T.format != "csr" else X_b_T
    right = X_b.tocsr() if X_b.format != "csr" else X_b
    information = _kron_sums(left, right, curvature, n_outputs, fit_intercept)
    if R is None:
        return information, None
    R = np.asarray(R, dtype=np.float64)

    def product(k, other):
        return w_b * R[:, k] * R[:, other]

    return information, _kron_sums(left, right, product, n_outputs, fit_intercept)


def _kron_sums(left, right, entry, n_outputs: int, fit_intercept: bool) -> np.ndarray:
    """``sum_i C_i kron u_i u_i^T``, ``u_i = [x_i, 1]`` (``x_i`` without
    ``fit_intercept``), for the rows ``x_i`` of the CSR ``right`` (``left``
    its transpose, CSR) and the symmetric ``C_i`` whose (k, l) entries are
    ``entry(k, l)``, one for each row: one sparse product ``X^T diag(c) X``
    for each pair of outputs ``k <= l``."""
    d = right.shape[1]
    m = d + fit_intercept
    total = np.zeros((n_outputs * m, n_outputs * m))
    lengths = np.diff(right.indptr)
    for k in range(n_outputs):
        for other in range(k, n_outputs):
            c = entry(k, other)
            # X's rows scaled by c: a copy of the block's values only.
            scaled = _compressed_view(
                right,
                "csr",
                (right.data * np.repeat(c, lengths), right.indices, right.indptr),
                right.shape,
            )
            part = total[k * m : (k + 1) * m, other * m : (other + 1) * m]
            part[:d, :d] = (left @ scaled).toarray()
            if fit_intercept:
                part[:d, d] = part[d, :d] = left @ c
                part[d, d] = c.sum()
            if other != k:
                total[other * m : (other + 1) * m, k * m : (k + 1) * m] = part.T
    return total


def class_block_moments(
    X: np.ndarray,
    weights,
    probabilities,
    center: np.ndarray | None,
    n_classes: int,
    units: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_i w_i p_ik (1 - p_ik) u_i u_i^T`` for each class k, one read of X.

    The diagonal blocks of :func:`information_matrix` with ``n_outputs =
    K`` (same ``p_i``; ``u_i = [x_i - center, 1]``, ``x_i`` itself if
    ``center`` is None: no intercept): a numpy float64 array of shape ``(K,
    m, m)``, K covariances' cost. A numpy X, in threads over groups of row
    blocks.

    With ``units`` (one positive number for each of u's m entries, such as
    the columns' standard deviations), the products run in float32 on ``u``
    divided by them, and the sums come back multiplied: they are the whole
    cost, and float32 halves it; in those units float32 neither overflows
    nor underflows, whatever X's scale. Its rounding only blurs the blocks,
    which shape the steps of a fit and do not move its minimum.
    """
    PASSES["class_block_moments"] += 1
    summed = partial(_class_blocks, weights, probabilities, center, units)
    # A block's weighted rows, every class's, are K times the block.
    parts = _host_threads.map_groups(X, _coupled_block_bytes(n_classes), summed)
    total = parts[0]
    for part in parts[1:]:
        total += part  # in place: K (m, m) sums can be large next to X's blocks
    if units is not None:
        total *= units[:, None]
        total *= units[None, :]
        # Exactly symmetric: a float32 product's (i, j) and (j, i) differ in
        # their rounding, and a Cholesky factor sees only one of them.
        total += total.transpose(0, 2, 1)
        total /= 2
    return total


def _class_blocks(weights, probabilities, center, units, blocks):
    """:func:`class_block_moments` over ``blocks``, summed in place (in
    float64; the products in float32 with ``units``)."""
    total = None
    for rows, X_b, _ in blocks:
        U = _augmented(X_b, center, center is not None)
        P = np.asarray(probabilities(X_b), dtype=np.float64)
        curvature = weights[rows][:, None] * P * (1 - P)
        if units is not None:
            U = (U / units).astype(np.float32)
            curvature = curvature.astype(np.float32)
        grams = _class_grams(U, curvature)
        if total is None:
            total = grams.astype(np.float64, copy=False)
        else:
            total += grams
        del U, P, grams  # before the next block's come
    return total


def _class_grams(U, C):
    """``U^T diag(C[:, k]) U`` for each column k of ``C``: an array of shape
    ``(K, m, m)``, in U's namespace. All in one product rather than K
    smaller ones (one call, and BLAS runs a larger product closer to its
    peak): ``(U^T [c_1 U, ..., c_K U])[i, k m + j]`` is the k-th's
    ``(i, j)``."""
    xp = namespace(U)
    (n, m), K = U.shape, C.shape[1]
    weighted = xp.reshape(U[:, None, :] * C[:, :, None], (n, K * m))
    return xp.permute_dims(xp.reshape(U.T @ weighted, (m, K, m)), (1, 0, 2))


def _block_moments(X_b, X_b_T, w_b, weight_b: float, covariance: bool):
    """Weighted mean and centred sums of squares (or products) of one block.

    In the precision of ``w_b``, returned in float64 on the host. Dense
    blocks use the corrected two-pass algorithm: centre on the computed
    mean, then correct for what its rounding left over (``residual``), so
    the sums are those about the block's exact mean, as the merge needs.
    """
    if sp.issparse(X_b):
        mean_b = np.asarray(X_b_T @ w_b, dtype=np.float64).ravel() / weight_b
        stored, stored_weight, count = _centred_square_sums(X_b_T, w_b, mean_b)
        # The entries not stored are zeros, each ``mean`` away from it. Where
        # every row is stored the weight left is exactly none: the rounding
        # of ``weight_b - stored_weight``, times a large constant part's
        # ``mean**2``, would swamp the spread.
        missing = np.where(
            count == X_b.shape[0], 0.0, np.maximum(weight_b - stored_weight, 0.0)
        )
        return mean_b, stored + missing * mean_b**2
    xp = namespace(X_b)
    if host_dtype(X_b) != host_dtype(w_b):  # float64 sums of float32 data
        X_b = astype(X_b, host_dtype(w_b))
        X_b_T = X_b.T
    mean_b = (X_b_T @ w_b) / weight_b
    centred = X_b - mean_b
    residual = _host64(w_b @ centred) / weight_b
    if covariance:
        centred *= xp.sqrt(w_b)[:, None]
        spread_b = _host64(centred.T @ centred)
        _add_outer(spread_b, -weight_b, residual)
    else:
        centred *= centred
        spread_b = _host64(w_b @ centred) - weight_b * residual**2
    return _host64(mean_b) + residual, spread_b


def _centred_square_sums(X_T, w, center: np.ndarray):
    """``(squares, weights, count)`` for the sparse transpose of a block: for
    each row j of ``X_T`` (a column of X), the sums over its stored entries
    of ``w_i (x_ij - center_j)^2`` and of ``w_i``, and their number; float64.

    Each entry is centred before it is squared, so that a column with a
    large constant part keeps its spread (``E[x^2] - E[x]^2`` would lose it
    to cancellation). A CSR block's transpose (CSC) is done whole: it is
    block-sized. A CSC X comes as one block, whose transpose (CSR) is done
    a few rows (columns of X) at a time, so that no temporary is larger
    than a block.
    """
    d = X_T.shape[0]
    if X_T.format != "csr":
        spans = [(0, d, 0, X_T.nnz, X_T.indices, X_T.indptr, "csc")]
    else:
        budget = max(1, _SMALL_BLOCK_BYTES // (2 * X_T.data.itemsize))
        spans = []
        start = 0
        while start < d:
            limit = X_T.indptr[start] + budget
            stop = int(np.searchsorted(X_T.indptr, limit, side="right")) - 1
            stop = min(max(stop, start + 1), d)
            low, high = X_T.indptr[start], X_T.indptr[stop]
            indptr = X_T.indptr[start : stop + 1] - low
            spans.append((start, stop, low, high, X_T.indices[low:high], indptr, "csr"))
            start = stop
    squares, weights, count = np.empty(d), np.empty(d), np.empty(d, dtype=np.int64)
    for start, stop, low, high, indices, indptr, layout in spans:
        # One temporary of the span's size: each entry's centre, then the
        # entry less it, squared, then ones.
        if layout == "csc":  # entry k lies in row indices[k] of X_T
            values = center[indices].astype(w.dtype, copy=False)
            count[:] = np.bincount(indices, minlength=d)
        else:
            lengths = np.diff(indptr)
            values = np.repeat(center[start:stop].astype(w.dtype), lengths)
            count[start:stop] = lengths
        np.subtract(X_T.data[low:high], values, out=values)
        values *= values
        shape = (stop - start, X_T.shape[1])
        summed = _compressed_view(X_T, layout, (values, indices, indptr), shape) @ w
        squares[start:stop] = np.asarray(summed, dtype=np.float64).ravel()
        values[:] = 1.0
        summed = _compressed_view(X_T, layout, (values, indices, indptr), shape) @ w
        weights[start:stop] = np.asarray(summed, dtype=np.float64).ravel()
    return squares, weights, count


def exclusive_column_groups(X) -> list[int]:
    """The bounds of X's groups of exclusive columns, or ``[]``.

    A sparse ``X`` (CSR or CSC) of one-hot encoded categorical features
    (``OneHotEncoder``'s output) is made of groups of adjacent columns in
    which every row has exactly one stored entry. Returns the columns
    ``[0, b_1, ..., d]`` that bound such groups where every column lies in
    one (so every row has the same number of entries, one per group), and
    ``[]`` otherwise (dense or other ``X``, or any other structure). Reads
    X's index arrays once and copies nothing of X.
    """
    if not sp.issparse(X) or X.format not in ("csr", "csc"):
        return []
    n, d = X.shape
    if n == 0 or X.nnz == 0 or X.nnz % n or X.indptr[0] != 0:
        return []
    per_row = X.nnz // n
    indices = X.indices[: X.nnz]
    if X.format == "csr":
        if np.any(np.diff(X.indptr) != per_row) or not X.has_sorted_indices:
            return []
        # The k-th entries of all rows must lie left of every row's (k+1)-th.
        columns = indices.reshape(n, per_row)
        first, last = columns.min(axis=0), columns.max(axis=0)
        if np.any(last[:-1] >= first[1:]):
            return []
        return [0, *first[1:].tolist(), d]
    # CSC: the k-th group's entries are the k-th n of them, one for each row.
    firsts = n * np.arange(per_row)  # the index of each group's first entry
    bounds = np.searchsorted(X.indptr, firsts, side="left")
    if np.any(X.indptr[bounds] != firsts):
        return []
    for k in range(per_row):
        if np.bincount(indices[k * n : (k + 1) * n], minlength=n).max() != 1:
            return []
    return [*bounds.tolist(), d]


def _chunk_moments(X, y, weights, covariance: bool, dtype, block_bytes, reweight):
    return _moments(X, weights, covariance, dtype, block_bytes, reweight)
