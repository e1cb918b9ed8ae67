"""Data backends: the passes over ``X`` that the objective needs.

Everything the objective and the step metrics ask of the data goes through
a backend, one object per kind of X chosen once (:func:`backend_for`, by
the input adapters of ``_inputs``), with the passes as its methods and
capability flags where the kinds differ (``dense``, ``sparse``, ``host``;
see ``_kinds``). Supporting a new kind of ``X`` means a new backend here
and touches nothing else (``_blocks``: row blocks and threads; ``_passes``:
the linear passes; ``_moments``: the moments; ``_hessians``: the loss's
Hessians; ``_kinds``: the backends):

- ``linear_pass`` computes, for one or more coefficient pairs ``(W, b)``,
  the linear predictions ``Z = X @ W + b`` block by block, hands each block to
  a *pointwise* function supplied by the objective (which returns the block's
  loss and residual ``R``), and accumulates ``X.T @ R`` and ``sum(R)``.
  ``X`` is read in row blocks small enough to stay in cache, so one call
  reads ``X`` from memory once, whatever the number of points (their
  coefficients are stacked into one matrix: two products per block), and
  never allocates a temporary larger than a block.
- ``column_moments`` gives the weighted mean and variance (or
  covariance) of each column in one read of ``X``, with the samples'
  weights or with weights computed block by block (the curvature of the
  loss at a point); they only shape the preconditioner (they do not change
  the solution).
- ``information_matrix`` gives the logistic loss's Hessian in the
  coefficients (the Fisher information; binary, or multinomial with the
  classes coupled), and optionally the outer products of the per-row
  scores, in one read of ``X`` (dense or sparse; ``K^2`` covariances): the
  multinomial step metric's and the standard errors' one formula. A dense
  backend's ``class_block_moments`` gives its multinomial diagonal blocks,
  one per class (``K`` covariances), a preconditioner too.

A sparse backend's ``exclusive_column_groups`` reads only the structure of
X: it finds one-hot encoded features, whose covariance the metric keeps.
Every pass counts itself (:func:`counted_passes`).

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

from ._blocks import counted_passes
from ._hessians import Probabilities
from ._kinds import (
    Backend,
    ChunkedBackend,
    DenseBackend,
    DeviceBackend,
    HostBackend,
    SparseBackend,
    backend_for,
)
from ._moments import Reweight
from ._passes import OffsetLabels, Pointwise, pointwise_in_slices, shifted

__all__ = [
    "Backend",
    "ChunkedBackend",
    "DenseBackend",
    "DeviceBackend",
    "HostBackend",
    "OffsetLabels",
    "Pointwise",
    "Probabilities",
    "Reweight",
    "SparseBackend",
    "backend_for",
    "counted_passes",
    "pointwise_in_slices",
    "shifted",
]
