"""Dask input: validation, label encoding and weights, without gathering X.

The estimator calls these for dask arrays (and dask DataFrames or Series,
converted to arrays with possibly unknown chunk sizes). Everything stays
lazy except a few small results: the classes, the total weights and the
checks of the first pass. The data backend (``_backends``) then computes
each pass over X as one ``dask.compute`` of per-chunk partial sums.
"""

from __future__ import annotations

import numpy as np

from ._backends import is_dask


def is_dask_collection(obj) -> bool:
    """A dask array, DataFrame or Series (dask itself is optional)."""
    return type(obj).__module__.split(".")[0] == "dask"


def _as_array(obj):
    return obj.to_dask_array() if hasattr(obj, "to_dask_array") else obj


def validated_X(X, n_features: int | None = None):
    """X as a 2-D float dask array, chunked by rows only."""
    X = _as_array(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D dask array for X, got {X.ndim} dimension(s).")
    if X.dtype not in (np.float32, np.float64):
        if X.dtype.kind not in "biuf":
            raise ValueError(f"X must be numeric, got dtype {X.dtype}.")
        X = X.astype(np.float64)
    if np.isnan(X.shape[1]):
        raise ValueError("X's number of columns must be known.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but the estimator was fitted with "
            f"{n_features} features."
        )
    return X


def _aligned(vector, X, name: str):
    """``vector`` (y or sample_weight) as a 1-D dask array chunked like X's rows."""
    import dask.array as da

    vector = _as_array(vector)
    unknown = any(np.isnan(size) for size in X.chunks[0])
    if not is_dask(vector):
        vector = np.asarray(vector)
        if vector.ndim != 1 or unknown or vector.shape[0] != X.shape[0]:
            raise ValueError(
                f"{name} must be 1-D with one entry per row of X (a dask array "
                "chunked like X's rows when X's chunk sizes are unknown)."
            )
        return da.from_array(vector, chunks=(X.chunks[0],))
    if vector.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got {vector.ndim} dimensions.")
    if vector.chunks[0] != X.chunks[0]:
        if unknown or any(np.isnan(size) for size in vector.chunks[0]):
            if vector.numblocks[0] != X.numblocks[0]:
                raise ValueError(f"{name} must be chunked like X's rows.")
        else:
            if vector.shape[0] != X.shape[0]:
                raise ValueError(
                    f"{name} has {vector.shape[0]} entries but X has {X.shape[0]} rows."
                )
            vector = vector.rechunk((X.chunks[0],))
    return vector


def _ones_like(y, dtype):
    return y.map_blocks(lambda block: np.ones(block.shape, dtype=dtype), dtype=dtype)


def _take(values: np.ndarray, codes):
    """``values[codes]``, lazily, chunk by chunk."""
    return codes.map_blocks(values.take, dtype=values.dtype)


def validated_fit_data(X, y, sample_weight, class_weight):
    """Validate and encode dask input for ``fit``, in two small computes.

    Returns ``X``, the class codes, the sample weights (class weights
    folded in), the classes and each class's total weight, as the in-memory
    path does; the estimator checks the classes and normalises the weights.
    """
    import dask
    import dask.array as da

    X = validated_X(X)
    y = _aligned(y, X, "y")
    if sample_weight is None:
        weights = _ones_like(y, X.dtype)
    elif np.ndim(sample_weight) == 0:  # one weight for every sample
        weights = _ones_like(y, X.dtype) * X.dtype.type(sample_weight)
    else:
        weights = _aligned(sample_weight, X, "sample_weight").astype(X.dtype)
    # First pass: the classes and the checks that need all the data.
    classes, finite, finite_weights, negative = dask.compute(
        da.unique(y),
        da.isfinite(X).all(),
        da.isfinite(weights).all(),
        (weights < 0).any(),
    )
    if not finite:
        raise ValueError("Input X contains NaN or infinity.")
    if not finite_weights:
        raise ValueError("sample_weight contains NaN or infinity.")
    if negative:
        raise ValueError("sample_weight has negative values; weights must be >= 0.")
    code_type = np.min_scalar_type(classes.shape[0] - 1)
    codes = y.map_blocks(
        lambda block: np.searchsorted(classes, block).astype(code_type), dtype=code_type
    )
    (class_totals,) = dask.compute(
        da.bincount(codes, weights=weights, minlength=classes.shape[0])
    )
    if not class_totals.any():
        raise ValueError(
            "sample_weight is all zero; at least one sample needs a positive weight."
        )
    if class_weight is not None:
        per_class = _class_weights(class_weight, classes, class_totals)
        weights = weights * _take(per_class.astype(X.dtype), codes)
        class_totals = class_totals * per_class
    return X, codes, weights, classes, class_totals


def _class_weights(class_weight, classes, class_totals) -> np.ndarray:
    """scikit-learn's ``compute_class_weight``, from the classes' total weights."""
    if isinstance(class_weight, str):  # "balanced", as scikit-learn computes it
        return class_totals.sum() / (len(classes) * class_totals)
    from sklearn.utils.class_weight import compute_class_weight

    # A dict does not look at y (only "balanced" does).
    return compute_class_weight(class_weight, classes=classes, y=classes)


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
