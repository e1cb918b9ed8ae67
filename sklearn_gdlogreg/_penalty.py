"""The estimators' per-feature penalty factors and coefficient bounds,
checked once and laid out as the solver's ``W`` (rows: features; columns:
outputs): what the objective's penalty and the proximal step read."""

from __future__ import annotations

import numpy as np

from ._array_api import to_numpy


def _as_float_array(value, name: str) -> np.ndarray:
    expected = f"{name} must be a real number or an array of real numbers"
    try:
        array = np.asarray(to_numpy(value))
    except (TypeError, ValueError) as error:  # ragged lists, ...
        raise TypeError(f"{expected}, got {type(value).__name__}.") from error
    if array.dtype.kind not in "biuf":  # strings, complex, dates, objects
        raise TypeError(f"{expected}, got {type(value).__name__} of {array.dtype}.")
    return array.astype(np.float64)


def penalty_factors(value, n_features: int) -> np.ndarray | None:
    """``penalty_factor`` as a float64 array of shape (n_features,), or
    None where it is None (every feature's factor 1)."""
    if value is None:
        return None
    factor = _as_float_array(value, "penalty_factor")
    if factor.shape != (n_features,):
        raise ValueError(
            f"penalty_factor must have one value per feature, shape "
            f"({n_features},); got shape {factor.shape}."
        )
    if not np.isfinite(factor).all() or (factor < 0).any():
        bad = np.flatnonzero(~(np.isfinite(factor) & (factor >= 0)))
        raise ValueError(
            "penalty_factor must be finite and non-negative; features "
            f"{bad[:10].tolist()} are not."
        )
    return factor


def _side(value, name: str, n_features: int, n_outputs: int, fill: float):
    """One side of the box as an array of the solver's W shape (n_features,
    n_outputs)."""
    shape = (n_features, n_outputs)
    if value is None:
        return np.full(shape, fill)
    side = _as_float_array(value, name)
    if np.isnan(side).any():
        raise ValueError(f"{name} must not contain NaN.")
    if side.ndim == 0:
        return np.full(shape, float(side))
    if side.shape == (n_features,):
        return np.repeat(side[:, None], n_outputs, axis=1)
    if side.shape == (n_outputs, n_features):
        return np.ascontiguousarray(side.T)
    by_class = "" if n_outputs == 1 else f", or ({n_outputs}, {n_features}) by class"
    raise ValueError(
        f"{name} must be a number or an array of shape ({n_features},)"
        f"{by_class}; got shape {side.shape}."
    )


def coefficient_bounds(
    lower, upper, n_features: int, n_outputs: int, dtype=np.float64
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(lower, upper)`` bounds of the coefficients ``W`` (not the
    intercepts), each of shape (n_features, n_outputs), float64, infinite
    where a side is free; None where both are None.

    Rounded inwards to numbers of the coefficients' ``dtype`` (float32 for
    float32 data): the box of the coefficients a fit can hold, so that a
    coefficient clipped to a bound is on it, not a rounding outside."""
    if lower is None and upper is None:
        return None
    low = _side(lower, "lower_bounds", n_features, n_outputs, -np.inf)
    high = _side(upper, "upper_bounds", n_features, n_outputs, np.inf)
    if (low == np.inf).any() or (high == -np.inf).any():
        raise ValueError(
            "lower_bounds must not be +inf, nor upper_bounds -inf: no "
            "coefficient can meet them."
        )
    largest = float(np.finfo(dtype).max)
    if (low > largest).any() or (high < -largest).any():
        raise ValueError(
            f"lower_bounds and upper_bounds must lie within {np.dtype(dtype)}'s "
            f"range (the coefficients' type): +-{largest:.4g}."
        )
    low, high = _inwards(low, dtype, np.inf), _inwards(high, dtype, -np.inf)
    crossed = low > high
    if crossed.any():
        feature = int(np.argwhere(crossed)[0][0])
        raise ValueError(
            "lower_bounds must not be above upper_bounds: they are for "
            f"feature {feature} ({low[crossed][0]} > {high[crossed][0]})."
        )
    if np.isinf(low).all() and np.isinf(high).all():
        return None
    return low, high


def _inwards(side: np.ndarray, dtype, towards: float) -> np.ndarray:
    """``side`` as numbers of ``dtype`` (back in float64), each rounded
    ``towards`` the inside of the box where it is not one already."""
    rounded = side.astype(dtype)
    outside = rounded < side if towards > 0 else rounded > side
    inside = np.nextafter(rounded, np.asarray(towards, dtype=dtype))
    return np.where(outside, inside, rounded).astype(np.float64)


def start_in_box(
    start: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray] | None,
    n_features: int,
    warm: bool,
) -> np.ndarray:
    """The coefficients a fit starts from, in the box: zeros clipped into it
    (a cold start), or a warm start's coefficients, which must lie in it."""
    if bounds is None:
        return start
    W = start[:n_features]
    if not warm:
        np.clip(W, *bounds, out=W)
        return start
    outside = (W < bounds[0]) | (W > bounds[1])
    if outside.any():
        features = np.flatnonzero(outside.any(axis=1))
        raise ValueError(
            "warm_start: the previous fit's coefficients lie outside "
            f"lower_bounds and upper_bounds (features {features[:10].tolist()}). "
            "Fit without warm_start, or with bounds that hold them."
        )
    return start
