"""Data backends: the passes over ``X`` that the objective needs.

Everything the objective and the step metrics ask of the data goes through
the passes here, so that supporting a new kind of ``X`` means touching this
module only:

- :func:`linear_pass` computes, for one or more coefficient pairs ``(W, b)``,
  the linear predictions ``Z = X @ W + b`` block by block, hands each block to
  a *pointwise* function supplied by the objective (which returns the block's
  loss and residual ``R``), and accumulates ``X.T @ R`` and ``sum(R)``.
  ``X`` is read in row blocks small enough to stay in cache, so one call
  reads ``X`` from memory once, whatever the number of points (their
  coefficients are stacked into one matrix: two products per block), and
  never allocates a temporary larger than a block.
- :func:`column_moments` gives the weighted mean and variance (or
  covariance) of each column in one read of ``X``, with the samples'
  weights or with weights computed block by block (the curvature of the
  loss at a point); they only shape the preconditioner (they do not change
  the solution).
- :func:`class_coupled_moments` gives the multinomial loss's Hessian with
  the classes coupled, in one read of a dense ``X`` (for a few
  coefficients: it is ``K^2`` covariances), and :func:`class_block_moments`
  its diagonal blocks, one per class (``K`` covariances); preconditioners
  too.

One more function reads only the structure of a sparse ``X``:
:func:`exclusive_column_groups` finds one-hot encoded features, whose
covariance the metric keeps.

On the host all run in threads over groups of row blocks, with BLAS on one
thread in each (``_HostThreads``): numpy and BLAS release the GIL, and the
threads read X at the memory bandwidth of all the cores, where one thread
reads it at that of one.

No pass copies ``X``: dense blocks are views, and sparse blocks are views
of the CSR arrays (see :func:`_compressed_view`). For a dask array, each
call maps the same blocked pass over X's row chunks where they live and sums
the small per-chunk results on the client, in chunk order: one round of
tasks per call, and X never leaves the workers (``X.map_chunks``, see
``_dask.RowChunks``). For an array of another array-API library (PyTorch,
CuPy; see ``_array_api``), the pass runs on X's device in large blocks, with
every point's columns in one product, and one transfer brings the sums back
to the host (:func:`_device_linear_pass`).
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import threadpoolctl

from ._array_api import astype, host_dtype, like, namespace, to_numpy

# The passes read X in blocks of rows of a few MiB: large enough that the
# Python work per block (a dozen numpy calls) is small next to the block's
# products, small enough that a block stays in the cache for its second
# product, so that a pass reads X from memory once.
_BLOCK_BYTES = 2**23
# Smaller blocks where a block's temporaries are as large as the block: the
# moments pass centres each block in a copy, and a CSC X (one block) takes
# its pointwise step in slices.
_SMALL_BLOCK_BYTES = 2**21
# On a device (a GPU) each block costs a few kernel launches and a block's
# temporaries are small next to its memory: blocks of 1 GiB of X.
_DEVICE_BLOCK_BYTES = 2**30

# reweight(X_block, weights_block) -> the block's weights for column_moments.
Reweight = Callable[[Any, Any], Any]

# pointwise(Z_block, y_block, weights_block) -> (loss_sum, R_block), in the
# namespace of the blocks (numpy, or X's array-API library); loss_sum may be
# a 0-d array, so that a device never waits for it. Points with a 1-D W
# (binary) come to a host pass all at once, one row of Z_block each (shape
# (n_points, n_rows)), and loss_sum is then an array of one sum per row. On
# the host it runs with numpy's overflow warnings off, set once per pass:
# entering np.errstate is a fixed cost, paid once rather than per block (and
# it slows the ufuncs that follow).
Pointwise = Callable[[Any, Any, Any], tuple[Any, Any]]


def _compressed_view(like, layout: str, arrays, shape):
    """A CSR or CSC (``layout``) matrix or array, as ``like``, over ``arrays``.

    ``arrays`` are ``(data, indices, indptr)`` and are used as they are, not
    copied: scipy's constructor copies arrays that are slices of larger ones
    (``_prune_array``), but assigning the documented ``data``, ``indices``
    and ``indptr`` attributes of an empty matrix does not.
    """
    kind = "array" if isinstance(like, sp.sparray) else "matrix"
    view = getattr(sp, f"{layout}_{kind}")(shape, dtype=like.dtype)
    view.data, view.indices, view.indptr = arrays
    return view


def _csr_rows(X, rows: slice):
    """Rows ``rows`` of CSR ``X`` and their transpose (CSC), as views."""
    start, stop = X.indptr[rows.start], X.indptr[rows.stop]
    arrays = (
        X.data[start:stop],
        X.indices[start:stop],
        X.indptr[rows.start : rows.stop + 1] - start,
    )
    n_rows = rows.stop - rows.start
    block = _compressed_view(X, "csr", arrays, (n_rows, X.shape[1]))
    transpose = _compressed_view(X, "csc", arrays, (X.shape[1], n_rows))
    return block, transpose


def _row_bytes(X) -> float:
    """The bytes of one row of ``X`` (on average, for a sparse X)."""
    if sp.issparse(X):
        return (X.data.itemsize + X.indices.itemsize) * X.nnz / max(1, X.shape[0])
    return X.shape[1] * host_dtype(X).itemsize


def _block_rows(X, block_bytes: int | None = None) -> int:
    """The number of rows of a block of about ``block_bytes`` (by default
    ``_BLOCK_BYTES``); all the rows for a CSC matrix."""
    block_bytes = block_bytes or _BLOCK_BYTES
    if sp.issparse(X) and X.format == "csc":
        return max(1, X.shape[0])
    # Sparse blocks: half the size, as a sparse block's temporaries (its
    # squares, the float64 copy scipy makes of float32 data) are large next
    # to it.
    n_bytes = block_bytes / 2 if sp.issparse(X) else block_bytes
    return max(1, int(n_bytes // max(1.0, _row_bytes(X))))


def _with_room_for(X, block_bytes: int | None, n_columns: int) -> int:
    """``block_bytes`` less the room of ``n_columns`` float64 values a row:
    a block's scores (every output of every point) are as large as the block
    itself with many outputs and few features (20 classes of 50 features)."""
    block_bytes = block_bytes or _BLOCK_BYTES
    row = _row_bytes(X)
    return max(1, int(block_bytes * row / (row + 8 * n_columns)))


def _row_blocks(
    X, block_bytes: int | None = None, rows: slice | None = None
) -> Iterator[tuple[slice, Any, Any]]:
    """Yield ``(rows, X[rows], X[rows].T)`` for blocks of about ``block_bytes``
    (by default ``_BLOCK_BYTES``), over all of X or over the range ``rows``.

    CSC matrices cannot be cut into row blocks cheaply and come as one block
    (so their temporaries have n_samples rows).
    """
    n_samples = X.shape[0]
    if sp.issparse(X) and X.format == "csc":
        yield slice(0, n_samples), X, X.T
        return
    step = _block_rows(X, block_bytes)
    first, last = (0, n_samples) if rows is None else (rows.start, rows.stop)
    for start in range(first, last, step):
        rows = slice(start, min(start + step, last))
        if sp.issparse(X):
            yield (rows, *_csr_rows(X, rows))
        else:
            X_b = X[rows, :]
            yield rows, X_b, X_b.T


class _HostThreads:
    """Threads for the passes over an X in memory, BLAS on one thread in each.

    A pass splits X's row blocks into one contiguous group per thread and
    adds the groups' sums in their order, so that it gives the same result on
    every run with the same number of threads. It uses as many threads as
    BLAS may (so a user's ``threadpoolctl.threadpool_limits`` holds) and
    limits BLAS to one thread meanwhile, so that the threads do not fight
    over the cores. Passes that run at once (fits in several threads of the
    user's) share the limit: the first sets it, the last restores it.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._active = 0
        self._threads = 1
        self._limiter = None
        self._controller = None
        self._pool = None
        self._pool_pid = None

    def _blas_threads(self) -> int:
        if self._controller is None:
            self._controller = threadpoolctl.ThreadpoolController()
        counts = [
            lib.num_threads
            for lib in self._controller.select(user_api="blas").lib_controllers
        ]
        return max(counts, default=1)

    def _executor(self) -> ThreadPoolExecutor:
        # A forked child inherits the pool but not its threads: a new one.
        if self._pool is None or self._pool_pid != os.getpid():
            self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
            self._pool_pid = os.getpid()
        return self._pool

    @contextmanager
    def limited(self) -> Iterator[int]:
        """The number of threads to use; BLAS on one thread meanwhile."""
        with self._lock:
            if self._active == 0:
                self._threads = self._blas_threads()
                if self._threads > 1:
                    self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._active += 1
            threads = self._threads
        try:
            yield threads
        finally:
            with self._lock:
                self._active -= 1
                if self._active == 0 and self._limiter is not None:
                    self._limiter.restore_original_limits()
                    self._limiter = None

    def map_groups(self, X, block_bytes, function) -> list:
        """``function(blocks)`` for each group of X's row blocks, in order.

        Each of T threads reads blocks of ``block_bytes / T``, so that the
        blocks in flight (and their temporaries) take no more room than one
        block of a single thread. One group (no threads) when X is smaller
        than two blocks per thread (waking threads would cost more than they
        save) or is CSC (one block).
        """
        block_bytes = block_bytes or _BLOCK_BYTES
        n_samples = X.shape[0]
        n_blocks = n_samples / _block_rows(X, block_bytes)
        if n_blocks < 2 * _MIN_THREADS or (sp.issparse(X) and X.format == "csc"):
            return [function(_row_blocks(X, block_bytes))]
        with self.limited() as threads:
            threads = min(threads, int(n_blocks // 2))
            if threads < _MIN_THREADS:
                return [function(_row_blocks(X, block_bytes))]
            edges = [n_samples * i // threads for i in range(threads + 1)]
            groups = [
                _row_blocks(X, block_bytes // threads, slice(start, stop))
                for start, stop in pairwise(edges)
            ]
            # Each thread runs in a copy of the caller's context: numpy's
            # error state (np.errstate) is a context variable.
            contexts = [contextvars.copy_context() for _ in groups]
            return list(
                self._executor().map(_run_in, contexts, [function] * threads, groups)
            )


def _run_in(context: contextvars.Context, function, *args):
    return context.run(function, *args)


_MIN_THREADS = 2
_host_threads = _HostThreads()


def linear_pass(
    X,
    y: np.ndarray,
    weights: np.ndarray,
    points: Sequence[tuple[np.ndarray, np.ndarray]],
    pointwise: Pointwise,
    block_bytes: int | None = None,
) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """Loss and gradient pieces of a linear model at several points, one read of ``X``.

    Parameters
    ----------
    X : {ndarray, sparse, array-API array, row chunks} of shape (n_samples, n_features)
    y, weights : arrays of shape (n_samples,), like X
        Labels and sample weights, handed to ``pointwise`` block by block
        (on X's device for an array-API X; row chunks hold their own, and
        these are None).
    points : sequence of ``(W, b)``, numpy arrays
        ``W`` of shape (n_features,) or (n_features, n_outputs), ``b`` of
        shape (1,) or (n_outputs,) to match.
    pointwise : callable
        ``pointwise(Z_block, y_block, weights_block) -> (loss_sum, R_block)``,
        with ``R_block`` of the shape of ``Z_block``. It may overwrite
        ``Z_block``.
    block_bytes : int, default=None
        The size of a block of rows; by default a few MiB on the host
        (``_BLOCK_BYTES``, cache-sized), 1 GiB on a device.

    Returns
    -------
    list of ``(loss, grad_W, grad_b)``, one per point
        The sum of the blocks' losses (a float), ``X.T @ R`` and
        ``R.sum(axis=0)`` (numpy arrays, on the host).
    """
    if is_row_chunks(X):
        return _added(X.map_chunks(_linear_pass, points, pointwise, block_bytes))
    if namespace(X) is not np:  # PyTorch, CuPy, ...: on X's device
        return _device_linear_pass(X, y, weights, points, pointwise, block_bytes)
    return _linear_pass(X, y, weights, points, pointwise, block_bytes, threads=True)


def _linear_pass(X, y, weights, points, pointwise, block_bytes=None, threads=False):
    """:func:`linear_pass` of an X in memory: in threads over groups of row
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
    :func:`stacked_sums`).
    """
    n_features = points[0][0].shape[0]
    columns = [W.reshape(n_features, -1) for W, _ in points]
    spans = _spans(columns)
    W_T = np.ascontiguousarray(np.concatenate(columns, axis=1).T)
    b_all = np.concatenate([np.ravel(b) for _, b in points])[:, None]
    binary = all(W.ndim == 1 for W, _ in points)
    losses, grads_T, grads_b = stacked_sums(
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


def stacked_sums(
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


def one_block(X, block_bytes: int | None = None, n_columns: int = 0):
    """``X`` as the one block of a pass (see ``stacked_sums``), or None if a
    dense numpy ``X`` and its ``n_columns`` scores a row do not fit in one
    block (then a pass skips the blocks' and threads' bookkeeping, a fixed
    cost per call that is large next to a small X's arithmetic)."""
    if type(X) is not np.ndarray or X.shape[0] * (
        X.shape[1] * X.itemsize + 8 * n_columns
    ) > (block_bytes or _BLOCK_BYTES):
        return None
    return [(slice(0, X.shape[0]), X, X.T)]


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
    loss sum, and the residual written into ``Z``."""
    with np.errstate(over="ignore"):
        return _pointwise_by_blocks(pointwise, Z, y, weights, Z)


def _device_linear_pass(X, y, weights, points, pointwise, block_bytes=None):
    """:func:`linear_pass` for an array of another array-API library, on its device.

    The points' columns are stacked into one matrix, so that each (large)
    row block takes one product ``X_b @ W`` and one ``R.T @ X_b`` whatever
    the number of points (as on the host, see :func:`stacked_sums`): a
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


def class_coupled_moments(
    X, weights, probabilities, center: np.ndarray | None, n_classes: int
) -> np.ndarray:
    """``sum_i w_i (diag(p_i) - p_i p_i^T) kron u_i u_i^T``, in one read of X.

    The multinomial loss's Hessian in the coefficients, all classes coupled:
    ``p_i`` are sample i's class probabilities, ``probabilities(X_block)``
    (in the block's namespace), and ``u_i = [x_i - center, 1]`` (``x_i``
    itself if ``center`` is None: no intercept). Rows and columns are
    ordered class by class, feature by feature (``k * len(u) + j``). A numpy
    float64 array of shape ``(K m, K m)``, ``m = len(u)``: ``K^2`` times the
    covariance's size and cost, so only for a few coefficients. Dense X:
    numpy (in threads over groups of row blocks), row chunks, or an array of
    another array-API library (on its device, in its precision).
    """
    summed = partial(_coupled_blocks, weights, probabilities, center, n_classes)
    if is_row_chunks(X):
        return sum(X.map_chunks(_chunk_coupled, probabilities, center, n_classes))
    if namespace(X) is not np:
        return summed(_row_blocks(X, _DEVICE_BLOCK_BYTES // n_classes))
    return sum(_host_threads.map_groups(X, _coupled_block_bytes(n_classes), summed))


def _coupled_block_bytes(n_classes: int) -> int:
    # A block's products (n_rows, K m) are K times the block, and the block
    # is copied to float64 and centred: blocks of a 2 K-th of a small block.
    return _SMALL_BLOCK_BYTES // (2 * n_classes)


def _chunk_coupled(X, y, weights, probabilities, center, n_classes):
    blocks = _row_blocks(X, _coupled_block_bytes(n_classes))
    return _coupled_blocks(weights, probabilities, center, n_classes, blocks)


def _augmented(X_b, center):
    """``U = [X_b - center, 1]`` (``X_b`` itself if ``center`` is None: no
    intercept), float64 on the host, in X_b's precision on a device."""
    xp = namespace(X_b)
    U = astype(X_b, np.float64) if xp is np else X_b
    if center is None:
        return U
    dtype = host_dtype(U)
    ones = like(np.ones((U.shape[0], 1)), U, dtype)
    return xp.concat([U - like(center, U, dtype), ones], axis=1)


def _coupled_blocks(weights, probabilities, center, n_classes: int, blocks):
    """:func:`class_coupled_moments` over ``blocks`` (0.0 if there are none)."""
    hessian: Any = 0.0
    for rows, X_b, _ in blocks:
        xp = namespace(X_b)
        U = _augmented(X_b, center)
        P = astype(probabilities(X_b), host_dtype(U))
        w_b = astype(weights[rows], host_dtype(U))
        # -sum w p p^T kron u u^T: the Gram matrix of the rows sqrt(w) p kron u.
        root = xp.sqrt(w_b)[:, None]
        coupled = xp.reshape((P * root)[:, :, None] * U[:, None, :], (U.shape[0], -1))
        # + sum w p_k u u^T on the diagonal blocks.
        diagonal = _class_grams(U, w_b[:, None] * P)
        block = to_numpy(coupled.T @ coupled).astype(np.float64, copy=False)
        np.negative(block, out=block)
        m = U.shape[1]
        for k, square in enumerate(to_numpy(diagonal)):
            block[k * m : (k + 1) * m, k * m : (k + 1) * m] += square
        if isinstance(hessian, float):
            hessian = block
        else:  # in place: (K m)^2 sums are large next to a narrow X's blocks
            hessian += block
        del coupled, diagonal, block  # before the next block's come
    return hessian


def class_block_moments(
    X: np.ndarray,
    weights,
    probabilities,
    center: np.ndarray | None,
    n_classes: int,
    units: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_i w_i p_ik (1 - p_ik) u_i u_i^T`` for each class k, one read of X.

    The diagonal blocks of :func:`class_coupled_moments` (same ``p_i`` and
    ``u_i``): a numpy float64 array of shape ``(K, m, m)``, K covariances'
    cost. A numpy X, in threads over groups of row blocks.

    With ``units`` (one positive number for each of u's m entries, such as
    the columns' standard deviations), the products run in float32 on ``u``
    divided by them, and the sums come back multiplied: they are the whole
    cost, and float32 halves it; in those units float32 neither overflows
    nor underflows, whatever X's scale. Its rounding only blurs the blocks,
    which shape the steps of a fit and do not move its minimum.
    """
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
        U = _augmented(X_b, center)
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


def _host64(x) -> np.ndarray:
    return to_numpy(x).astype(np.float64)


def is_row_chunks(X) -> bool:
    """Whether ``X`` is held by row chunks elsewhere (``_dask.RowChunks``).

    Such an X holds its chunks' labels and weights too, and runs a function
    on each chunk where it lives: ``X.map_chunks(function, *args)`` returns
    ``function(X_chunk, y_chunk, weights_chunk, *args)`` for each chunk, in
    order.
    """
    return hasattr(X, "map_chunks")


def _chunk_moments(X, y, weights, covariance: bool, dtype, block_bytes, reweight):
    return _moments(X, weights, covariance, dtype, block_bytes, reweight)
