"""The loss's Hessians in the coefficients, in one read of X each: the
information matrix (binary, or multinomial with the classes coupled; with
the HC0 middle matrix where asked) and the multinomial Hessian's diagonal
blocks, one per class."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._array_api import astype, host_dtype, like, namespace, to_numpy
from ._blocks import (
    _BLOCK_BYTES,
    _SMALL_BLOCK_BYTES,
    _compressed_view,
    _host_threads,
    _row_blocks,
    _row_bytes,
)

# probabilities(X_block) -> the block's class probabilities, one column per
# class, for information_matrix; or every row's, one array (X on the host).
Probabilities = Callable[[Any], Any] | np.ndarray


def _information_total(parts, size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The information matrix (and the scores' outer products, or None)
    from the parts of a pass over X's blocks (:func:`_information_blocks`):
    their sums, zeros of shape ``(size, size)`` where X has no rows."""
    information, scores = _added_sums(parts)
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
    """``Backend.information_matrix``'s ``(information, scores)`` over ``blocks``
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
        coupled = _kron_rows(P * root, U)
        # + sum w p_k u u^T on the diagonal blocks.
        diagonal = _diagonal_blocks(U, w_b[:, None] * P)
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


def _class_block_sums(
    X: np.ndarray,
    weights,
    probabilities,
    center: np.ndarray | None,
    n_classes: int,
    units: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_i w_i p_ik (1 - p_ik) u_i u_i^T`` for each class k, one read of X.

    The diagonal blocks of ``Backend.information_matrix`` with ``n_outputs =
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
    summed = partial(_class_blocks, weights, probabilities, center, units)
    # A block's temporaries, each thread's: U (with units, in float32), one
    # class's scaled rows, and the probabilities and curvatures (2 K floats
    # a row, next to U's m).
    m = X.shape[1] + 1
    block_bytes = _SMALL_BLOCK_BYTES * m // (4 * (m + 2 * n_classes))
    parts = _host_threads.map_groups(X, block_bytes, summed)
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
    """:func:`_class_block_sums` over ``blocks``, summed in place (in
    float64; the products in float32 with ``units``)."""
    total = None
    for rows, X_b, _ in blocks:
        P = np.asarray(probabilities(X_b), dtype=np.float64)
        curvature = weights[rows][:, None] * P * (1 - P)
        if units is None:
            U = _augmented(X_b, center, center is not None)
        else:
            U = _scaled_rows(X_b, center, units)
            curvature = curvature.astype(np.float32)
        grams = _class_grams(U, curvature)
        if total is None:
            total = grams.astype(np.float64, copy=False)
        else:
            total += grams
        del U, P, grams  # before the next block's come
    return total


def _scaled_rows(X_b: np.ndarray, center, units: np.ndarray) -> np.ndarray:
    """``_augmented``'s ``U`` (an intercept's 1 where ``center`` is given)
    divided by ``units``, in float32: each entry centred and divided in
    float64 (whatever X's scale, the quotients are of order one) and rounded
    once, in slices of rows whose float64 copies stay small next to the
    block."""
    n, d = X_b.shape
    U = np.empty((n, units.shape[0]), dtype=np.float32)
    rows = max(1, _SMALL_BLOCK_BYTES // (16 * 8 * max(1, d)))
    for start in range(0, n, rows):
        part = slice(start, start + rows)
        scaled = X_b[part].astype(np.float64)
        if center is not None:
            scaled -= center
        scaled /= units[:d]
        U[part, :d] = scaled
    if center is not None:
        U[:, d] = 1 / units[d]
    return U


def _kron_rows(A, U):
    """The rows ``a_i kron u_i``, of shape ``(n, K m)`` (class by class,
    feature by feature): numpy's einsum where X is numpy (about half the
    time of the broadcast product, whose innermost axis has only m
    entries), the broadcast product in other namespaces."""
    xp = namespace(U)
    n = U.shape[0]
    if xp is np:
        return np.einsum("ik,ij->ikj", A, U).reshape(n, -1)
    return xp.reshape(A[:, :, None] * U[:, None, :], (n, -1))


def _diagonal_blocks(U, C):
    """``U^T diag(C[:, k]) U`` for each column k of ``C`` (non-negative), as
    :func:`_class_grams` gives them: where the m columns of U are at most
    the K of C, one product of C with the rows' outer products ``u_i u_i^T``
    (an array of n m^2 entries, no larger than the coupled rows of
    ``_dense_information``), in place of K products of m columns each,
    whose calls cost more than their arithmetic on narrow data."""
    n, m = U.shape
    if m > C.shape[1]:
        return _class_grams(U, C)
    xp = namespace(U)
    outer = xp.reshape(U[:, :, None] * U[:, None, :], (n, m * m))
    return xp.reshape(C.T @ outer, (C.shape[1], m, m))


def _class_grams(U, C):
    """``U^T diag(C[:, k]) U`` for each column k of ``C`` (non-negative): an
    array of shape ``(K, m, m)``, in U's namespace. Each the Gram matrix of
    U's rows scaled by ``sqrt(C[:, k])``: BLAS's symmetric product, half
    the multiplications of a general one, with one scaled copy of U at a
    time."""
    xp = namespace(U)
    roots = xp.sqrt(C)
    grams = []
    for k in range(C.shape[1]):
        V = U * roots[:, k : k + 1]
        grams.append(V.T @ V)
        del V
    return xp.stack(grams)
