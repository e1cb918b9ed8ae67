"""The linear passes: the scores ``X W + b`` of one or more points, a
pointwise step on each block of them, and the sums ``X^T R`` and ``sum(R)``,
in one read of X (on the host, in threads over row blocks; on a device, in
large blocks; on dask, where the chunks live)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._array_api import like, namespace, to_numpy
from ._blocks import (
    _DEVICE_BLOCK_BYTES,
    _SMALL_BLOCK_BYTES,
    _host_threads,
    _row_blocks,
    _with_room_for,
    one_block,
)

# pointwise(Z_block, y_block, weights_block) -> (loss_sum, R_block), in the
# namespace of the blocks (numpy, or X's array-API library); loss_sum may be
# a 0-d array, so that a device never waits for it. Points with a 1-D W
# (binary) come to a host pass all at once, one row of Z_block each (shape
# (n_points, n_rows)), and loss_sum is then an array of one sum per row. On
# the host it runs with numpy's overflow warnings off, set once per pass:
# entering np.errstate is a fixed cost, paid once rather than per block (and
# it slows the ufuncs that follow).
Pointwise = Callable[[Any, Any, Any], tuple[Any, Any]]


@dataclass(frozen=True)
class OffsetLabels:
    """Labels with each row's offset, a known term added to its scores:
    the passes cut them into blocks of rows as they cut plain labels
    (``labels[rows]``), and :func:`shifted` adds the offset to a block's
    scores before the pointwise step."""

    y: Any  # the labels (class codes, or signs)
    offset: Any  # (n_rows,) for one output, (n_rows, n_outputs) else

    def __getitem__(self, rows) -> OffsetLabels:
        return OffsetLabels(self.y[rows], self.offset[rows])

    @property
    def shape(self) -> tuple[int, ...]:
        return self.y.shape


def shifted(pointwise: Pointwise) -> Pointwise:
    """``pointwise`` of scores shifted by the offsets that come with the
    labels (:class:`OffsetLabels`); plain labels pass through."""

    def pointwise_with_offset(Z, labels, weights):
        if not isinstance(labels, OffsetLabels):
            return pointwise(Z, labels, weights)
        # Binary points come one a row of Z (see Pointwise): the offset of
        # their rows broadcasts over them.
        if isinstance(Z, np.ndarray):
            Z += labels.offset  # the block's own scores: overwritten anyway
        else:
            Z = Z + labels.offset
        return pointwise(Z, labels.y, weights)

    return pointwise_with_offset


def _linear_pass(X, y, weights, points, pointwise, block_bytes=None, threads=False):
    """``Backend.linear_pass`` of an X in memory: in threads over groups of row
    blocks if ``threads`` (see ``_HostThreads``), the groups' sums added in order."""
    n_columns = sum(1 if W.ndim == 1 else W.shape[1] for W, _ in points)
    whole = one_block(X, block_bytes, n_columns)
    if whole is not None:
        return _summed_blocks(y, weights, points, pointwise, block_bytes, whole)
    summarise = partial(_summed_blocks, y, weights, points, pointwise, block_bytes)
    block_bytes = _with_room_for(X, block_bytes, n_columns)
    if threads:
        return _added(_host_threads.map_groups(X, block_bytes, summarise))
    return summarise(_row_blocks(X, block_bytes))


def _added(parts: list) -> list:
    """Per point, the sums of the parts' ``(loss, grad_W, grad_b)``, in order."""
    if len(parts) == 1:
        return parts[0]
    return [
        (
            float(sum(loss for loss, _, _ in sums)),
            sum(W for _, W, _ in sums),
            sum(b for _, _, b in sums),
        )
        for sums in zip(*parts, strict=True)
    ]


