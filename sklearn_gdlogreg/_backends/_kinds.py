"""One backend per kind of X, chosen once: the passes over X as its methods.

:func:`backend_for` picks the kind when an input adapter validates X
(``_inputs``); the objective and the metrics then ask the backend for
passes and read its capability flags, never the type of X:

- :class:`DenseBackend`: a numpy array in memory, read in threads over
  groups of row blocks (``_blocks._HostThreads``); the kind that can do
  everything (row samples, products with X, covariances, class blocks).
- :class:`SparseBackend`: a scipy.sparse CSR or CSC matrix, read in the
  same threads, never densified; its structure can be read alone; a fit on
  it holds BLAS on one thread throughout (``solving``).
- Both (:class:`HostBackend`) take a small X as one block, its points
  stacked (``one_block``, ``stacked_sums``).
- :class:`DeviceBackend`: an array of another array-API library (PyTorch,
  CuPy), read on its device in large blocks.
- :class:`ChunkedBackend`: row chunks held elsewhere (``_dask.RowChunks``),
  each pass one round of tasks where the chunks live, the small per-chunk
  sums added on the client in chunk order.

Every pass counts itself in ``_blocks.PASSES`` by name (see
``counted_passes``), whatever the kind.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cached_property, partial
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import assert_all_finite

from .._array_api import host_dtype, like, namespace, to_numpy
from ._blocks import (
    _BLOCK_BYTES,
    _DEVICE_BLOCK_BYTES,
    _SMALL_BLOCK_BYTES,
    PASSES,
    _host_threads,
    _row_blocks,
    fits_one_block,
)
from ._hessians import (
    Probabilities,
    _chunk_information,
    _class_block_sums,
    _information_block_bytes,
    _information_blocks,
    _information_total,
)
from ._moments import (
    Reweight,
    _checked_moments,
    _chunk_moments,
    _moments,
    class_moments,
    exclusive_column_groups,
)
from ._passes import (
    Pointwise,
    _added,
    _device_linear_pass,
    _linear_pass,
    _stacked_sums,
)

Moments = tuple[np.ndarray, np.ndarray, float]


def _as_parts(summary, precision) -> list:
    """One summary of a pass already made, as ``_checked_moments`` takes a
    pass's parts in ``precision``."""
    return [summary]


