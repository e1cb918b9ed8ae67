"""Dask input: X's row chunks held where they live, one round of tasks a pass.

A fit persists the validated chunks once (:meth:`RowChunks.persist`): on the
workers of the active ``distributed.Client``, or in this process under dask's
local scheduler. Each worker then holds a *shard*: the list of its chunks'
``(X, y, weights)`` arrays. A pass over X (:meth:`RowChunks.map_chunks`) is
one task per worker, run on the worker that holds the shard, which returns one
small result per chunk; the client puts them in chunk order. So a pass costs
one scheduler round trip whatever the number of chunks, and its result does
not depend on which worker ran which chunk.

Every array of a shard is aligned to its item size. distributed deserialises
arrays at arbitrary byte offsets, and numpy runs unaligned arrays through its
slow generic loops instead of BLAS and SIMD: slower, and with other rounding,
so that two fits of the same data would differ in their last bits.
(:func:`_aligned` copies a chunk that is not.)

Predictions stay lazy dask arrays (:func:`map_rows`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.validation import assert_all_finite

from ._backends import OffsetLabels


def is_dask_collection(obj) -> bool:
    """A dask array, DataFrame or Series (dask itself is optional)."""
    return type(obj).__module__.split(".")[0] == "dask"


def as_array(obj):
    """A dask DataFrame or Series as a dask array (row chunk sizes may be unknown)."""
    return obj.to_dask_array() if hasattr(obj, "to_dask_array") else obj


def validated_X(X):
    """X as a 2-D float dask array, chunked by rows only.

    The checks of ``check_array`` that need no pass over the data; the
    values are checked chunk by chunk (:func:`finite_chunks`).
    """
    X = as_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for X, got {X.ndim} dimension(s).")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
        X = X.astype(np.float64)
    if np.isnan(X.shape[1]):
        raise ValueError("X's number of columns must be known.")
    if X.shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            "of 1 is required."
        )
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def _finite(block, input_name: str):
    assert_all_finite(block, input_name=input_name)
    return block


def finite_chunks(X, input_name: str = "X"):
    """``X``, lazily checked: computing it raises scikit-learn's error for
    NaN or infinity, the one ``check_array`` raises in memory."""
    return X.map_blocks(_finite, input_name=input_name, dtype=X.dtype)


def aligned_vector(vector, X, name: str, ndim: int = 1):
    """``vector`` (y, sample_weight, or an offset, 1-D or with ``ndim=2`` one
    column per class) as a dask array chunked like X's rows.

    Where X's or the vector's chunk sizes are unknown (``X[mask]``, a dask
    DataFrame's), :meth:`RowChunks.persist` aligns them once they are known.
    """
    import dask.array as da

    vector = as_array(vector)
    unknown = any(np.isnan(size) for size in X.chunks[0])
    if not is_dask_collection(vector):
        vector = np.asarray(vector)
        if vector.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, got {vector.ndim} dimensions.")
        if not unknown and vector.shape[0] != X.shape[0]:
            raise _length_error(name, vector.shape[0], X.shape[0])
        rows = -1 if unknown else X.chunks[0]
        return da.from_array(vector, chunks=(rows,) + (-1,) * (ndim - 1))
    if ndim == 1 and vector.ndim == 2 and vector.shape[1] == 1:  # as column_or_1d
        warnings.warn(
            f"A column-vector {name} was passed when a 1d array was expected.",
            DataConversionWarning,
            stacklevel=4,
        )
        vector = vector[:, 0]
    if vector.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {vector.ndim} dimensions.")
    if ndim == 2 and vector.numblocks[1] > 1:
        vector = vector.rechunk({1: -1})
    if unknown or any(np.isnan(size) for size in vector.chunks[0]):
        return vector  # aligned by RowChunks.persist
    if vector.shape[0] != X.shape[0]:
        raise _length_error(name, vector.shape[0], X.shape[0])
    if vector.chunks[0] != X.chunks[0]:
        vector = vector.rechunk({0: X.chunks[0]})
    return vector


def _length_error(name: str, entries: int, rows: int) -> ValueError:
    """The error for a vector ``name`` whose length is not X's rows."""
    return ValueError(f"{name} has {entries} entries but X has {rows} rows.")


def unknown_sizes(array) -> bool:
    """Whether dask does not know some of ``array``'s row chunk sizes."""
    return any(np.isnan(size) for size in array.chunks[0])


def _aligned_parts(parts: list[list], names: tuple[str, ...]) -> list[list]:
    """Computed chunks (``parts[0]``: X's; then y's and the weights') with
    each vector's chunks cut at X's row boundaries, in this process.

    Chunk sizes that dask did not know may differ (y filtered apart from X);
    only the totals must match.
    """
    rows = [part.shape[0] for part in parts[0]]
    aligned = [parts[0]]
    for name, vector_parts in zip(names, parts[1:], strict=True):
        if [part.shape[0] for part in vector_parts] != rows:
            vector = np.concatenate(vector_parts)
            if vector.shape[0] != sum(rows):
                raise _length_error(name, vector.shape[0], sum(rows))
            vector_parts = np.split(vector, np.cumsum(rows)[:-1])
        aligned.append(vector_parts)
    return aligned


def _row_counts(arrays: list) -> list[tuple[int, ...]]:
    """Each dask array's chunk sizes along its rows: counted where dask does
    not know them (one small task a chunk, all in one compute), which is
    cheap on persisted arrays."""
    import dask

    counts = [
        [dask.delayed(len)(block) for block in a.to_delayed().ravel()]
        if unknown_sizes(a)
        else a.chunks[0]
        for a in arrays
    ]
    return [tuple(int(n) for n in sizes) for sizes in dask.compute(*counts)]


def _aligned_arrays(arrays: list, names: tuple[str, ...]) -> tuple[list, bool]:
    """Persisted ``arrays`` (X, then the vectors) with each vector rechunked
    to X's row chunks where their sizes differ, and whether any was."""
    import dask.array as da

    sizes = _row_counts(arrays)
    aligned, changed = [arrays[0]], False
    for name, vector, vector_sizes in zip(names, arrays[1:], sizes[1:], strict=True):
        if vector_sizes != sizes[0]:
            if sum(vector_sizes) != sum(sizes[0]):
                raise _length_error(name, sum(vector_sizes), sum(sizes[0]))
            blocks = vector.to_delayed().ravel()
            vector = da.concatenate(
                [
                    da.from_delayed(
                        block, shape=(n, *vector.shape[1:]), dtype=vector.dtype
                    )
                    for block, n in zip(blocks, vector_sizes, strict=True)
                ]
            ).rechunk({0: sizes[0]})
            changed = True
        aligned.append(vector)
    return aligned, changed


def _aligned(array):
    """``array`` itself if it is aligned to its item size, else an aligned copy."""
    if array is None or array.flags.aligned:
        return array
    return np.require(array, requirements=["A"])


# A shard: one worker's chunks, as (X, y, weights) arrays (weights may be
# None; y an OffsetLabels where the rows have offsets).
Shard = list[tuple[Any, Any, Any]]


def _make_shard(X_chunks, y_chunks, w_chunks, offset_chunks=None) -> Shard:
    if w_chunks is None:
        w_chunks = [None] * len(X_chunks)
    if offset_chunks is not None:
        y_chunks = [
            OffsetLabels(y, _aligned(offset))
            for y, offset in zip(y_chunks, offset_chunks, strict=True)
        ]
    return [
        (_aligned(X), y if isinstance(y, OffsetLabels) else _aligned(y), _aligned(w))
        for X, y, w in zip(X_chunks, y_chunks, w_chunks, strict=True)
    ]


def _each_chunk(function, args, shard: Shard) -> list:
    """``function(X, y, weights, *args)`` for each chunk of ``shard``."""
    return [function(X, y, w, *args) for X, y, w in shard]


# The names dask.config's "scheduler" has for a distributed Client.
_DISTRIBUTED = ("dask.distributed", "distributed")


def _client():
    """The distributed Client dask computes on, or None: dask's local
    scheduler, where no Client is active or where ``dask.config`` names a
    local scheduler (``dask.config.set(scheduler="synchronous")``), as
    ``dask.compute`` itself would."""
    try:
        import dask
        from distributed import default_client
    except ImportError:
        return None
    if dask.config.get("scheduler", _DISTRIBUTED[0]) not in _DISTRIBUTED:
        return None
    try:
        return default_client()
    except ValueError:
        return None


class RowChunks:
    """A fit's X, labels and weights, by row chunks, held where they live.

    The objective reads it through :meth:`map_chunks` (see ``_backends``),
    which is all a pass over X needs. ``shape`` and ``dtype`` are X's.
    """

    def __init__(self, shards, groups, workers, client, shape, dtype):
        self._shards = shards  # one per worker: futures, or lists in this process
        self._groups = groups  # each shard's chunk indices, in its order
        self._workers = workers  # each shard's worker (None: this process)
        self._client = client
        self.shape = shape
        self.dtype = np.dtype(dtype)

    @classmethod
    def persist(cls, X, y, sample_weight=None, offset=None) -> RowChunks:
        """Compute the validated dask arrays once and keep their chunks.

        ``X``, ``y``, ``sample_weight`` and ``offset`` (or None) are dask
        arrays with the same row chunks, or with chunk sizes that dask does
        not know: those are aligned to X's rows once computed (only the
        totals must match). On a cluster the chunks stay on the workers that
        computed them; each worker gets one shard of its chunks. With an
        offset, each chunk's labels are ``OffsetLabels``.
        """
        vectors = {"y": y, "sample_weight": sample_weight, "offset": offset}
        vectors = {name: v for name, v in vectors.items() if v is not None}
        arrays, names = [X, *vectors.values()], tuple(vectors)
        client = _client()
        if client is None:  # dask's local scheduler: the chunks, in this process
            import dask

            computed = dask.compute(*[list(a.to_delayed().ravel()) for a in arrays])
            aligned = _aligned_parts(list(computed), names)[1:]
            parts = dict(zip(names, aligned, strict=True))
            shard = _make_shard(
                computed[0], parts["y"], parts.get("sample_weight"), parts.get("offset")
            )
            groups = [list(range(len(shard)))]
            n_rows = sum(part.shape[0] for part in computed[0])
            return cls([shard], groups, [None], None, (n_rows, X.shape[1]), X.dtype)
        from distributed import futures_of, wait

        persisted = client.persist(arrays)
        if any(unknown_sizes(a) for a in persisted):
            aligned, changed = _aligned_arrays(persisted, names)
            if changed:
                # Rechunked from the persisted vectors, whose futures must
                # live until the new graph holds their keys: the new arrays
                # name those keys but do not keep the futures.
                aligned[1:] = client.persist(aligned[1:])
                wait(futures_of(aligned[1:]))
            persisted = aligned
        # futures_of lists a row-chunked array's chunks in order.
        futures = [
            sorted(futures_of(a), key=lambda future: future.key[1]) for a in persisted
        ]
        by_name = dict(zip(names, futures[1:], strict=True))
        wait(futures[0])
        holders = client.who_has(futures[0])
        by_worker: dict[str, list[int]] = {}
        for index, future in enumerate(futures[0]):
            by_worker.setdefault(sorted(holders[future.key])[0], []).append(index)
        workers = sorted(by_worker)
        groups = [by_worker[worker] for worker in workers]

        # One shard per worker, made where the chunks are; a worker may die,
        # and then its work goes elsewhere (allow_other_workers).
        def of(name, group):
            chunks = by_name.get(name)
            return None if chunks is None else [chunks[i] for i in group]

        shards = [
            client.submit(
                _make_shard,
                [futures[0][i] for i in group],
                of("y", group),
                of("sample_weight", group),
                of("offset", group),
                workers=[worker],
                allow_other_workers=True,
                pure=False,
            )
            for worker, group in zip(workers, groups, strict=True)
        ]
        row_chunks = cls(shards, groups, workers, client, (0, X.shape[1]), X.dtype)
        # The number of rows: unknown chunk sizes are known now.
        n_rows = sum(row_chunks.map_chunks(_rows))
        row_chunks.shape = (int(n_rows), X.shape[1])
        return row_chunks

    def _on_shards(self, function, args) -> list:
        """``_each_chunk(function, args, shard)`` for each shard: lists in
        this process, or futures of the tasks on the shards' workers."""
        if self._client is None:
            return [_each_chunk(function, args, shard) for shard in self._shards]
        return [
            self._client.submit(
                _each_chunk,
                function,
                args,
                shard,
                workers=[worker],
                allow_other_workers=True,
                pure=False,
            )
            for shard, worker in zip(self._shards, self._workers, strict=True)
        ]

    def map_chunks(self, function: Callable, *args) -> list:
        """``function(X_chunk, y_chunk, weights_chunk, *args)`` for every
        chunk, in chunk order: one task per worker, one round trip."""
        per_shard = self._on_shards(function, args)
        if self._client is not None:
            per_shard = self._client.gather(per_shard)
        results: list = [None] * sum(len(group) for group in self._groups)
        for group, values in zip(self._groups, per_shard, strict=True):
            for index, value in zip(group, values, strict=True):
                results[index] = value
        return results

    def transformed(self, function: Callable, *args) -> RowChunks:
        """New chunks ``function(X_chunk, y_chunk, weights_chunk, *args) ->
        (X, y, weights)``, computed and kept where the chunks are."""
        shards = self._on_shards(function, args)
        return RowChunks(
            shards, self._groups, self._workers, self._client, self.shape, self.dtype
        )


def _rows(X, y, weights) -> int:
    return X.shape[0]


def map_rows(scores, function, n_columns: int | None):
    """``function(scores)``, lazily by row chunks.

    The result has ``n_columns`` columns, or is 1-D if that is None.
    """
    meta = function(np.zeros((1, *scores.shape[1:]), dtype=scores.dtype))
    if n_columns is None:
        drop = list(range(1, scores.ndim))
        return scores.map_blocks(function, drop_axis=drop, meta=meta[:0])
    chunks = (scores.chunks[0], (n_columns,))
    new_axis = [1] if scores.ndim == 1 else None
    return scores.map_blocks(function, new_axis=new_axis, chunks=chunks, meta=meta[:0])
