"""One adapter per kind of input, chosen once; one set of checks for all.

``fit`` and the predict methods ask :func:`input_adapter` which kind of ``X``
they have, once, and from then on talk to that adapter only:

- :class:`MemoryInput`: numpy arrays, scipy.sparse matrices, lists, pandas;
- :class:`DeviceInput`: arrays of PyTorch, CuPy and other array-API
  libraries under ``array_api_dispatch``, kept on their device;
- :class:`DaskInput`: dask arrays, DataFrames and Series, fitted where their
  chunks live (``_dask``).

Each adapter gives the validated fit data (:class:`FitData`: X, class codes,
normalised weights, classes) and, at predict time, the validated X, the scores
and the mapping of the scores to the method's output. All of them validate
through the same functions below (labels, sample and class weights, the
classes' total weights, feature names and counts, finite values), so a kind
of input cannot skip a check the others make.

Weights are scaled by a power of two (exact) before they are summed, so that
weights up to float64's maximum do not overflow their total.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from numbers import Real
from typing import Any, cast

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import assert_all_finite, validate_data

from . import _dask
from ._array_api import dispatched, host_dtype, like, namespace, on_host, to_numpy
from ._backends import (
    Backend,
    ChunkedBackend,
    DeviceBackend,
    OffsetLabels,
    backend_for,
)
from ._dask import RowChunks, is_dask_collection


@dataclass(frozen=True)
class FitData:
    """What ``fit`` needs of its input, validated.

    ``backend`` holds X and the passes over it, chosen here once by the
    kind of input (see ``_backends``): for dask, X is a
    :class:`_dask.RowChunks`, whose chunks hold the codes and weights too
    (``y`` and ``weights`` are then None). ``y`` holds class codes 0..K-1,
    ``weights`` the sample weights times the class weights, divided by their
    total ``S``.
    ``S = ldexp(total, exponent)`` (see :meth:`inverse_total`).
    """

    backend: Backend
    y: Any
    weights: Any
    classes: np.ndarray
    total: float
    exponent: int
    n_features: int
    feature_names: np.ndarray | None
    # Whether the rows' scores have offsets: ``y`` is then OffsetLabels (for
    # dask, each chunk's labels are).
    shifted: bool = False

    @property
    def X(self) -> Any:
        """X as the backend holds it."""
        return self.backend.X

    def inverse_total(self, C: float) -> float:
        """``1 / (C S)``, the penalty's factor, without overflowing ``S``.

        A clear error where it overflows float64 (``C S`` below about
        1e-308, such as weights of 5e-324): the penalty would be infinite
        and every step NaN. Only ``C S`` matters to the model, so scaling
        the weights up and ``C`` down by the same factor gives the same one.
        """
        with np.errstate(over="ignore", divide="ignore"):
            factor = float(np.ldexp(1.0 / (C * self.total), -self.exponent))
        if not np.isfinite(factor):
            raise ValueError(
                f"C * sum(sample_weight) is too small: C={C!r} times a total "
                f"weight of {np.ldexp(self.total, self.exponent):.3g} makes the "
                "penalty 1 / (C * sum(sample_weight)) overflow float64. "
                "Multiply sample_weight by a constant and divide C by it: the "
                "model is the same."
            )
        return factor


# X, y, sample_weight and offset as the estimators take them: numpy-like,
# scipy.sparse, pandas, dask or array-API arrays; predictions come in X's
# own kind of array.
ArrayInput = Any


# --- The checks and encodings every adapter shares --------------------------


def check_targets(y: np.ndarray) -> None:
    """Class labels (all of them, or their unique values) a classifier accepts.

    A 1-D array of integers or booleans always is (binary or multiclass;
    one class is caught later): ``type_of_target`` would read ``y`` again
    to say so, a fixed cost that is large next to a small fit.
    """
    if y.ndim == 1 and y.dtype.kind in "iub":
        return
    if y.dtype.kind == "f":  # type_of_target would warn before its error
        assert_all_finite(y, input_name="y")
    check_classification_targets(y)


def check_weight_signs(negative: bool) -> None:
    if negative:
        raise ValueError("sample_weight has negative values; weights must be >= 0.")


def weight_exponent(max_weight: float) -> int:
    """The power of two that brings the largest weight into [0.5, 1)."""
    return int(np.frexp(max_weight)[1]) if max_weight > 0 else 0


def _class_weights(class_weight, classes: np.ndarray, totals: np.ndarray):
    """Weights of the classes, from each class's total sample weight."""
    if isinstance(class_weight, str):  # "balanced", as scikit-learn computes it
        # A class without weight stays without: its factor does not matter.
        with np.errstate(divide="ignore"):
            per_class = totals.sum() / (len(classes) * totals)
        return np.where(totals > 0, per_class, 0.0)
    # A dict does not look at y (only "balanced" does).
    per_class = compute_class_weight(class_weight, classes=classes, y=classes)
    per_class = np.asarray(per_class, dtype=np.float64)
    if not np.isfinite(per_class).all() or (per_class < 0).any():
        bad = {
            label: value
            for label, value in zip(classes.tolist(), per_class.tolist(), strict=True)
            if not (np.isfinite(value) and value >= 0)
        }
        raise ValueError(f"class_weight must be finite and non-negative; got {bad}.")
    return per_class


