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
import scipy.sparse as sp

from .._array_api import astype, host_dtype, like, namespace
from ._blocks import (
    _SMALL_BLOCK_BYTES,
    _compressed_view,
    _host64,
    _host_threads,
    _row_blocks,
    one_block,
)

# reweight(X_block, weights_block) -> the block's weights for column_moments.
Reweight = Callable[[Any, Any], Any]

# A numpy block's sums of squares are taken in slices of this many bytes,
# so that the squares' temporary stays in a core's cache, and of at least
# this many rows: a slice's products have a fixed cost, which slices of a
# row or two of a very wide X would repeat for every row (see
# _sums_and_squares).
_SQUARES_BYTES, _SQUARES_MIN_ROWS = 2**19, 8
# A rank-one update of a covariance (_add_outer) adds this many entries at
# a time.
_OUTER_ENTRIES = 2**13


def _checked_moments(
    summaries: Callable[[Any], list],
    n_features: int,
    dtype,
    covariance: bool,
    reweighted: bool,
    assert_finite: Callable[[], None],
) -> tuple:
    """The backends' ``column_moments`` from the parts ``summaries(precision)``
    of one read of X (``_moments``), in X's precision ``dtype`` or, where
    its squares over- or underflow, in float64; ``reweighted``: the weights
    came from a ``Reweight``, and a total weight of zero gives zeros.
    ``assert_finite()`` raises where X holds a NaN or an infinity: asked
    where the moments are not finite, before they are summed again. Where
    the summaries carry ``X^T R`` (``_moments``' ``residual``), it comes
    fourth."""
    # Summaries in X's precision, or in float64 where their squares over-
    # or underflow it.
    precisions = tuple(dict.fromkeys((dtype, np.float64)))
    for precision in precisions:
        mean, spread, seen, *XtR = _merge_moments(summaries(precision), covariance)
        overflow = not (np.isfinite(spread).all() and np.isfinite(mean).all())
        if overflow:  # a NaN or an infinity in X, or squares too large
            assert_finite()
        # (Asked where it tells anything: a wider precision is left to try,
        # or weights not reweighted raise below.)
        underflow = np.zeros(1, dtype=bool)
        if precision is not precisions[-1] or not reweighted:
            underflow = _underflowed(mean, spread, seen, covariance, precision)
        if not (overflow or underflow.any()):
            break
    if overflow:
        raise ValueError(
            "X's values are too large: the variance of a column overflows "
            "float64 (features of magnitude above about 1e150). Divide X by "
            "a constant before fitting."
        )
    if underflow.any() and not reweighted:
        raise ValueError(
            "X's values are too small: the squares of the values of column(s) "
            f"{np.flatnonzero(underflow)[:10].tolist()} underflow float64 "
            "(nonzero features of magnitude below about 1e-154), so their "
            "spread cannot be measured. Multiply X by a constant before fitting."
        )
    if seen == 0:  # no weight at all (the reweighting gave none): zeros
        d = n_features
        return np.zeros(d), np.zeros((d, d) if covariance else d), 0.0
    return mean, spread / seen, seen, *XtR


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
    X,
    weights,
    covariance: bool,
    dtype,
    block_bytes: int,
    reweight=None,
    threads=False,
    residual=None,
):
    """``(mean, spread, weight)`` of X's rows in blocks of ``block_bytes``:
    Chan's merge of its blocks (in threads over groups of blocks if
    ``threads``, as in ``_linear_pass``). With a dense numpy X's
    ``residual`` R (one row per sample, or a vector; zero where ``weights``
    is, as a residual is: the blocks of no weight are skipped), ``X^T R``
    (float64, of shape (n_features,) or (n_features, k)) comes fourth,
    from the same read of X. R is taken in its own type, a block's rows at
    a time (no copy of it in ``dtype``)."""
    weights = astype(weights, dtype)
    summarise = partial(_summarised_blocks, weights, covariance, reweight, residual)
    whole = one_block(X, block_bytes)
    if whole is not None:
        parts = [summarise(whole)]
    elif threads:
        parts = _host_threads.map_groups(X, block_bytes, summarise)
    else:
        parts = [summarise(_row_blocks(X, block_bytes))]
    return _merge_moments(parts, covariance)


