"""Row blocks of X and the threads that read them: how every pass reads X.

Blocks are views (dense rows, or CSR arrays' slices), small enough to stay
in cache for a second product; on the host the passes run in threads over
groups of blocks, with BLAS on one thread in each.
"""

from __future__ import annotations

import collections
import contextvars
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

import numpy as np
import scipy.sparse as sp
import threadpoolctl

from .._array_api import host_dtype, to_numpy

# Every read of X by a pass of this package, counted by the pass's name: the
# benchmarks and tests read how many reads a fit made (counted_passes).
PASSES: collections.Counter[str] = collections.Counter()


@contextmanager
def counted_passes() -> Iterator[collections.Counter[str]]:
    """The passes over X made within the ``with`` block, by name: each
    ``linear_pass``, ``stacked_sums``, moments pass and product with X or
    its transpose is one read of X."""
    before = PASSES.copy()
    counted: collections.Counter[str] = collections.Counter()
    try:
        yield counted
    finally:
        counted.update(PASSES - before)


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
    user's) share the limit: the first sets it, the last restores it. A
    sparse fit holds it for its whole solve (``SparseBackend.solving``): the
    limit is the process's, so meanwhile the user's other BLAS calls run on
    one thread too.
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


def fits_one_block(X, block_bytes: int | None = None, n_columns: int = 0) -> bool:
    """Whether a numpy ``X`` (or a CSR or CSC matrix: its stored entries and
    their indices) and its ``n_columns`` scores a row fit in one block.
    Then a pass over it as one block (:func:`one_block`) skips the blocks'
    and threads' bookkeeping, a fixed cost per call that is large next to a
    small X's arithmetic, and loses no thread: a pass over fewer than two
    blocks a thread runs in one (``map_groups``)."""
    if type(X) is np.ndarray:
        size = X.shape[0] * X.shape[1] * X.itemsize
    elif sp.issparse(X) and X.format in ("csr", "csc"):
        size = X.data.nbytes + X.indices.nbytes
    else:
        return False
    return size + 8 * n_columns * X.shape[0] <= (block_bytes or _BLOCK_BYTES)


def one_block(X, block_bytes: int | None = None, n_columns: int = 0):
    """``X`` as the one block of a pass, or None where it does not fit one
    (see :func:`fits_one_block`)."""
    if not fits_one_block(X, block_bytes, n_columns):
        return None
    return [(slice(0, X.shape[0]), X, X.T)]


def _host64(x) -> np.ndarray:
    """``x`` (a new array of a pass) in float64 on the host: itself where it
    is one already (a numpy array's conversion alone is a dozen calls)."""
    if isinstance(x, np.ndarray):
        return x.astype(np.float64, copy=False)
    return to_numpy(x).astype(np.float64)