def _summed_blocks(y, weights, points, pointwise, block_bytes, blocks):
    """Per point, the sums of the loss, ``X.T @ R`` and ``R`` over ``blocks``.

    The points' coefficients are stacked into one matrix (see
    :func:`_stacked_sums`).
    """
    n_features = points[0][0].shape[0]
    columns = [W.reshape(n_features, -1) for W, _ in points]
    spans = _spans(columns)
    W_T = np.ascontiguousarray(np.concatenate(columns, axis=1).T)
    b_all = np.concatenate([np.ravel(b) for _, b in points])[:, None]
    binary = all(W.ndim == 1 for W, _ in points)
    losses, grads_T, grads_b = _stacked_sums(
        y, weights, W_T, b_all, spans, binary, pointwise, blocks, block_bytes
    )
    return [
        (
            float(loss),
            grads_T[start:end].T.reshape(W.shape),
            grads_b[start:end].reshape(b.shape),
        )
        for loss, (W, b), (start, end) in zip(losses, points, spans, strict=True)
    ]


def _stacked_sums(
    y, weights, W_T, b_all, spans, binary: bool, pointwise, blocks, block_bytes=None
):
    """``(losses, grads_T, grads_b)``: the sums over ``blocks`` of each point's
    loss, ``R^T X`` and ``R``, for points stacked into one matrix.

    ``W_T`` (C-ordered) has one row per output of each point, ``b_all`` the
    intercepts as a column, and point i owns the rows ``spans[i]`` (one each
    if ``binary``). Each block takes two products whatever the number of
    points: ``Z^T = W^T X_b^T``, then ``R^T X_b`` (each row of ``Z^T`` is one
    output of one point, a contiguous vector for the pointwise step). A
    second point then adds arithmetic on a block already in cache, where
    separate matrix-vector products would read X again. On wide rows the
    two products each read the block from memory, so wide fits keep their
    scores instead (see ``_plan.keeps_scores``). Binary points go through
    ``pointwise`` all at once: one set of numpy calls for all of them.
    """
    losses = np.zeros(len(spans))
    grads_T = grads_b = None
    with np.errstate(over="ignore"):  # see Pointwise
        for rows, X_b, X_b_T in blocks:
            y_b, w_b = y[rows], weights[rows]
            Z_T = _scores_T(W_T, X_b)
            Z_T += b_all
            if binary:
                loss, R_T = _pointwise_by_blocks(
                    pointwise, Z_T, y_b, w_b, X_b, block_bytes, axis=1
                )
                losses += loss
            else:  # each point's (n_rows, K) scores in turn
                for i, (start, end) in enumerate(spans):
                    Z = Z_T[start:end].T
                    loss, R = _pointwise_by_blocks(
                        pointwise, Z, y_b, w_b, X_b, block_bytes
                    )
                    losses[i] += float(loss)
                    if R is not Z:
                        Z[...] = R  # Z_T holds the residuals now
                R_T = Z_T
            products, sums = _residual_products(R_T, X_b, X_b_T), R_T.sum(axis=1)
            if grads_T is None:
                grads_T, grads_b = products, sums
            else:
                grads_T += products
                grads_b += sums
            del Z_T, R_T, products  # before the next block's scores come
    if grads_T is None:  # no rows
        grads_T, grads_b = np.zeros_like(W_T), np.zeros(len(b_all), dtype=W_T.dtype)
    return losses, grads_T, grads_b


def _spans(columns) -> list[tuple[int, int]]:
    """The ``(start, end)`` of each matrix's columns once they are stacked."""
    spans, end = [], 0
    for c in columns:
        spans.append((end, end + c.shape[1]))
        end += c.shape[1]
    return spans


def _scores_T(W_T, X_b):
    """``W_T @ X_b.T``: one row per output (C-ordered for dense X)."""
    if sp.issparse(X_b):  # sparse times dense: X_b @ W, seen transposed (no copy)
        return (X_b @ W_T.T).T
    return W_T @ X_b.T


def _residual_products(R_T, X_b, X_b_T):
    """``R_T @ X_b``: one row per output."""
    if sp.issparse(X_b):
        return (X_b_T @ R_T.T).T
    return R_T @ X_b