def _summarised_blocks(weights, covariance: bool, reweight, residual, blocks):
    """The merged ``(mean, spread, weight)`` of ``blocks`` (and ``X^T R``
    of the ``residual`` R, see ``_moments``)."""
    xp = namespace(weights)
    summary: tuple = (0.0, 0.0, 0.0)
    # X^T R, summed over the blocks in place (one array for them all).
    XtR = None
    with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
        for rows, X_b, X_b_T in blocks:
            w_b = weights[rows]
            if reweight is not None:
                w_b = reweight(X_b, w_b)
            weight_b = float(
                np.add.reduce(w_b, dtype=np.float64)
                if xp is np
                else xp.sum(w_b, dtype=xp.float64)
            )
            if weight_b > 0:
                R_b = None if residual is None else residual[rows]
                if R_b is not None and XtR is None:
                    XtR = np.zeros((X_b.shape[1], *R_b.shape[1:]))
                block = _block_moments(X_b, X_b_T, w_b, weight_b, covariance, R_b, XtR)
                # Merged as it comes: one (n_features, n_features) sum at a time.
                summary = _merge_moments([summary, (*block, weight_b)], covariance)
    return summary if XtR is None else (*summary, XtR)


def class_moments(
    X, weights, reweight: Reweight, n_classes: int, block_bytes: int
) -> tuple[list, bool]:
    """The ``(mean, spread, weight)`` of a sparse X's rows (float64) under
    each of the ``n_classes`` columns of the weights ``reweight(X_block,
    weights_block)`` gives: a list, one summary per column, from one read
    of X (in threads over groups of blocks, as ``_moments``), and whether a
    second read was made (below).

    Each block adds its sums and sums of squares for every column at once
    (two sparse products) to its thread's, and the spreads are the sums of
    squares less the means' part, as a sparse block's are
    (``_block_moments``): the blocks' summaries are not merged one by one,
    as ``_moments`` merges them, which would take several more arrays of
    ``(n_features, K)`` a block. A column whose spread lost its digits to
    cancellation (a large constant part, see ``_cancelled``) is summed again
    centred on its mean, in a second read of X (each block's weights made
    again, then those columns' entries)."""
    weights = astype(weights, np.float64)
    summed = partial(_class_sums, weights, reweight)
    whole = one_block(X, block_bytes, n_classes)
    if whole is not None:
        parts = [summed(whole)]
    else:
        parts = _host_threads.map_groups(X, block_bytes, summed)
    sums, squares, seen = (sum(values) for values in zip(*parts, strict=True))
    mean = sums / np.where(seen > 0, seen, 1.0)
    with np.errstate(over="ignore", invalid="ignore"):  # checked by the caller
        spread = squares - seen * mean**2
    # (NaN where squares too large for float64 cancelled: centred too.)
    lost = _lost_mask(spread, squares, np.float64)
    again = bool(lost.any())
    if again:
        # Each class's lost columns, found once for every block.
        by_class = [(k, np.flatnonzero(lost[:, k])) for k in range(lost.shape[1])]
        by_class = [(k, columns) for k, columns in by_class if columns.size]
        blocks = one_block(X, block_bytes, n_classes) or _row_blocks(X, block_bytes)
        spread[lost] = 0.0
        for rows, X_b, _ in blocks:
            w_b = reweight(X_b, weights[rows])
            for k, columns in by_class:
                w_k = np.ascontiguousarray(w_b[:, k])
                spread[columns, k] += _centred_spread(
                    X_b[:, columns], w_k, float(w_k.sum()), mean[columns, k]
                )
    spread = np.maximum(spread, 0.0)
    summaries = [(mean[:, k], spread[:, k], float(seen[k])) for k in range(len(seen))]
    return summaries, again


def _class_sums(weights, reweight: Reweight, blocks):
    """The sums, sums of squares (each ``(n_features, K)``) and total
    weights (``K``) of ``blocks`` under each column of the weights (see
    :func:`class_moments`), added in place; zeros where there are no
    blocks."""
    sums: Any = 0.0
    squares: Any = 0.0
    seen: Any = 0.0
    for rows, X_b, X_b_T in blocks:
        w_b = reweight(X_b, weights[rows])
        block_sums = np.asarray(X_b_T @ w_b, dtype=np.float64)
        block_squares = _centred_square_sums(X_b_T, w_b, None)[0]
        if isinstance(sums, float):  # the first block's arrays, kept
            sums, squares, seen = block_sums, block_squares, w_b.sum(axis=0)
        else:
            sums += block_sums
            squares += block_squares
            seen += w_b.sum(axis=0)
        del block_sums, block_squares
    return sums, squares, seen