class Backend:
    """X and the passes over it; one subclass per kind of X.

    Parameters
    ----------
    X : the data, of shape (n_samples, n_features), as the kind holds it
    block_bytes : int, optional
        The size of the blocks of rows the passes read; the kind's default
        if None (cache-sized on the host, 1 GiB on a device).
    """

    # Capabilities, where the kinds differ. ``dense``: evenly spaced rows are
    # views (metrics from a sample of the rows, :meth:`rows`), and the
    # columns' covariance and the class blocks can be formed.
    dense: ClassVar[bool] = False
    # ``sparse``: its structure can be read alone (one-hot groups); never
    # densified, so no centre is applied inside a pass. On the host (dense
    # or sparse) a product with X is one call (the scores a solver keeps,
    # ``HostBackend.product``).
    sparse: ClassVar[bool] = False
    # ``host``: X, its labels and its weights are numpy or scipy arrays in
    # memory (binary labels can be passed as signs).
    host: ClassVar[bool] = False
    # ``products``: a product with X is one call, in memory or on X's device
    # (the scores a solver keeps: :meth:`product`, :meth:`transposed_product`).
    products: ClassVar[bool] = False
    # ``moments_products``: the read of the columns' moments makes ``X^T R``
    # too, for a residual known before it (:meth:`column_moments_and_products`:
    # a numpy X, whose slices are in the cache for both). A sparse X's
    # product with its transpose costs less in a read of its own than its
    # blocks' products with the residual and the weights together do
    # (benchmarks/bench_matrix.py's sparse shapes).
    moments_products: ClassVar[bool] = False

    def __init__(self, X, block_bytes: int | None = None):
        self.X = X
        self.block_bytes = block_bytes

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    @property
    def dtype(self) -> np.dtype:
        """X's floating dtype, as numpy's (the solver's coefficients')."""
        return host_dtype(self.X)

    def linear_pass(
        self, y, weights, points, pointwise: Pointwise
    ) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """Loss and gradient pieces of a linear model at several points, one
        read of ``X``.

        Parameters
        ----------
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

        Returns
        -------
        list of ``(loss, grad_W, grad_b)``, one per point
            The sum of the blocks' losses (a float), ``X.T @ R`` and
            ``R.sum(axis=0)`` (numpy arrays, on the host).
        """
        PASSES["linear_pass"] += 1
        return self._linear_pass(y, weights, points, pointwise)

    def column_moments(
        self, weights, covariance: bool = False, reweight: Reweight | None = None
    ) -> Moments:
        """Weighted mean and variance (or covariance) of X's columns, one read.

        ``weights`` must sum to one. Returns the mean, of shape (n_features,),
        and the variances, of shape (n_features,), or with ``covariance`` (dense
        ``X`` only) the covariance matrix, of shape (n_features, n_features),
        all in float64. Each block is summarised (mean, then sums of squares
        or products about it, over the cached block) and the blocks are merged
        with the update of Chan, Golub and LeVeque, so there is no cancellation
        between blocks, and float64 features of magnitude up to about 1e150 do
        not overflow. Dense blocks are summarised in X's precision (``dtype``:
        float32 is twice as fast, and its rounding only blurs the
        preconditioner a little), or in float64 where float32 squares would
        overflow. Products are centred; squares are each column's sum of
        squares less its mean's part, and a column where that lost digits is
        centred before it is squared (see ``_block_moments``), so a column
        with a large constant part keeps its spread.

        ``reweight(X_block, weights_block)``, if given, gives each block's
        weights instead (for example the curvature of a loss at a point, see
        ``_objective.LogisticObjective.curvature_at``; X in memory or row
        chunks). The third value returned is the total weight: 1 without
        ``reweight``; where it is zero, so are the mean and the (co)variance.
        """
        PASSES["column_moments" if reweight is None else "curvature_moments"] += 1
        parts = partial(self._moments, weights, covariance, reweight)
        return self._checked_moments(parts, covariance, reweight is not None)

    def _checked_moments(self, parts, covariance: bool, reweighted: bool) -> tuple:
        """``_moments._checked_moments`` of this X's ``parts(precision)``."""
        if covariance and self.sparse:
            raise ValueError("covariance=True needs a dense X")
        return _checked_moments(
            parts,
            self.shape[1],
            self._moments_dtype,
            covariance,
            reweighted,
            self._assert_finite,
        )

    def column_moments_and_products(
        self, weights, R, covariance: bool = False
    ) -> tuple[Moments, np.ndarray]:
        """:meth:`column_moments` and, from the same read of X, ``X^T R``
        (``R`` of one row per sample, or a vector, zero where ``weights``
        is: the residual of a start whose scores read nothing of X),
        float64, of shape (n_features,) or (n_features, k). Kinds with
        ``moments_products`` only."""
        raise TypeError(f"{type(self).__name__} takes X^T R in a read of its own")

    def _assert_finite(self) -> None:
        """Raise scikit-learn's ``ValueError`` where X holds a NaN or an
        infinity: asked where X's moments are not finite. A dense numpy X
        is not checked before (``_inputs.MemoryInput.fit_data``): its first
        moments are its check; every other kind of X was checked (a sparse
        X in memory, device arrays and Dask chunks by their adapters)."""

    def information_matrix(
        self,
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
        if center is not None and self.sparse:
            raise ValueError("a center needs a dense X")
        if not self.host and (not callable(probabilities) or residuals is not None):
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
        parts = self._information_parts(
            summed, probabilities, center, fit_intercept, n_outputs
        )
        return _information_total(parts, n_outputs * (self.shape[1] + fit_intercept))

    def exclusive_column_groups(self) -> list[int]:
        """The bounds of X's groups of one-hot columns (see
        ``_moments.exclusive_column_groups``); ``[]`` but for sparse X."""
        return []

    def one_block(self, n_columns: int = 0):
        """X as the one block of a pass (see ``_blocks.one_block``), or None
        where the passes go block by block (every kind but a small X in
        memory, dense or sparse)."""
        return None

    @property
    def nbytes(self) -> int:
        """The bytes of X's values (as a dense array of its dtype)."""
        return self.shape[0] * self.shape[1] * self.dtype.itemsize

    def product(self, W: np.ndarray):
        """``X @ W``: one read of X (for the scores a solver keeps), in X's
        namespace and on its device (kinds with ``products``)."""
        raise TypeError("a product with X needs X in memory or on a device")

    def transposed_product(self, R) -> np.ndarray:
        """``R @ X`` (``R`` of one row per sample, or a vector, as
        :meth:`product` gives them): one read of X (for the gradient at kept
        scores), on the host (kinds with ``products``)."""
        raise TypeError("a product with X needs X in memory or on a device")

    def class_column_moments(
        self, weights, reweight: Reweight, n_classes: int
    ) -> list[Moments]:
        """``column_moments`` under each class's weights, in one read (a
        sparse X: see ``SparseBackend.class_column_moments``)."""
        raise TypeError("moments of each class need a sparse X in memory")

    def solving(self) -> AbstractContextManager:
        """The scope of a whole fit on this X (see ``_plan.solve``): nothing
        to hold but on a sparse X."""
        return nullcontext()

    def rows(self, stride: int) -> Backend:
        """The backend of every ``stride``-th row (views, no copy): X itself
        for a stride of 1; other strides need a dense X."""
        if stride == 1:
            return self
        raise TypeError("a sample of rows needs a dense X")

    @property
    def _moments_dtype(self) -> np.dtype:
        """The precision moments are summed in first: X's."""
        return self.dtype

    # What each kind implements.
    def _linear_pass(self, y, weights, points, pointwise):
        raise NotImplementedError

    def _moments(self, weights, covariance, reweight, precision) -> list:
        raise NotImplementedError

    def _information_parts(
        self, summed, probabilities, center, fit_intercept, n_outputs
    ) -> list:
        raise NotImplementedError


class HostBackend(Backend):
    """X in memory (numpy or scipy.sparse): the passes in threads over groups
    of row blocks, with BLAS on one thread in each."""

    host = True
    products = True

    def _linear_pass(self, y, weights, points, pointwise):
        return _linear_pass(
            self.X, y, weights, points, pointwise, self.block_bytes, threads=True
        )

    @property
    def _variances_block_bytes(self) -> int:
        # A block's summary costs a few arrays of n_features besides its
        # entries (its means, spreads and their merge), which small blocks of
        # a wide X would repeat many times: the linear pass's blocks (a dense
        # one squared in slices, see _moments._sums_and_squares). Sparse
        # blocks take half, their entries' squares a copy.
        return self.block_bytes or (_BLOCK_BYTES // 2 if self.sparse else _BLOCK_BYTES)

    def _moments(self, weights, covariance, reweight, precision, residual=None) -> list:
        block_bytes = self._variances_block_bytes
        if covariance:
            # A dense block is centred in a copy, and each thread holds its
            # (n_features, n_features) sums: small blocks.
            block_bytes = (self.block_bytes or _SMALL_BLOCK_BYTES) // 4
        return [
            _moments(
                self.X,
                weights,
                covariance,
                precision,
                block_bytes,
                reweight,
                True,
                residual,
            )
        ]

    def _information_parts(
        self, summed, probabilities, center, fit_intercept, n_outputs
    ) -> list:
        m = self.shape[1] + fit_intercept
        block_bytes = _information_block_bytes(self.X, n_outputs, m)
        # Each thread holds its own sums: in threads only where they are
        # small (dense X), one sum (and BLAS's threads) for the larger.
        if self.sparse or 8 * (n_outputs * m) ** 2 > _BLOCK_BYTES:
            return [summed(_row_blocks(self.X, block_bytes))]
        return _host_threads.map_groups(self.X, block_bytes, summed)

    @property
    def nbytes(self) -> int:
        """The bytes of X in memory (a sparse X's stored entries and their
        indices, in whichever format)."""
        if not self.sparse:
            return super().nbytes
        names = ("data", "indices", "indptr", "row", "col")
        arrays = [getattr(self.X, name, None) for name in names]
        return sum(array.nbytes for array in arrays if array is not None)

    def product(self, W: np.ndarray) -> np.ndarray:
        PASSES["product"] += 1
        if self.sparse:
            return np.asarray(self.X @ W)
        if W.ndim == 1 or W.shape[1] == 1:
            return self.X @ W
        # Block by block of rows (the passes' blocks), as (W^T X_b^T)^T:
        # the product with W's few columns as the rows on the left is the
        # one that OpenBLAS runs fast (so are the transposed product's
        # R^T X and the passes' W^T X_b^T; see the user guide, *Kept
        # scores on wide dense data*). Each block's transposition costs a
        # pass over its scores, small next to its X, and a temporary the
        # size of those scores, not of all of them.
        Z = np.empty((self.X.shape[0], W.shape[1]), dtype=np.result_type(self.X, W))
        for rows, _, X_b_T in _row_blocks(self.X, self.block_bytes):
            Z[rows] = (W.T @ X_b_T).T
        return Z

    def transposed_product(self, R: np.ndarray) -> np.ndarray:
        # A sparse X's as ``(X.T @ R.T).T``, scipy's product of a sparse
        # matrix and an array.
        PASSES["transposed_product"] += 1
        if self.sparse:
            return np.asarray(self._transposed @ R.T).T
        return R @ self.X

    @cached_property
    def _transposed(self):
        """``X.T``, made once: a view of X (a sparse one's over its arrays),
        whose making costs more than a small X's products."""
        return self.X.T

    def one_block(self, n_columns: int = 0):
        if not fits_one_block(self.X, self.block_bytes, n_columns):
            return None
        return self._whole()

    def _whole(self):
        """X as one block: its rows, X and its cached transpose."""
        return [(slice(0, self.shape[0]), self.X, self._transposed)]

    def stacked_sums(self, y, weights, W_T, b_all, spans, binary: bool, pointwise):
        """``_passes._stacked_sums`` over X as one block (the objective's
        path for a small X, see :meth:`one_block`), one read of X."""
        PASSES["stacked_sums"] += 1
        return _stacked_sums(
            y,
            weights,
            W_T,
            b_all,
            spans,
            binary,
            pointwise,
            self._whole(),
            self.block_bytes,
        )


class DenseBackend(HostBackend):
    """A numpy array in memory."""

    dense = True
    moments_products = True

    def column_moments_and_products(
        self, weights, R, covariance: bool = False
    ) -> tuple[Moments, np.ndarray]:
        PASSES["column_moments"] += 1
        parts = partial(self._moments, weights, covariance, None, residual=R)
        mean, spread, seen, *XtR = self._checked_moments(parts, covariance, False)
        if not XtR:  # no weight at all: nor any residual
            XtR = [np.zeros((self.shape[1], *np.shape(R)[1:]))]
        return (mean, spread, seen), XtR[0]

    def _assert_finite(self) -> None:
        assert_all_finite(self.X, input_name="X")

    def rows(self, stride: int) -> Backend:
        if stride == 1:
            return self
        return DenseBackend(self.X[::stride], self.block_bytes)

    def class_block_moments(
        self,
        weights,
        probabilities,
        center: np.ndarray | None,
        n_classes: int,
        units: np.ndarray | None = None,
    ) -> np.ndarray:
        """The multinomial Hessian's diagonal blocks, one per class, in one
        read of X (see ``_hessians._class_block_sums``)."""
        PASSES["class_block_moments"] += 1
        return _class_block_sums(
            self.X, weights, probabilities, center, n_classes, units
        )


class SparseBackend(HostBackend):
    """A scipy.sparse CSR or CSC matrix (or array) in memory."""

    sparse = True

    @property
    def _moments_dtype(self) -> np.dtype:
        # Summed in float64: the centred entries are new arrays.
        return np.dtype(np.float64)

    def exclusive_column_groups(self) -> list[int]:
        # Read once per X: the fits of a CV path share the backend.
        return list(self._exclusive_column_groups)

    @cached_property
    def _exclusive_column_groups(self) -> tuple[int, ...]:
        return tuple(exclusive_column_groups(self.X))

    def class_column_moments(
        self, weights, reweight: Reweight, n_classes: int
    ) -> list[Moments]:
        """``column_moments`` (variances) under each of the ``n_classes``
        columns of the weights ``reweight(X_block, weights_block)`` gives
        (for example each class's curvature at a point, see
        ``_objective.LogisticObjective.class_curvatures_at``): a list of
        ``(mean, variance, weight)``, one for each, from one read of X, or
        two where a column has a large constant part (see
        ``_moments.class_moments``; each counted). Summed in float64, in
        the blocks of ``column_moments``."""
        PASSES["class_moments"] += 1
        summaries, again = class_moments(
            self.X, weights, reweight, n_classes, self._variances_block_bytes
        )
        if again:
            PASSES["class_moments"] += 1
        # Summed in float64 already: the precision asked for is that one.
        return [
            _checked_moments(
                partial(_as_parts, summary),
                self.shape[1],
                np.float64,
                False,
                True,
                self._assert_finite,
            )
            for summary in summaries
        ]

    def solving(self) -> AbstractContextManager:
        # BLAS on one thread for the whole fit, not pass by pass: between
        # its passes a sparse fit works on vectors of coefficients, where
        # BLAS threads gain nothing, and BLAS threads woken there keep
        # spinning on the cores that the next pass's own threads need. (A
        # dense fit's BLAS products outside its passes do gain from them.)
        return _host_threads.limited()


class DeviceBackend(Backend):
    """An array of another array-API library (PyTorch, CuPy), on its device:
    large blocks, every point's columns in one product, and one transfer
    bringing the sums back to the host."""

    products = True

    def _linear_pass(self, y, weights, points, pointwise):
        return _device_linear_pass(
            self.X, y, weights, points, pointwise, self.block_bytes
        )

    def product(self, W: np.ndarray):
        # The scores stay on the device (see ``_objective``'s kept scores).
        PASSES["product"] += 1
        return self.X @ like(W, self.X)

    def transposed_product(self, R) -> np.ndarray:
        PASSES["transposed_product"] += 1
        return to_numpy(R @ self.X)

    def _moments(self, weights, covariance, reweight, precision) -> list:
        # A quarter of the pass's blocks: each is centred in a copy.
        block_bytes = (self.block_bytes or _DEVICE_BLOCK_BYTES) // 4
        return [_moments(self.X, weights, covariance, precision, block_bytes, reweight)]

    def _information_parts(
        self, summed, probabilities, center, fit_intercept, n_outputs
    ) -> list:
        return [summed(_row_blocks(self.X, _DEVICE_BLOCK_BYTES // n_outputs))]


class ChunkedBackend(Backend):
    """Row chunks held elsewhere (``_dask.RowChunks``): each chunk, with its
    labels and weights, passed where it lives (``X.map_chunks(function,
    *args)`` returns ``function(X_chunk, y_chunk, weights_chunk, *args)``
    for each chunk, in order); the labels and weights given to a pass are
    None."""

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.X.dtype)

    def _linear_pass(self, y, weights, points, pointwise):
        return _added(
            self.X.map_chunks(_linear_pass, points, pointwise, self.block_bytes)
        )

    def _moments(self, weights, covariance, reweight, precision) -> list:
        block_bytes = self.block_bytes or _SMALL_BLOCK_BYTES
        return self.X.map_chunks(
            _chunk_moments, covariance, precision, block_bytes, reweight
        )

    def _information_parts(
        self, summed, probabilities, center, fit_intercept, n_outputs
    ) -> list:
        return self.X.map_chunks(
            _chunk_information, probabilities, center, fit_intercept, n_outputs
        )


def backend_for(X, block_bytes: int | None = None) -> Backend:
    """The backend of ``X``'s kind: numpy, scipy.sparse, row chunks (any
    object with ``map_chunks``), or an array of another array-API library."""
    if type(X) is np.ndarray:
        return DenseBackend(X, block_bytes)
    if sp.issparse(X):
        return SparseBackend(X, block_bytes)
    if hasattr(X, "map_chunks"):
        return ChunkedBackend(X, block_bytes)
    if namespace(X) is not np:
        return DeviceBackend(X, block_bytes)
    raise TypeError(f"No backend for X of type {type(X).__name__}.")