def _pointwise_by_blocks(
    pointwise: Pointwise, Z, y, weights, X_b, block_bytes=None, axis: int = 0
):
    """``pointwise`` over blocks of rows of ``Z``, the residual written into Z.

    The rows are Z's ``axis``: 1 for binary points' scores, one point a row
    (see ``_loss.binary_pointwise``).

    Z can be large next to its block of X (many classes, few features), or
    have n_samples rows (a CSC X comes as one block): taking the pointwise
    function on slices of Z of a quarter of a small block (an eighth for a
    CSC X) keeps its temporaries (several the size of the slice) small. No
    smaller: each slice costs a dozen numpy calls.
    """
    slice_bytes = (block_bytes or _SMALL_BLOCK_BYTES) // 8
    if Z.nbytes <= slice_bytes:  # the common case, and a small X: at once
        return pointwise(Z, y, weights)
    if not (sp.issparse(X_b) and X_b.format == "csc"):
        slice_bytes *= 2
    n_rows = Z.shape[axis]
    step = max(1, slice_bytes // (Z.itemsize * (Z.size // max(1, n_rows))))
    if n_rows <= step:
        return pointwise(Z, y, weights)
    loss = 0.0
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        part = (slice(None),) * axis + (rows,)
        loss_b, R_b = pointwise(Z[part], y[rows], weights[rows])
        loss += loss_b
        Z[part] = R_b
    return loss, Z


def pointwise_in_slices(pointwise: Pointwise, Z, y, weights):
    """``pointwise`` on a numpy ``Z`` of all the rows, in slices (see
    ``_pointwise_by_blocks``), overflow warnings off (see Pointwise): the
    loss sum, and the residual written into ``Z``. On a device, at once
    (its passes' blocks are far larger than the scores of a fit's X)."""
    if namespace(Z) is not np:
        return pointwise(Z, y, weights)
    with np.errstate(over="ignore"):
        return _pointwise_by_blocks(pointwise, Z, y, weights, Z)


def _device_linear_pass(X, y, weights, points, pointwise, block_bytes=None):
    """``Backend.linear_pass`` for an array of another array-API library, on its device.

    The points' columns are stacked into one matrix, so that each (large)
    row block takes one product ``X_b @ W`` and one ``R.T @ X_b`` whatever
    the number of points (as on the host, see :func:`_stacked_sums`): a
    device is bound by reading X, not by arithmetic. ``R.T @ X_b``, not
    ``X_b.T @ R``: of the two orders, the one PyTorch runs fast on the CPU.
    The sums stay on the device until one transfer brings them all back to
    the host.
    """
    xp = namespace(X)
    n_features = X.shape[1]
    columns = [W.reshape(n_features, -1) for W, _ in points]
    spans = _spans(columns)  # each point's columns
    ends = [end for _, end in spans]
    W_all = like(np.concatenate(columns, axis=1), X)
    b_all = like(np.concatenate([np.ravel(b) for _, b in points]), X)
    sums = None
    for rows, X_b, _ in _row_blocks(X, block_bytes or _DEVICE_BLOCK_BYTES):
        Z = X_b @ W_all + b_all
        losses, residuals = [], []
        for (W, _), (start, end) in zip(points, spans, strict=True):
            Z_i = Z[:, start:end] if W.ndim == 2 else Z[:, start]
            loss, R = pointwise(Z_i, y[rows], weights[rows])
            losses.append(xp.reshape(loss, (1,)))
            residuals.append(xp.reshape(R, (-1, end - start)))
        R = xp.concat(residuals, axis=1)
        block = xp.concat([*losses, xp.reshape(R.T @ X_b, (-1,)), xp.sum(R, axis=0)])
        sums = block if sums is None else sums + block
    # Back on the host: the losses, then R.T @ X row by row, then sum(R).
    host = to_numpy(sums).astype(columns[0].dtype, copy=False)
    losses, grads_W, grads_b = np.split(
        host, [len(points), len(points) + n_features * ends[-1]]
    )
    grads_W = grads_W.reshape(ends[-1], n_features).T
    return [
        (
            float(loss),
            grads_W[:, start:end].reshape(W.shape),
            grads_b[start:end].reshape(b.shape),
        )
        for loss, (W, b), (start, end) in zip(losses, points, spans, strict=True)
    ]