def _merge_moments(parts, covariance: bool):
    """Merge ``(mean, spread, weight)`` summaries (Chan, Golub and LeVeque),
    and sum the ``X^T R`` that comes fourth in each, where they carry one
    (all or none; summed in place: each is a pass's own array)."""
    parts = [part for part in parts if part[2] > 0]
    if not parts:  # no weight at all (a chunk may have none)
        return 0.0, 0.0, 0.0
    mean, spread, seen = parts[0][:3]
    if len(parts[0]) > 3:
        XtR = parts[0][3]
        for part in parts[1:]:
            XtR += part[3]
        return (*_merge_moments([part[:3] for part in parts], covariance), XtR)
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
    """``matrix += alpha * outer(v, v)`` in place, a few rows at a time (so
    that no (n, n) temporary is made). Not scipy's BLAS ``dger``: scipy's
    OpenBLAS is a second one next to numpy's, whose threads, left spinning
    after a call, slow numpy's products with X long after (see the note
    above ``_row_metrics._cholesky_with_jitter``)."""
    scaled = alpha * v
    rows = max(1, _OUTER_ENTRIES // max(1, v.shape[0]))
    if rows >= v.shape[0]:  # at once (few numpy calls on a small matrix)
        matrix += np.multiply.outer(scaled, v)
        return
    for start in range(0, v.shape[0], rows):
        matrix[start : start + rows] += np.outer(scaled[start : start + rows], v)


def _cancelled(dtype) -> float:
    """The share of a column's (weighted) sum of squares below which its
    spread, formed as that sum less its mean's part, has lost a quarter of
    ``dtype``'s digits to cancellation (its rounding grows with the
    column's length too): about 1e-4 in float64, a mean over 100 standard
    deviations (a large constant part); 2e-2 in float32. Below it the
    column is centred before it is squared."""
    return float(np.finfo(dtype).eps) ** 0.25


def _block_moments(
    X_b, X_b_T, w_b, weight_b: float, covariance: bool, R_b=None, XtR=None
):
    """Weighted mean and centred sums of squares (or products) of one block;
    where ``R_b`` is given, ``X_b^T R_b`` is added into ``XtR`` (float64, of
    shape (n_features,) or (n_features, k)), from the block as it is read
    (a dense block's in its slices, see ``_sums_and_squares``).

    In the precision of ``w_b``, returned in float64 on the host. A dense
    block's sums of squares are, as a sparse block's, each column's sum of
    squares less its mean's part: two products over the block, where
    centring a copy costs four; a column whose spread that left too small a
    share of its squares (``_cancelled``: a large constant part) is
    centred. Its sums of products likewise in float64 (the Gram matrix less
    the mean's part, its lost columns centred: ``_gram_moments``), else
    the block centred (``_centred_moments``).
    """
    if sp.issparse(X_b):
        assert R_b is None, "a sparse X's X^T R takes a read of its own"
        mean_b = np.asarray(X_b_T @ w_b, dtype=np.float64).ravel() / weight_b
        # Sums of squares less the mean's part: two sparse products and no
        # more, where each stored entry centred costs four. Where the spread
        # is a small part of the sum of squares (a column with a large
        # constant part), that difference lost digits: those columns are
        # centred entry by entry.
        squares = _centred_square_sums(X_b_T, w_b, None)[0]
        spread = squares - weight_b * mean_b**2
        # (NaN where squares too large for float64 cancelled: centred too.)
        lost = _lost(spread, squares, w_b.dtype)
        if lost.size:
            spread[lost] = _centred_spread(X_b[:, lost], w_b, weight_b, mean_b[lost])
        return mean_b, np.maximum(spread, 0.0)
    xp = namespace(X_b)
    assert R_b is None or xp is np, "X^T R in the moments' read: numpy X only"
    if covariance or xp is not np:
        if host_dtype(X_b) != host_dtype(w_b):  # float64 sums of float32 data
            X_b = astype(X_b, host_dtype(w_b))
            X_b_T = X_b.T
    if covariance:
        if R_b is not None:  # (a block of the covariance's is small: cached)
            XtR += X_b_T @ R_b.astype(X_b.dtype, copy=False)
        if host_dtype(w_b) == np.float64:
            return _gram_moments(X_b, X_b_T, w_b, weight_b)
        return _centred_moments(X_b, X_b_T, w_b, weight_b, covariance)
    if xp is np:
        sums, squares = _sums_and_squares(X_b, w_b, R_b, XtR)
        mean_b = sums / weight_b
    else:
        mean_b = _host64(X_b_T @ w_b) / weight_b
        squares = _host64(w_b @ xp.square(X_b))
    spread_b = squares - weight_b * mean_b**2
    # (NaN where squares that overflowed cancelled: centred too.)
    lost = _lost(spread_b, squares, host_dtype(w_b))
    if lost.size and xp is np:
        mean_b[lost], spread_b[lost], _ = _centred_in_slices(X_b, w_b, lost)
    elif lost.size:
        columns = xp.take(X_b, like(lost, X_b), axis=1)
        mean_b[lost], spread_b[lost] = _centred_moments(
            columns, columns.T, w_b, weight_b, covariance
        )
    return mean_b, np.maximum(spread_b, 0.0)


def _centred_in_slices(X_b: np.ndarray, w_b: np.ndarray, lost: np.ndarray):
    """The merged ``(mean, spread, weight)`` of a numpy block's ``lost``
    columns, each slice of rows centred in a copy (``_centred_moments``):
    slices of ``_SQUARES_BYTES`` of those columns, so that the copies stay
    small next to the block's."""
    rows = _slice_rows(lost.size, X_b.itemsize)
    parts = []
    for start in range(0, X_b.shape[0], rows):
        w_s = w_b[start : start + rows]
        weight_s = float(np.sum(w_s, dtype=np.float64))
        if weight_s > 0:
            columns = X_b[start : start + rows, lost].astype(w_b.dtype, copy=False)
            parts.append(
                (*_centred_moments(columns, columns.T, w_s, weight_s, False), weight_s)
            )
    return _merge_moments(parts, False)


def _slice_rows(n_columns: int, itemsize: int) -> int:
    """The rows of a slice of ``n_columns`` (see ``_SQUARES_BYTES``)."""
    return max(_SQUARES_MIN_ROWS, _SQUARES_BYTES // max(1, n_columns * itemsize))


def _sums_and_squares(X_b: np.ndarray, w_b: np.ndarray, R_b=None, XtR=None):
    """The weighted sums and sums of squares of a numpy block's columns, in
    float64, in slices of ``_SQUARES_BYTES``: each slice is read from memory
    once, for its sums, and squared in a temporary that stays in the cache
    for its sums of squares (a block's summary and merge cost arrays of
    n_features, so the blocks are large; see ``HostBackend._moments``).
    Each slice is summed in ``w_b``'s precision (float64 for float32 data
    whose squares would overflow). With ``R_b``, ``X_b^T R_b`` is added
    into ``XtR`` (see ``_block_moments``), from the slices in the cache too."""
    d = X_b.shape[1]
    rows = _slice_rows(d, X_b.itemsize)
    sums, squares = np.zeros(d), np.zeros(d)
    # Each slice's R_s^T X_s, of shape (k, d) for k columns (XtR's transpose).
    part = None if R_b is None else np.empty((*R_b.shape[1:], d), dtype=w_b.dtype)
    square = None
    for start in range(0, X_b.shape[0], rows):
        X_s = X_b[start : start + rows].astype(w_b.dtype, copy=False)
        w_s = w_b[start : start + rows]
        sums += w_s @ X_s
        if part is not None:
            R_s = R_b[start : start + rows].astype(w_b.dtype, copy=False)
            XtR += np.matmul(R_s.T, X_s, out=part).T
        if square is None or square.shape != X_s.shape:
            square = np.empty_like(X_s)
        np.square(X_s, out=square)
        squares += w_s @ square
    return sums, squares


def _lost(spread: np.ndarray, squares: np.ndarray, dtype) -> np.ndarray:
    """The indices of the columns of :func:`_lost_mask`."""
    return np.flatnonzero(_lost_mask(spread, squares, dtype))


def _lost_mask(spread: np.ndarray, squares: np.ndarray, dtype) -> np.ndarray:
    """Where a ``spread`` (its ``squares`` less its mean's part) lost too
    many digits, or is not a number: see ``_cancelled``."""
    return ~(spread > _cancelled(dtype) * squares) & (squares > 0)


def _gram_moments(X_b, X_b_T, w_b, weight_b: float):
    """A dense block's weighted mean and centred sums of products in
    float64, as its Gram matrix less its mean's part: one copy of the block
    (weighted) and two products, where centring costs two more passes over
    it. Each product then lost at most the share of its spreads' digits
    that ``_cancelled`` allows (``eps^(3/4)`` of a correlation in float64,
    nothing a metric shows), except in the columns whose spread that left
    too small a share of their squares (a large constant part): their
    entries are made again from those columns centred
    (:func:`_centre_lost_columns`)."""
    xp = namespace(X_b)
    mean_b = _host64(X_b_T @ w_b) / weight_b
    scaled = X_b * xp.sqrt(w_b)[:, None]
    spread_b = _host64(scaled.T @ scaled)
    del scaled
    squares = spread_b.diagonal().copy()
    _add_outer(spread_b, -weight_b, mean_b)
    lost = _lost(spread_b.diagonal(), squares, np.float64)
    if lost.size:
        _centre_lost_columns(X_b, X_b_T, w_b, weight_b, mean_b, spread_b, lost)
    return mean_b, spread_b


def _centre_lost_columns(X_b, X_b_T, w_b, weight_b, mean_b, spread_b, lost) -> None:
    """The entries of the ``lost`` columns and rows of ``spread_b`` (whose
    digits cancelled, see :func:`_gram_moments`) made again, in place, from
    a copy of those columns centred on their computed mean ``C`` (one thin
    product with the block), by the corrected two-pass algorithm of
    ``_centred_moments``; ``mean_b`` of those columns corrected as there.
    Between a lost column ``j`` and another ``k``, ``sum_i w_i x_ik c_ij``
    less ``mean_k sum_i w_i c_ij`` is ``sum_i w_i (x_ik - mean_k) c_ij`` to
    within ``k``'s own small share of cancelled digits: ``sum_i w_i c_ij``
    is the rounding of ``j``'s mean alone."""
    xp = namespace(X_b)
    centred = xp.take(X_b, like(lost, X_b), axis=1) - like(mean_b[lost], X_b)
    weighted = centred * w_b[:, None]
    sums = _host64(xp.sum(weighted, axis=0))  # the centred columns' rounding
    across = _host64(X_b_T @ weighted)  # (n_features, lost)
    across -= np.multiply.outer(mean_b, sums)
    residual = sums / weight_b
    within = _host64(centred.T @ weighted)
    within -= weight_b * np.multiply.outer(residual, residual)
    across[lost] = within
    spread_b[:, lost] = across
    spread_b[lost, :] = across.T
    mean_b[lost] += residual


def _centred_moments(X_b, X_b_T, w_b, weight_b: float, covariance: bool):
    """A dense block's weighted mean and centred sums of squares (or
    products), by the corrected two-pass algorithm: centre a copy on the
    computed mean, then correct for what its rounding left over
    (``residual``), so the sums are those about the block's exact mean, as
    the merge needs."""
    xp = namespace(X_b)
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


def _centred_spread(X_b, w_b, weight_b: float, mean_b: np.ndarray) -> np.ndarray:
    """The sums of ``w_i (x_ij - mean_j)^2`` over a sparse block's columns,
    each stored entry centred before it is squared."""
    stored, stored_weight, count = _centred_square_sums(X_b.T, w_b, mean_b)
    # The entries not stored are zeros, each ``mean`` away from it. Where
    # every row is stored the weight left is exactly none: the rounding
    # of ``weight_b - stored_weight``, times a large constant part's
    # ``mean**2``, would swamp the spread.
    missing = np.where(
        count == X_b.shape[0], 0.0, np.maximum(weight_b - stored_weight, 0.0)
    )
    return stored + missing * mean_b**2


def _centred_square_sums(X_T, w, center: np.ndarray | None):
    """``(squares, weights, count)`` for the sparse transpose of a block: for
    each row j of ``X_T`` (a column of X), the sums over its stored entries
    of ``w_i (x_ij - center_j)^2`` and of ``w_i``, and their number; float64.
    With ``center`` None, the sums of ``w_i x_ij^2`` alone (and None, None),
    for each column of ``w`` where it has several (one per class).

    With a ``center``, each entry is centred before it is squared, so that a
    column with a large constant part keeps its spread (``E[x^2] - E[x]^2``
    would lose it to cancellation: see ``_block_moments``). A CSR block's
    transpose (CSC) is done whole: it is block-sized. A CSC X comes as one
    block, whose transpose (CSR) is done a few rows (columns of X) at a
    time: a quarter of a small block of values each, so that they and
    scipy's temporaries for their product stay within one.
    """
    d = X_T.shape[0]
    if X_T.format != "csr":
        spans = [(0, d, 0, X_T.nnz, X_T.indices, X_T.indptr, "csc")]
    else:
        budget = max(1, _SMALL_BLOCK_BYTES // (4 * X_T.data.itemsize))
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
    squares = np.empty((d, *w.shape[1:]))
    if center is None:
        for start, stop, low, high, indices, indptr, layout in spans:
            values = np.square(X_T.data[low:high], dtype=w.dtype)
            shape = (stop - start, X_T.shape[1])
            view = _compressed_view(X_T, layout, (values, indices, indptr), shape)
            summed = np.asarray(view @ w, dtype=np.float64)
            squares[start:stop] = summed.reshape(stop - start, *w.shape[1:])
        return squares, None, None
    weights, count = np.empty(d), np.empty(d, dtype=np.int64)
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
    """A chunk's ``(mean, spread, weight)``, where it lives (``_moments``)."""
    return _moments(X, weights, covariance, dtype, block_bytes, reweight)