def class_totals(
    class_weight, classes: np.ndarray, totals: np.ndarray
) -> tuple[np.ndarray | None, float]:
    """The class weights (None without) and the total weight ``S``.

    ``totals`` are each class's total sample weight. Raises the errors for
    all-zero weights and for fewer than two classes with weight.
    """
    if classes.shape[0] < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, "
            f"but the data contains only one class: {classes[0]!r}."
        )
    if not totals.any():
        raise ValueError(
            "sample_weight is all zero; at least one sample needs a positive weight."
        )
    per_class = None
    if class_weight is not None:
        per_class = _class_weights(class_weight, classes, totals)
        totals = totals * per_class
    if np.count_nonzero(totals) < 2:
        raise ValueError(
            "Only one class has a non-zero total weight after sample_weight "
            "and class_weight are applied; at least 2 classes are needed."
        )
    return per_class, float(totals.sum())


def normalise(weights, codes, per_class, total: float):
    """``weights`` (scaled by the fit's power of two; a new array of X's
    type, modified) times the class weights, divided by their total."""
    if per_class is not None:
        weights *= per_class.astype(weights.dtype)[codes]
    weights /= total
    return weights


def _codes(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Class codes in the smallest integer type: one byte below 256 classes."""
    return np.searchsorted(classes, y).astype(np.min_scalar_type(len(classes) - 1))


def _label_totals(y: np.ndarray, weights: np.ndarray):
    """The sorted labels of ``y``, its codes and each label's total weight."""
    # Not np.unique(y, return_inverse=True): it holds five arrays of
    # len(y) at once, and memory during fit is meant to stay small.
    labels = np.unique(y)
    codes = _codes(labels, y)
    totals = np.zeros(labels.shape[0])
    np.add.at(totals, codes, weights)  # bincount would copy the codes
    return labels, codes, totals


def _sample_weights(sample_weight, n_samples: int, dtype) -> np.ndarray:
    """Sample weights as a new float array; a clear error for anything invalid."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    if isinstance(sample_weight, Real):
        sample_weight = np.full(n_samples, sample_weight)
    weights = check_array(
        sample_weight,
        ensure_2d=False,
        dtype=dtype,
        copy=True,  # scaled in place
        input_name="sample_weight",
    )
    if weights.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weights.shape}; expected ({n_samples},), "
            "one weight per sample."
        )
    check_weight_signs(bool((weights < 0).any()))
    return weights


def check_offset(offset, n_samples: int, n_classes: int, dtype) -> np.ndarray | None:
    """An offset as a float array of ``dtype``: one value a sample for two
    classes, one a sample and class for more; None for None. A clear error
    for anything else (NaN or infinite values, another shape)."""
    if offset is None:
        return None
    check_offset_kind(offset)
    offset = check_array(offset, ensure_2d=False, dtype=dtype, input_name="offset")
    check_offset_shape(offset.shape, n_samples, n_classes)
    return offset


def check_offset_kind(offset) -> None:
    """Refuse an offset of anything but real numbers (dates, strings,
    complex numbers, objects), which a cast to float would not refuse."""
    dtype = getattr(offset, "dtype", None)
    kind = (np.asarray(offset) if dtype is None else offset).dtype.kind
    if kind not in "biuf":
        raise ValueError(f"offset must hold real numbers, got dtype kind {kind!r}.")


def check_offset_shape(shape: tuple, n_samples: int, n_classes: int) -> None:
    """The offset's shape: ``(n_samples,)`` for two classes, ``(n_samples,
    n_classes)`` for more."""
    expected = (n_samples,) if n_classes == 2 else (n_samples, n_classes)
    if tuple(shape) == expected:
        return
    if n_classes > 2 and tuple(shape) == (n_samples,):
        raise ValueError(
            f"offset has shape {tuple(shape)}, one value per sample, but the "
            f"model has {n_classes} classes: an offset added to every class's "
            "scores alike changes no probability. Give one column per class, "
            f"shape {expected}."
        )
    raise ValueError(
        f"offset has shape {tuple(shape)}; expected {expected} (one value per "
        "sample for two classes, one per sample and class for more)."
    )


def encode_on_host(y: np.ndarray, sample_weight, dtype, class_weight):
    """Codes, normalised weights, classes, total and exponent, for numpy ``y``."""
    check_targets(y)
    weights = _sample_weights(sample_weight, y.shape[0], dtype)
    exponent = weight_exponent(float(weights.max()))
    np.ldexp(weights, -exponent, out=weights)
    classes, codes, totals = _label_totals(y, weights)
    per_class, total = class_totals(class_weight, classes, totals)
    normalise(weights, codes, per_class, total)
    return codes, weights, classes, total, exponent


def _scores(X, coef, intercept):
    scores = X @ coef.T + intercept
    return scores[:, 0] if scores.shape[1] == 1 else scores


# --- The adapters ------------------------------------------------------------


class MemoryInput:
    """numpy arrays, scipy.sparse (CSR, CSC), lists, pandas: the numpy path."""

    def fit_data(
        self, checker, X, y, sample_weight, class_weight, offset=None
    ) -> FitData:
        # A dense X's values are checked by the fit's first read of it, the
        # moments of its columns (see _backends' Backend._assert_finite),
        # not by a read of their own, unless some weight is zero (a row of
        # weight zero does not reach the moments); a sparse X's here.
        X, y = validate_data(
            checker,
            X,
            on_host(y),
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            ensure_all_finite=False,
        )
        codes, weights, classes, total, exponent = encode_on_host(
            y, on_host(sample_weight), X.dtype, class_weight
        )
        if sp.issparse(X) or not weights.all():
            assert_all_finite(X, input_name="X", estimator_name=type(checker).__name__)
        offset = check_offset(on_host(offset), X.shape[0], len(classes), X.dtype)
        labels = codes if offset is None else OffsetLabels(codes, offset)
        return FitData(
            backend_for(X),
            labels,
            weights,
            classes,
            total,
            exponent,
            *_names(checker),
            shifted=offset is not None,
        )

    def predict_X(self, model, X):
        return validate_data(
            model,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )

    def scores(self, X, coef, intercept):
        return _scores(X, to_numpy(coef), to_numpy(intercept))

    def shifted(self, scores, offset, n_classes: int):
        """``scores`` plus a checked ``offset`` (None: the scores)."""
        if offset is None:
            return scores
        return scores + check_offset(
            on_host(offset), scores.shape[0], n_classes, scores.dtype
        )

    def apply(self, scores, function, n_columns):
        return function(scores)


def _refuse_complex(X, xp) -> None:
    """The error numpy's complex X gets: a cast to a real dtype (as
    ``validate_data`` makes in other namespaces) would drop the imaginary
    part without a word."""
    if xp.isdtype(X.dtype, "complex floating"):
        raise ValueError(f"Complex data not supported: X has dtype {X.dtype}.")


class DeviceInput(MemoryInput):
    """Arrays of another array-API library (PyTorch, CuPy), on their device.

    X is validated in its own namespace; the labels are encoded on the host
    (as ``classes_`` of strings must be), their codes and the weights then
    move to X's device.
    """

    def fit_data(
        self, checker, X, y, sample_weight, class_weight, offset=None
    ) -> FitData:
        xp = namespace(X)
        _refuse_complex(X, xp)
        X = validate_data(checker, X, dtype=[xp.float64, xp.float32])
        y = column_or_1d(to_numpy(y), warn=True)
        check_consistent_length(X, y)
        codes, weights, classes, total, exponent = encode_on_host(
            y, on_host(sample_weight), host_dtype(X), class_weight
        )
        offset = check_offset(on_host(offset), X.shape[0], len(classes), host_dtype(X))
        # int64 codes: PyTorch indexes with nothing else.
        labels = like(codes, X, np.int64)
        if offset is not None:
            labels = OffsetLabels(labels, like(offset, X))
        return FitData(
            DeviceBackend(X),
            labels,
            like(weights, X),
            classes,
            total,
            exponent,
            *_names(checker),
            shifted=offset is not None,
        )

    def predict_X(self, model, X):
        xp = namespace(X)
        _refuse_complex(X, xp)
        return validate_data(model, X, dtype=[xp.float64, xp.float32], reset=False)

    def scores(self, X, coef, intercept):
        xp = namespace(X)
        return _scores(X, xp.astype(coef, X.dtype), xp.astype(intercept, X.dtype))

    def shifted(self, scores, offset, n_classes: int):
        if offset is None:
            return scores
        checked = check_offset(
            on_host(offset), scores.shape[0], n_classes, host_dtype(scores)
        )
        return scores + like(cast(np.ndarray, checked), scores)


class DaskInput:
    """dask arrays, DataFrames and Series: fitted where the chunks live.

    ``fit`` persists the validated chunks (:class:`_dask.RowChunks`), checks
    them in one pass (finite values, weights, the labels' unique values and
    totals), then encodes them in place; predictions are lazy dask arrays,
    checked chunk by chunk as they are computed.
    """

    def fit_data(
        self, checker, X, y, sample_weight, class_weight, offset=None
    ) -> FitData:
        _check_names(checker, X, reset=True)
        X = _dask.validated_X(X)
        y = _dask.aligned_vector(y, X, "y")
        if offset is not None:
            offset = _aligned_offset(offset, X)
        if sample_weight is not None:
            if np.ndim(sample_weight) == 0:  # one weight for every sample
                value = X.dtype.type(sample_weight)
                sample_weight = y.map_blocks(
                    partial(_filled, value=value), dtype=X.dtype
                )
            else:
                sample_weight = _dask.aligned_vector(sample_weight, X, "sample_weight")
                sample_weight = sample_weight.astype(X.dtype)
        chunks = RowChunks.persist(X, y, sample_weight, offset)
        if chunks.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={chunks.shape}) while a "
                "minimum of 1 is required."
            )
        parts = [part for part in chunks.map_chunks(_chunk_summary) if part]
        check_weight_signs(any(negative for *_, negative in parts))
        classes = np.unique(np.concatenate([labels for labels, *_ in parts]))
        check_targets(classes)
        exponent = max(part_exponent for _, _, part_exponent, _ in parts)
        totals = np.zeros(classes.shape[0])
        for labels, part_totals, part_exponent, _ in parts:
            totals[np.searchsorted(classes, labels)] += np.ldexp(
                part_totals, part_exponent - exponent
            )
        per_class, total = class_totals(class_weight, classes, totals)
        if offset is not None:
            check_offset_shape(
                (chunks.shape[0], *offset.shape[1:]), chunks.shape[0], len(classes)
            )
        chunks = chunks.transformed(_encode_chunk, classes, exponent, per_class, total)
        return FitData(
            ChunkedBackend(chunks),
            None,
            None,
            classes,
            total,
            exponent,
            *_names(checker),
            shifted=offset is not None,
        )

    def predict_X(self, model, X):
        _check_names(model, X, reset=False)
        return _dask.finite_chunks(_dask.validated_X(X))

    def scores(self, X, coef, intercept):
        coef = to_numpy(coef).astype(X.dtype)
        return _scores(X, coef, to_numpy(intercept).astype(X.dtype))

    def shifted(self, scores, offset, n_classes: int):
        if offset is None:
            return scores
        offset = _aligned_offset(offset, scores)
        if _dask.unknown_sizes(scores) or _dask.unknown_sizes(offset):
            # Rows that cannot be matched until computed: refused, not
            # broadcast.
            raise ValueError(
                "offset with dask input needs X's (and the offset's) row "
                "chunk sizes: call X.compute_chunk_sizes(), or "
                "to_dask_array(lengths=True) for a DataFrame, first."
            )
        check_offset_shape(offset.shape, scores.shape[0], n_classes)
        checked = _dask.finite_chunks(offset, "offset").astype(scores.dtype)
        return scores + checked

    def apply(self, scores, function, n_columns):
        return _dask.map_rows(scores, function, n_columns)


def _aligned_offset(offset, rows):
    """A dask offset of real numbers chunked like ``rows`` (X, or its
    scores): 1-D, or 2-D with one column per class (an offset of more
    dimensions is refused as 2-D)."""
    check_offset_kind(offset)
    ndim = min(max(np.ndim(offset), 1), 2)
    return _dask.aligned_vector(offset, rows, "offset", ndim=ndim)


def _filled(block, value):
    return np.full(block.shape, value)


def _chunk_summary(X, y, weights):
    """The checks and label totals of one chunk (None if it has no rows):
    its labels, their total weights scaled by ``2**-exponent``, that
    exponent and whether a weight is negative."""
    assert_all_finite(X, input_name="X")
    if isinstance(y, OffsetLabels):
        assert_all_finite(y.offset, input_name="offset")
        y = y.y
    if y.shape[0] == 0:
        return None
    if weights is None:
        weights = np.ones(y.shape[0])
    assert_all_finite(weights, input_name="sample_weight")
    negative = bool((weights < 0).any())
    exponent = weight_exponent(float(weights.max()))
    labels, _, totals = _label_totals(y, np.ldexp(weights, -exponent))
    return labels, totals, exponent, negative


def _encode_chunk(X, y, weights, classes, exponent, per_class, total):
    """One chunk's ``(X, codes, normalised weights)`` (codes with their
    offsets, in X's dtype, where the labels have them)."""
    offset = None
    if isinstance(y, OffsetLabels):
        y, offset = y.y, y.offset.astype(X.dtype)
    codes = _codes(classes, y)
    if weights is None:
        weights = np.ones(y.shape[0], dtype=X.dtype)
    else:
        weights = weights.astype(X.dtype)  # a copy: normalised in place
    np.ldexp(weights, -exponent, out=weights)
    weights = normalise(weights, codes, per_class, total)
    return X, codes if offset is None else OffsetLabels(codes, offset), weights


def _check_names(estimator, X, reset: bool) -> None:
    """Feature names (a DataFrame's columns) and count, as ``validate_data``
    checks them, without reading a dask collection's data."""
    if hasattr(X, "columns") and hasattr(X, "_meta"):  # a dask DataFrame
        X = X._meta  # an empty pandas DataFrame with X's columns
    elif X.ndim != 2 or np.isnan(X.shape[1]):
        return  # _dask.validated_X says what is wrong
    validate_data(estimator, X, skip_check_array=True, reset=reset)


def _names(checker) -> tuple[int, np.ndarray | None]:
    """``n_features_in_`` and ``feature_names_in_`` that validation set."""
    return checker.n_features_in_, getattr(checker, "feature_names_in_", None)


def input_adapter(X):
    """The adapter of ``X``'s kind of input."""
    if is_dask_collection(X):
        return DaskInput()
    if dispatched(X):
        return DeviceInput()
    return MemoryInput()
